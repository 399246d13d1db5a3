"""The runner's multi-agent env: ``syllabus train env=mpe`` (one SB3 policy shared by the agents), then eval."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest
from cli_fixtures import cli_env, read_csv, syllabus
from timeouts import scaled

TINY_MPE = [
    "env=mpe",
    "curriculum=dr",
    "total_timesteps=600",
    "num_envs=2",
    "learner.n_steps=50",
    "learner.n_minibatches=4",
    "logger.log_interval=300",
]


def check_run(run_dir) -> None:
    """Every agent's episode reached the curriculum once, with the task the learner logged; eval ran."""
    episodes = read_csv(run_dir / "logs" / "episodes.csv")  # one row per agent episode (entry e*3+i)
    with open(run_dir / "checkpoints" / "final" / "curriculum.pkl", "rb") as f:
        state = pickle.load(f)
    assert state["curriculum"] == "MultiagentSharedCurriculumWrapper"
    stats = state["inner"]["stats"]
    assert stats["episodes"] == len(episodes) == 600 // 25
    per_task = {}
    for row in episodes:
        per_task[float(row["task"])] = per_task.get(float(row["task"]), 0) + 1
    assert {task: count for task, (count, _, _) in stats["returns"].items()} == {
        [0.5, 1.0, 1.5, 2.0].index(task): count for task, count in per_task.items()
    }


@pytest.mark.timeout(240)
def test_mpe_dr_trains_in_process_then_evaluates(tmp_path):
    run_dir = tmp_path / "mpe"
    syllabus("train", *TINY_MPE, "sync=none", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    check_run(run_dir)
    out = syllabus("eval", str(run_dir), "--episodes-per-task", "1", cwd=tmp_path).stdout
    assert "1 episode on each of 4 training tasks" in out
    for mode in ("greedy", "sampled"):
        (path,) = (run_dir / "eval").glob(f"final-{mode}-seed*.json")
        result = json.loads(path.read_text())
        assert set(result["tasks"]) == {"0.5", "1.0", "1.5", "2.0"}


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("sync", ["multiprocessing", "ray"])
def test_mpe_dr_trains_with_env_processes(tmp_path, sync):
    run_dir = tmp_path / "mpe"
    extra = ["sync.num_cpus=2"] if sync == "ray" else []
    syllabus(
        "train",
        *TINY_MPE,
        f"sync={sync}",
        *extra,
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        timeout=scaled(250),
    )
    progress = read_csv(run_dir / "logs" / "progress.csv")
    assert int(progress[-1]["step"]) >= 600
    assert len(read_csv(run_dir / "logs" / "episodes.csv")) == 600 // 25


MISTAKES = [
    (
        ["env.tasks=[1.0,0]"],
        "env.tasks: an MPE task is the half-width of the start square and must be > 0, got 0",
    ),
    (["env.local_ratio=2"], "env.local_ratio must be in [0, 1], got 2.0"),
    (["learner=rllib_ppo", "sync=ray"], "env=mpe trains with learner=sb3_ppo"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("args", "expected"), MISTAKES)
def test_mpe_mistakes_are_one_line_and_exit_2(tmp_path, args, expected):
    result = syllabus(
        "train", "env=mpe", *args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.timeout(60)
def test_missing_mpe2_names_the_mpe_extra(tmp_path):
    code = "import sys; sys.modules['mpe2'] = None; from syllabus.cli.app import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "train", "env=mpe", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=scaled(50),
    )
    assert result.returncode == 2
    assert 'pip install "syllabus-curriculum[mpe]"' in result.stderr
    assert "Traceback" not in result.stderr
