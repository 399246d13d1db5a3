"""A run directory end to end: its contents, resume, Ctrl-C, exact relaunch, eval and plot."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import psutil
import pytest
from cli_fixtures import SYLLABUS, TINY, cli_env, header, live_session_processes, read_csv, syllabus
from timeouts import scaled


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A tiny CartPole PLR run under multiprocessing sync, with interval checkpoints."""
    root = tmp_path_factory.mktemp("runs")
    run_dir = root / "run"
    syllabus("train", *TINY, "logger.checkpoint_interval=256", f"hydra.run.dir={run_dir}", cwd=root)
    return run_dir


@pytest.mark.timeout(150)
def test_run_dir_layout(finished_run):
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        assert (finished_run / ".hydra" / name).exists()
    meta = json.loads((finished_run / "meta.json").read_text())
    assert meta["status"] == "completed" and meta["seed"] == 0 and meta["steps"] >= 512
    assert meta["command"].startswith("syllabus train total_timesteps=512")
    assert meta["packages"]["stable-baselines3"] and meta["packages"]["torch"]
    assert set(meta["experiment"]["git"]) == {"commit", "dirty"}
    assert meta["experiment"]["directory"] == str(finished_run.parent)  # where `syllabus` was launched
    assert meta["syllabus"]["distribution"] == "syllabus-curriculum" and meta["syllabus"]["version"]
    assert meta["start_time"] <= meta["end_time"] and meta["host"]
    logs = finished_run / "logs"
    assert header(logs / "progress.csv") == [
        "step", "time", "steps_per_sec", "episodes", "episode_return_mean", "episode_length_mean"
    ]  # fmt: skip
    assert header(logs / "episodes.csv") == ["step", "env_id", "task", "episode_return", "episode_length"]
    assert header(logs / "curriculum.csv") == ["step", "metric", "value"]
    progress = read_csv(logs / "progress.csv")
    assert [int(r["step"]) for r in progress] == [256, 512]
    episodes = read_csv(logs / "episodes.csv")
    assert int(progress[-1]["episodes"]) == len(episodes)
    assert {r["env_id"] for r in episodes} == {"0", "1"}
    assert all(
        float(r["episode_return"]) == int(r["episode_length"]) for r in episodes
    )  # CartPole pays 1/step
    metrics = {r["metric"] for r in read_csv(logs / "curriculum.csv")}
    assert {"curriculum/task_entropy", "stats/episodes"} <= metrics
    assert any(p.name.startswith("events.out.tfevents") for p in (logs / "tb").iterdir())
    checkpoints = {p.name for p in (finished_run / "checkpoints").iterdir()}
    assert checkpoints == {"step_256", "final"}
    for name in ("model.zip", "curriculum.pkl", "trainer.pkl"):
        assert (finished_run / "checkpoints" / "final" / name).exists()


@pytest.mark.timeout(150)
@pytest.mark.slow
def test_resume_continues_model_curriculum_and_logs(finished_run, tmp_path):
    from stable_baselines3 import PPO

    run = shutil.copytree(finished_run, tmp_path / "run")  # the shared run stays as other tests expect it

    before = PPO.load(run / "checkpoints" / "final" / "model.zip")
    episodes_before = read_csv(run / "logs" / "episodes.csv")
    syllabus("train", "--resume", str(run), "total_timesteps=1024", "--quiet", cwd=tmp_path)
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "completed" and meta["steps"] >= 1024
    assert [r["from_step"] for r in meta["resumes"]] == [512]
    assert "total_timesteps: 1024" in (run / ".hydra" / "config.yaml").read_text()
    assert "- total_timesteps=512" in (run / ".hydra" / "overrides.yaml").read_text()  # the original
    progress = read_csv(run / "logs" / "progress.csv")
    assert [int(r["step"]) for r in progress] == [256, 512, 768, 1024]
    assert [float(r["time"]) for r in progress] == sorted(float(r["time"]) for r in progress)
    episodes = read_csv(run / "logs" / "episodes.csv")
    assert episodes[: len(episodes_before)] == episodes_before
    assert int(progress[-1]["episodes"]) == len(episodes)
    after = PPO.load(run / "checkpoints" / "final" / "model.zip")
    assert after.num_timesteps == 1024
    assert after._n_updates == before._n_updates * 2  # optimizer state went on: 2 more rollouts x n_epochs
    # Resuming a finished run does nothing.
    result = syllabus("train", "--resume", str(run), "total_timesteps=1024", cwd=tmp_path)
    assert "already at step 1024" in result.stdout + result.stderr


