"""`syllabus train learner=rllib_ppo sync=ray` end to end in subprocesses: train, resume, eval, plot,
other envs, joining a running cluster, and the refusal of any sync but Ray (Ctrl-C is in
test_cli_signals.py). Each run but the one that joins a cluster starts and stops its own private Ray."""

from __future__ import annotations

import json
import os
import pickle
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import psutil
import pytest
from cli_fixtures import SYLLABUS, cli_env, read_csv
from hydra import compose, initialize_config_dir
from process_resources import children_named
from syllabus.cli.hydra_app import CONFIG_DIR
from syllabus.cli.schema import ConfigError, validate
from timeouts import scaled

MARKER = "SYLLABUS_TEST_RUN"  # inherited by every process the run starts, Ray's included
CARTPOLE_TASKS = {"0.02", "0.05", "0.1", "0.15", "0.2"}
# Two iterations of 256 env steps on one env runner with two envs, a tiny model.
TINY_RLLIB = [
    "sync=ray",
    "learner=rllib_ppo",
    "num_envs=2",
    "total_timesteps=512",
    "learner.train_batch_size=256",
    "learner.minibatch_size=128",
    "learner.num_epochs=2",
    "learner.model={fcnet_hiddens:[16,16]}",
    "logger.log_interval=256",
]
EVALUATION = ["learner.evaluation_interval=1", "learner.evaluation_duration=2"]


