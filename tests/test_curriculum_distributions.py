"""`syllabus train` per curriculum: the training episodes' tasks follow the curriculum's distribution.

Each test trains briefly in a subprocess and reads ``logs/episodes.csv`` (the task of every finished
episode, in order). Procgen runs use ``leaper`` (random-policy episodes of ~100 steps) and an MLP policy:
the agent does not matter here, only which tasks the episodes play. Uniformity is checked with a
chi-square statistic against its 0.999 quantile, so a correct run fails about once in a thousand seeds;
the runs are seeded, so a given test is deterministic up to sync timing.
"""

from __future__ import annotations

import json
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from cli_fixtures import read_csv, syllabus
from timeouts import scaled

# 0.999 quantiles of the chi-square distribution with df degrees of freedom.
CHI2_999 = {4: 18.467, 9: 27.877, 19: 43.820}
CARTPOLE_TASKS = ["0.02", "0.05", "0.1", "0.15", "0.2"]
PROCGEN = [
    "env=procgen",
    "env.game=leaper",
    "learner.policy=MlpPolicy",
    "learner.n_epochs=1",
    "num_envs=4",
    "learner.n_steps=256",
    "total_timesteps=8192",
]
CARTPOLE = ["env=cartpole", "num_envs=2", "learner.n_steps=256", "total_timesteps=4096"]


def train(tmp_path: Path, *overrides: str, timeout: float | None = None) -> tuple[list[str], Path, str]:
    """Runs ``syllabus train`` with ``overrides``; returns the tasks of its episodes in order, the run dir
    and what the run printed."""
    run_dir = tmp_path / "run"
    result = syllabus(
        "train",
        *overrides,
        "logger=csv",
        "logger.log_interval=512",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        timeout=scaled(280) if timeout is None else timeout,
    )
    tasks = [row["task"] for row in read_csv(run_dir / "logs" / "episodes.csv")]
    return tasks, run_dir, result.stdout + result.stderr


def chi_square(tasks: list[str], support: list[str], probs: np.ndarray | None = None) -> float:
    """Pearson's statistic of the task counts against ``probs`` over ``support`` (uniform by default)."""
    observed = np.array([tasks.count(task) for task in support], dtype=float)
    expected = len(tasks) * (np.full(len(support), 1 / len(support)) if probs is None else probs)
    return float(((observed - expected) ** 2 / expected).sum())