@pytest.mark.timeout(150)
def test_eval_writes_results_into_the_run(finished_run, tmp_path):
    out = syllabus("eval", str(finished_run), "-n", "1", cwd=tmp_path).stdout
    assert "5 training tasks" in out and "greedy return" in out and "sampled return" in out
    greedy, sampled = (
        json.loads((finished_run / "eval" / f"final-{mode}-seed12345.json").read_text())
        for mode in ("greedy", "sampled")
    )
    assert (greedy["checkpoint"], greedy["mode"], sampled["mode"]) == ("final", "greedy", "sampled")
    assert greedy["step"] >= 512 and greedy["seed"] == 12345 and greedy["episodes_per_task"] == 1
    assert set(greedy["tasks"]) == {"0.02", "0.05", "0.1", "0.15", "0.2"}
    assert greedy["episodes"] == 5 and greedy["mean_return"] > 0 and 0 <= greedy["success_rate"] <= 1
    # Another seed is another file: the first evaluation stays.
    syllabus("eval", str(finished_run), "-n", "1", "--seed", "7", "--mode", "sampled", cwd=tmp_path)
    assert sorted(p.name for p in (finished_run / "eval").iterdir()) == [
        "final-greedy-seed12345.json",
        "final-sampled-seed12345.json",
        "final-sampled-seed7.json",
    ]


@pytest.mark.timeout(150)
def test_plot_writes_pngs(finished_run, tmp_path):
    out = syllabus("plot", str(finished_run), "--out", str(tmp_path / "cmp"), cwd=tmp_path).stdout
    written = [Path(line) for line in out.splitlines()]
    assert written[0] == tmp_path / "cmp" / "learning_curves.png"
    assert finished_run / "plots" / "task_distribution.png" in written
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.timeout(60)
def test_commands_reject_a_directory_that_is_not_a_run(tmp_path):
    for command, message in (("eval", "holds no runs"), ("plot", "is not a run directory")):
        result = syllabus(command, str(tmp_path), cwd=tmp_path, check=False)
        assert result.returncode == 2
        assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.timeout(150)