def marked_processes(marker: str) -> list[psutil.Process]:
    """Processes whose environment carries ``MARKER=marker``: the run and everything it started."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARKER) == marker:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def train(tmp_path: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Runs ``syllabus ARGS`` and checks that it left no process behind (its private Ray included)."""
    marker = uuid.uuid4().hex
    env = {**cli_env(), MARKER: marker, "HOME": str(tmp_path / "home")}
    env.pop("RAY_AUTH_TOKEN", None)
    env.pop("RAY_ADDRESS", None)
    result = subprocess.run(
        [*SYLLABUS, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(240) if timeout is None else timeout,
    )
    _, alive = psutil.wait_procs(marked_processes(marker), timeout=scaled(15))
    assert not alive, f"processes left by the run: {alive}"
    return result


def ok(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"exit code {result.returncode}\n{output}"
    return output


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_rllib_run_trains_resumes_evaluates_and_plots(tmp_path):
    run_dir = tmp_path / "run"
    output = ok(train(tmp_path, "train", "curriculum=plr", *TINY_RLLIB, f"hydra.run.dir={run_dir}"))
    assert "started a private local Ray for this run" in output
    assert re.search(r"step \d+/512 \(\d+%\) \| \d+ steps/s \| return ", output), output  # as SB3 runs
    assert "done: " in output

    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "completed" and meta["steps"] >= 512
    episodes = read_csv(run_dir / "logs" / "episodes.csv")
    assert episodes and {row["task"] for row in episodes} <= CARTPOLE_TASKS
    assert {int(row["env_id"]) for row in episodes} <= {0, 1}
    assert all(
        int(row["episode_length"]) == float(row["episode_return"]) for row in episodes
    )  # CartPole: +1/step
    progress = read_csv(run_dir / "logs" / "progress.csv")
    assert all(int(row["step"]) >= 256 for row in progress) and int(progress[-1]["step"]) == meta["steps"]
    assert int(progress[-1]["episodes"]) == len(episodes)
    final = run_dir / "checkpoints" / "final"
    assert (final / "rllib" / "learner_group").is_dir()
    with open(final / "curriculum.pkl", "rb") as f:
        state = pickle.load(f)
    assert np.any(state["plr"]["scored"])  # PLR got PPO's value estimates through the feeder
    # RLlib's checkpoint loads on its own, in a fresh process, with the run's curriculum state.
    fresh = f"""
import ray
from ray.rllib.algorithms.algorithm import Algorithm
from syllabus.integrations.rllib import curriculum_of
ray.init(num_cpus=2, include_dashboard=False, logging_level="error")
algo = Algorithm.from_checkpoint({str(final / "rllib")!r})
print("SCORES", list(curriculum_of(algo).scores))
algo.stop()
ray.shutdown()
"""
    loaded = subprocess.run(
        [sys.executable, "-c", fresh],
        capture_output=True,
        text=True,
        timeout=scaled(300),
        env={**os.environ, "RAY_AUTH_TOKEN": secrets.token_hex(16)},
    )
    assert loaded.returncode == 0, loaded.stdout[-3000:] + loaded.stderr[-3000:]
    (line,) = [line for line in loaded.stdout.splitlines() if line.startswith("SCORES")]
    expected = np.where(state["plr"]["scored"], state["plr"]["scores"], np.nan)
    np.testing.assert_array_equal(np.array(eval(line[len("SCORES") :]), dtype=np.float64), expected)  # noqa: S307

    # --resume continues from the checkpoint: steps, episodes and the curriculum carry on.
    output = ok(train(tmp_path, "train", "--resume", str(run_dir), "total_timesteps=1024", "--quiet"))
    assert "resuming" in output
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "completed" and meta["steps"] >= 1024 and meta["resumes"][0]["from_step"] >= 512
    resumed = read_csv(run_dir / "logs" / "progress.csv")
    assert int(resumed[-1]["step"]) == meta["steps"] and int(resumed[-1]["episodes"]) > int(
        progress[-1]["episodes"]
    )

    result = ok(
        train(
            tmp_path,
            "eval",
            str(run_dir),
            "--episodes-per-task",
            "1",
            "--mode",
            "greedy",
            timeout=scaled(180),
        )
    )
    report = json.loads((run_dir / "eval" / "final-greedy-seed12345.json").read_text())
    assert report["checkpoint"] == "final" and report["episodes"] == len(CARTPOLE_TASKS)
    assert report["mean_return"] > 0, result

    ok(train(tmp_path, "plot", str(run_dir), timeout=scaled(120)))
    assert list((run_dir / "plots").glob("*.png"))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_rllib_trains_on_procgen_and_evaluates_on_held_out_levels(tmp_path):
    run_dir = tmp_path / "run"
    # Procgen's 64x64 images get RLlib's default CNN in front of the tiny MLP.
    args = ["train", "curriculum=plr", *TINY_RLLIB, "env=procgen", "env.num_levels=4", "env.eval_num_levels=2",
            *EVALUATION, f"hydra.run.dir={run_dir}"]  # fmt: skip
    output = ok(train(tmp_path, *args, timeout=scaled(540)))
    assert "evaluation at step" in output  # on the held-out tasks, without the curriculum
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "completed" and meta["steps"] >= 512
    assert (run_dir / "checkpoints" / "final" / "rllib").is_dir()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sync", ["multiprocessing", "none"])
def test_rllib_needs_sync_ray(sync):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        cfg = compose("train", overrides=["learner=rllib_ppo", f"sync={sync}"])
    with pytest.raises(ConfigError, match=f"learner=rllib_ppo needs sync=ray .*got sync={sync}"):
        validate(cfg)


@pytest.mark.timeout(120)
def test_rllib_with_another_sync_exits_2_with_one_line(tmp_path):
    result = subprocess.run(
        [*SYLLABUS, "train", "learner=rllib_ppo", "sync=multiprocessing", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=scaled(100),
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        "syllabus train: error: learner=rllib_ppo needs sync=ray (RLlib's env runners are Ray actors), "
        "got sync=multiprocessing; add sync=ray, or use learner=sb3_ppo"
    ]


@pytest.mark.timeout(60)
def test_rllib_sizes_are_checked():
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        uneven = compose(
            "train", overrides=["learner=rllib_ppo", "sync=ray", "num_envs=3", "learner.num_env_runners=2"]
        )
        batch = compose("train", overrides=["learner=rllib_ppo", "sync=ray", "learner.minibatch_size=4096"])
        updates = compose("train", overrides=["learner=rllib_ppo", "sync=ray", "learner.batch_size=0"])
        prefetch = compose("train", overrides=["learner=rllib_ppo", "sync=ray", "learner.prefetch=-1"])
    with pytest.raises(ConfigError, match="learner.batch_size must be >= 1, got 0"):
        validate(updates)
    with pytest.raises(ConfigError, match="learner.prefetch must be >= 0, got -1"):
        validate(prefetch)
    with pytest.raises(ConfigError, match="num_envs=3 must be a multiple of learner.num_env_runners=2"):
        validate(uneven)
    with pytest.raises(
        ConfigError, match="learner.minibatch_size=4096 must be <= learner.train_batch_size=2048"
    ):
        validate(batch)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_rllib_run_joins_a_running_cluster_trains_on_minigrid_and_leaves_the_cluster_running(tmp_path):
    """Joins a running cluster; on MiniGrid, with evaluation on the held-out tasks (one run for both)."""
    import ray
    from ray_fixtures import local_ray

    with local_ray():
        address = ray.get_runtime_context().gcs_address
        run_dir = tmp_path / "run"
        result = subprocess.run(
            [*SYLLABUS, "train", "curriculum=plr", *TINY_RLLIB, "env=minigrid", *EVALUATION,
             f"sync.address={address}", f"hydra.run.dir={run_dir}"],
            cwd=tmp_path, env={**cli_env(), "RAY_AUTH_MODE": "token"}, capture_output=True, text=True,
            timeout=scaled(360),
        )  # fmt: skip
        output = ok(result)
        assert "private local Ray" not in output
        assert "evaluation at step" in output  # on the held-out tasks, without the curriculum
        assert ray.get(ray.remote(lambda: "alive").remote(), timeout=scaled(60)) == "alive"
        actors = children_named("ray::SingleAgentEnvRunner", "ray::_CurriculumActor")
        _, alive = psutil.wait_procs(actors, timeout=scaled(15))
        assert not alive, f"the run's actors are still alive in the cluster: {alive}"
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "completed" and meta["steps"] >= 512
    assert (run_dir / "checkpoints" / "final" / "rllib").is_dir()