def logged_expectation(run_dir: Path, support: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Observed task counts of the episodes between the first and last log row, and the counts the
    curriculum's logged distributions predict: each episode weighted by the mean of the distributions
    logged at the two ends of its log interval (``curriculum.csv``)."""
    rows = read_csv(run_dir / "logs" / "curriculum.csv")
    probs = {(int(row["step"]), row["metric"]): float(row["value"]) for row in rows}
    steps = sorted({step for step, _ in probs})
    dist = {
        step: np.array([probs.get((step, f"curriculum/task_{t}_prob"), 0.0) for t in support])
        for step in steps
    }
    assert len(steps) >= 4 and all(np.isclose(d.sum(), 1.0) for d in dist.values()), "every task is logged"
    episodes = [(int(row["step"]), row["task"]) for row in read_csv(run_dir / "logs" / "episodes.csv")]
    observed, expected = np.zeros(len(support)), np.zeros(len(support))
    for start, end in pairwise(steps):
        tasks = [task for step, task in episodes if start < step <= end]
        for task in tasks:
            observed[support.index(task)] += 1
        expected += len(tasks) * (dist[start] + dist[end]) / 2
    return observed, expected


def total_variation(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance between the normalized counts ``a`` and ``b``."""
    return float(np.abs(a / a.sum() - b / b.sum()).sum() / 2)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_none_on_procgen_plays_levels_drawn_uniformly(tmp_path):
    """No curriculum: each env reset draws a level uniformly from num_levels, like procgen itself.

    Also what the run prints: procgen-mirror pulls in old gym, which prints an "unmaintained" banner in
    every process importing it; the run's 4 env processes must not print it 4 times."""
    tasks, _, output = train(tmp_path, "curriculum=none", *PROCGEN, "env.num_levels=20")
    levels = [str(level) for level in range(20)]
    assert len(tasks) >= 40 and set(tasks) <= set(levels)
    assert len(set(tasks)) >= 15  # not level 0 forever
    assert chi_square(tasks, levels) < CHI2_999[19]
    assert output.count("Gym has been unmaintained") <= 1, output


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_constant_plays_its_one_task(tmp_path):
    tasks, _, _ = train(tmp_path, "curriculum=constant", "curriculum.task_index=3", *CARTPOLE, "sync=none")
    assert len(tasks) >= 20 and set(tasks) == {"0.15"}


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_dr_plays_tasks_uniformly(tmp_path):
    tasks, run_dir, _ = train(tmp_path, "curriculum=dr", *CARTPOLE)
    assert len(tasks) >= 60 and set(tasks) == set(CARTPOLE_TASKS)
    assert chi_square(tasks, CARTPOLE_TASKS) < CHI2_999[4]
    _, expected = logged_expectation(run_dir, CARTPOLE_TASKS)
    np.testing.assert_allclose(expected / expected.sum(), 0.2)  # the distribution DR reports


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_sequential_plays_its_stages_in_order(tmp_path):
    """The sequential config's stages cover the first 2, 4 and 5 tasks; each lasts 20 episodes here."""
    tasks, _, _ = train(
        tmp_path,
        "curriculum=sequential",
        'curriculum.stopping_conditions=["episodes>=20","episodes>=20"]',
        *CARTPOLE,
        "sync=none",
    )
    # Each of the 2 envs holds its next task (prefetch 1) when a stage ends: up to 4 late episodes.
    slack = 4
    assert len(tasks) >= 60
    assert set(tasks[: 20 - slack]) <= set(CARTPOLE_TASKS[:2])
    assert set(tasks[: 40 - slack]) <= set(CARTPOLE_TASKS[:4])
    assert set(tasks[20 + slack : 40 - slack]) & set(CARTPOLE_TASKS[2:4])  # stage 1 adds 0.1 and 0.15
    assert "0.2" in tasks[40 + slack :]  # only the last stage has it


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("curriculum", ["plr", "robust_plr"])
def test_plr_tries_every_level_then_replays_the_best_scored(tmp_path, curriculum):
    """PLR (and Robust PLR) first visit unseen levels, then replay high-scoring ones far more than uniformly.

    The PLR run is then evaluated on the two held-out levels after its 10 training levels."""
    tasks, run_dir, _ = train(
        tmp_path,
        f"curriculum={curriculum}",
        *PROCGEN,
        "env.num_levels=10",
        "env.eval_num_levels=2",
        "sync=none",
    )
    counts = Counter(tasks)
    assert len(tasks) >= 40 and len(counts) == 10  # every level visited
    assert counts.most_common(1)[0][1] >= 2 * len(tasks) / 10  # replays concentrate on a few levels
    assert chi_square(tasks, [str(level) for level in range(10)]) > CHI2_999[9]  # far from uniform
    metrics = {row["metric"] for row in read_csv(run_dir / "logs" / "curriculum.csv")}
    assert "curriculum/task_entropy" in metrics
    if curriculum != "plr":
        return
    args = ["eval", str(run_dir), "--episodes-per-task", "1", "--mode", "greedy"]
    assert "held-out" in syllabus(*args, cwd=tmp_path, timeout=scaled(140)).stdout
    result = json.loads((run_dir / "eval" / "final-greedy-seed12345.json").read_text())
    assert set(result["tasks"]) == {"10", "11"} and result["episodes"] == 2


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("curriculum", ["lp", "learnability"])
def test_success_based_curricula_play_their_logged_distribution(tmp_path, curriculum):
    """Learning progress and learnability on CartPole (success: return >= 30): the episodes' tasks follow
    the distribution the curriculum reports as it changes over the run."""
    tasks, run_dir, _ = train(tmp_path, f"curriculum={curriculum}", *CARTPOLE, "env.success_threshold=30")
    assert len(tasks) >= 60 and set(tasks) <= set(CARTPOLE_TASKS)
    observed, expected = logged_expectation(run_dir, CARTPOLE_TASKS)
    assert observed.sum() >= 40
    # Distributions change within a log interval and episodes use tasks sampled one episode ahead:
    # a loose bound, far below the distance of a wrong distribution (e.g. uniform vs learnability's).
    assert total_variation(observed, expected) < 0.2