@pytest.mark.slow
def test_sync_none_relaunch_from_saved_config_reproduces_episodes(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    syllabus("train", "sync=none", *TINY, "logger=csv", f"hydra.run.dir={first}", cwd=tmp_path)
    syllabus(
        "train",
        "--config-dir",
        str(first / ".hydra"),
        "--config-name",
        "config",
        f"hydra.run.dir={second}",
        cwd=tmp_path,
    )
    episodes = read_csv(first / "logs" / "episodes.csv")
    assert len(episodes) > 10 and len({r["task"] for r in episodes}) > 1
    assert read_csv(second / "logs" / "episodes.csv") == episodes


@pytest.mark.timeout(150)
@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_leaves_no_process_and_resumes(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [*SYLLABUS, "train", "total_timesteps=100000", "num_envs=2", "logger.log_interval=256",
         f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        lines = []
        for line in proc.stdout:  # bounded by the test timeout; the run logs every 256 steps
            lines.append(line)
            if "step 512/100000" in line:
                break
        else:
            pytest.fail("the run ended before logging progress:\n" + "".join(lines))
        os.killpg(proc.pid, signal.SIGINT)  # like Ctrl-C in a terminal: the whole process group
        rest, _ = proc.communicate(timeout=scaled(60))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(scaled(10))
    assert proc.returncode == 130, "".join(lines) + rest
    assert "interrupted at step" in rest
    _, alive = psutil.wait_procs(live_session_processes(proc.pid), timeout=scaled(15))
    assert not alive, f"processes of the run outlived it: {alive}"
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "interrupted"
    (checkpoint,) = (run_dir / "checkpoints").iterdir()
    assert checkpoint.name == f"step_{meta['steps']}" and meta["steps"] >= 512
    syllabus("train", "--resume", str(run_dir), f"total_timesteps={meta['steps'] + 256}", cwd=tmp_path)
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "completed" and (run_dir / "checkpoints" / "final").is_dir()


# ----------------------------------------------------- run-directory safety


class _FakeModel:
    """Saves a minimal SB3-like archive into a checkpoint directory, enough for verify_checkpoint."""

    def save(self, directory: Path) -> None:
        import zipfile

        with zipfile.ZipFile(directory / "model.zip", "w") as archive:
            archive.writestr("data", "{}")
            archive.writestr("policy.pth", b"weights")


def test_replacing_final_never_leaves_a_moment_without_a_valid_checkpoint(tmp_path, monkeypatch):
    from syllabus.cli import run_dir as rd

    rd.save_checkpoint(tmp_path, rd.FINAL, _FakeModel(), None, rd.TrainerState(num_timesteps=100))
    real_replace = os.replace
    calls = []

    def interrupted_replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # after the old final moved aside, before the new one takes its name
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(rd.os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        rd.save_checkpoint(tmp_path, rd.FINAL, _FakeModel(), None, rd.TrainerState(num_timesteps=200))
    latest = rd.latest_checkpoint(tmp_path)
    assert latest == tmp_path / "checkpoints" / "step_100"
    assert rd.verify_checkpoint(latest, curriculum=False).num_timesteps == 100
    monkeypatch.setattr(rd.os, "replace", real_replace)
    rd.save_checkpoint(tmp_path, rd.FINAL, _FakeModel(), None, rd.TrainerState(num_timesteps=200))
    assert rd.latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "final"
    assert {p.name for p in (tmp_path / "checkpoints").iterdir()} == {"final", "step_100"}


def test_run_dir_lock_refuses_a_second_holder_naming_the_first(tmp_path):
    from syllabus.cli.errors import RunDirError
    from syllabus.cli.run_lock import RunDirLock

    with RunDirLock(tmp_path):
        with pytest.raises(RunDirError, match=f"in use by another syllabus process \\(PID {os.getpid()}\\)"):
            RunDirLock(tmp_path).acquire()
    with RunDirLock(tmp_path):  # released
        pass


@pytest.fixture
def run_copy(finished_run, tmp_path) -> Path:
    """A copy of the finished run that a test may damage."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    return copy


@pytest.mark.timeout(150)
@pytest.mark.parametrize("damaged", ["model.zip", "trainer.pkl", "curriculum.pkl"])
def test_damaged_checkpoint_is_named_on_eval_and_skipped_on_resume(run_copy, tmp_path, damaged):
    path = run_copy / "checkpoints" / "final" / damaged
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated
    before = {p: p.read_bytes() for p in (run_copy / ".hydra" / "config.yaml", run_copy / "meta.json")}
    if damaged != "curriculum.pkl":  # eval does not read the curriculum
        result = syllabus("eval", str(run_copy), cwd=tmp_path, check=False)
        assert result.returncode == 2, result.stderr
        assert f"{damaged} is truncated or corrupt" in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert {p: p.read_bytes() for p in before} == before
    # Resume falls back to the newest whole checkpoint (step_256; the run is already there) and says so.
    result = syllabus("train", "--resume", str(run_copy), "total_timesteps=256", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert f"skipping damaged checkpoint {run_copy / 'checkpoints' / 'final'}" in output, output
    assert f"{damaged} is truncated or corrupt" in output and "using step_256" in output, output
    assert "is already at step 256" in output, output


@pytest.mark.timeout(150)
@pytest.mark.parametrize("override", ["+curriculum=dr", "curriculum=dr", "~curriculum"])
def test_resume_refuses_a_changed_group_whatever_the_override_syntax(run_copy, tmp_path, override):
    before = {p: p.read_bytes() for p in (run_copy / ".hydra" / "config.yaml", run_copy / "meta.json")}
    result = syllabus("train", "--resume", str(run_copy), override, cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    group = override.lstrip("+~").split("=")[0]
    assert result.stderr.startswith(f"syllabus train: error: --resume cannot change the {group}"), (
        result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert {p: p.read_bytes() for p in before} == before


@pytest.mark.timeout(150)
def test_resume_of_a_run_without_a_checkpoint_trains_it_from_the_start(tmp_path):
    """The SLURM requeue pattern: a job killed before its first checkpoint resumes with the same command."""
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    config = syllabus("train", *TINY, "total_timesteps=256", "--cfg", "job", cwd=tmp_path).stdout
    (run / ".hydra" / "config.yaml").write_text(config)
    (run / "meta.json").write_text(json.dumps({"status": "running", "resumes": []}))  # what SIGKILL leaves
    result = syllabus("train", "--resume", str(run), cwd=tmp_path)
    assert "has no checkpoint yet: --resume trains it from step 0" in result.stdout + result.stderr
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "completed" and meta["resumes"][-1]["from_step"] == 0
    assert (run / "checkpoints" / "final").is_dir()


@pytest.mark.timeout(150)
def test_refused_resume_and_new_run_leave_the_run_untouched(run_copy, tmp_path):
    before = {p: p.read_bytes() for p in (run_copy / ".hydra" / "config.yaml", run_copy / "meta.json")}
    result = syllabus("train", "--resume", str(run_copy), "env.tasks=[0.1]", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "--resume cannot change env.tasks" in result.stderr
    result = syllabus("train", f"hydra.run.dir={run_copy}", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "already holds a run (status: completed)" in result.stderr
    assert {p: p.read_bytes() for p in before} == before
    assert not [p for p in run_copy.iterdir() if p.name.startswith(".hydra-pending")]


@pytest.mark.timeout(60)
def test_eval_and_plot_of_a_run_without_checkpoint_or_logs(tmp_path):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text(syllabus("train", "--cfg", "job", cwd=tmp_path).stdout)
    result = syllabus("eval", str(run), cwd=tmp_path, check=False)
    assert (
        result.returncode == 2
        and "has no checkpoint yet" in result.stderr
        and "Traceback" not in result.stderr
    )
    result = syllabus("plot", str(run), cwd=tmp_path, check=False)
    assert result.returncode == 2 and "has no logs to plot" in result.stderr
    (tmp_path / "file.png").write_text("")
    result = syllabus("plot", str(run), "--out", str(tmp_path / "file.png"), cwd=tmp_path, check=False)
    assert result.returncode == 2 and "is a file; give a directory" in result.stderr
