"""`syllabus compare` on synthetic runs with known statistics, checked against rliable called directly."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from cli_fixtures import syllabus
from syllabus.cli import compare as comparing

TASKS = ["0.05", "0.1", "0.2"]


def make_run(
    root: Path,
    name: str,
    *,
    curriculum: str,
    seed: int,
    eval_returns: list[float],
    train_return: float,
    env: str = "cartpole",
    tasks: list[str] = TASKS,
) -> Path:
    """A run directory as the runner writes it: config, overrides, episodes and one greedy evaluation."""
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    config = {
        "seed": seed,
        "total_timesteps": 1000,
        "env": {"name": env, "tasks": [0.05, 0.1, 0.2], "success_threshold": 195.0},
        "curriculum": {"name": curriculum},
    }
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (run / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump([f"curriculum={curriculum}", f"seed={seed}"])
    )
    (run / "logs").mkdir()
    with open(run / "logs" / "episodes.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "env_id", "task", "episode_return", "episode_length"])
        for k in range(1, 101):  # the last tenth of the episodes all return train_return
            writer.writerow([10 * k, 0, "0.1", train_return if k > 90 else 0.0, 10])
    result = {
        "checkpoint": "final",
        "step": 1000,
        "mode": "greedy",
        "seed": 12345,
        "episodes_per_task": 1,
        "mean_return": float(np.mean(eval_returns)),
        "success_rate": None,
        "tasks": {
            t: {"mean_return": r, "success_rate": None} for t, r in zip(tasks, eval_returns, strict=True)
        },
    }
    (run / "eval").mkdir()
    (run / "eval" / "final-greedy-seed12345.json").write_text(json.dumps(result))
    return run


@pytest.fixture
def sweep(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    """Two curricula x 8 seeds; eval scores (runs x tasks) drawn at random, training returns 1..8."""
    rng = np.random.default_rng(0)
    scores = {"dr": rng.uniform(0, 100, (8, 3)), "plr": rng.uniform(20, 120, (8, 3))}
    root = tmp_path / "sweep"
    job = 0
    for curriculum, matrix in scores.items():
        for seed, row in enumerate(matrix):
            make_run(
                root,
                str(job),
                curriculum=curriculum,
                seed=seed,
                eval_returns=list(row),
                train_return=seed + 1.0,
            )
            job += 1
    return root, scores


def test_compare_matches_rliable(sweep):
    from rliable import library, metrics

    root, scores = sweep
    runs = [comparing.load_run(p) for p in sorted(root.iterdir(), key=lambda p: int(p.name))]
    result = comparing.compare(runs, root / "compare", reps=500, seed=3)
    assert list(result.groups) == ["curriculum=dr", "curriculum=plr"]
    by_key = {(e.metric, e.group): e for e in result.estimates}
    for name, matrix in scores.items():
        np.random.seed(3)  # rliable's stratified bootstrap draws from numpy's global generator
        points, intervals = library.get_interval_estimates(
            {name: matrix},
            lambda x: np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)]),
            reps=500,
            random_state=np.random.RandomState(3),
        )
        e = by_key[("eval greedy return", f"curriculum={name}")]
        assert e.runs == 8
        assert e.iqm == pytest.approx((points[name][0], intervals[name][0][0], intervals[name][1][0]))
        assert e.mean == pytest.approx((points[name][1], intervals[name][0][1], intervals[name][1][1]))
        assert e.iqm[1] < e.iqm[0] < e.iqm[2]
        # Training returns 1..8: the IQM is the mean of the middle half, 3..6.
        assert by_key[("train return", f"curriculum={name}")].iqm[0] == pytest.approx(4.5)
        assert by_key[("train success", f"curriculum={name}")].mean[0] == 0.0
    np.random.seed(3)
    points, intervals = library.get_interval_estimates(
        {"xy": (scores["dr"], scores["plr"])},
        lambda x, y: np.array([metrics.probability_of_improvement(x, y)]),
        reps=500,
        random_state=np.random.RandomState(3),
    )
    expected = (points["xy"][0], intervals["xy"][0][0], intervals["xy"][1][0])
    improvement = result.improvement[("eval greedy return", "curriculum=dr", "curriculum=plr")]
    reverse = result.improvement[("eval greedy return", "curriculum=plr", "curriculum=dr")]
    assert improvement == pytest.approx(expected) and improvement[0] < 0.5  # plr's scores are higher
    assert reverse == pytest.approx((1 - expected[0], 1 - expected[2], 1 - expected[1]))


def test_compare_command_writes_tables_and_plots(sweep, tmp_path):
    root, _ = sweep
    out = syllabus("compare", str(root), "--reps", "200", "--by", "curriculum.name", cwd=tmp_path).stdout
    assert "curriculum.name=dr" in out and "P(row > column)" in out
    for name in comparing.COMPARISON_FILES:
        assert (root / "compare" / name).stat().st_size > 0
    for name in ("learning_curves.png", "intervals.png"):
        assert (root / "compare" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(open(root / "compare" / "compare.csv")))
    assert {(r["metric"], r["group"], r["runs"]) for r in rows} >= {
        ("train return", "curriculum.name=plr", "8")
    }
    assert "| eval greedy return | curriculum.name=dr | 8 |" in (root / "compare" / "compare.md").read_text()


def test_compare_refuses_empty_dirs_and_incomparable_runs(tmp_path):
    (tmp_path / "empty").mkdir()
    result = syllabus("compare", str(tmp_path / "empty"), cwd=tmp_path, check=False)
    assert result.returncode == 2 and "holds no runs" in result.stderr and "Traceback" not in result.stderr
    make_run(tmp_path / "a", "0", curriculum="dr", seed=0, eval_returns=[1, 2, 3], train_return=1)
    make_run(
        tmp_path / "a", "1", curriculum="dr", seed=1, eval_returns=[1, 2, 3], train_return=1, env="minigrid"
    )
    result = syllabus("compare", str(tmp_path / "a"), cwd=tmp_path, check=False)
    assert (
        result.returncode == 2
        and "env.name is cartpole" in result.stderr
        and len(result.stderr.splitlines()) == 1
    )
    make_run(tmp_path / "b", "0", curriculum="dr", seed=0, eval_returns=[1, 2, 3], train_return=1)
    make_run(
        tmp_path / "b",
        "1",
        curriculum="plr",
        seed=0,
        eval_returns=[1, 2],
        train_return=1,
        tasks=["0.05", "0.1"],
    )
    result = syllabus("compare", str(tmp_path / "b"), cwd=tmp_path, check=False)
    assert result.returncode == 2 and "evaluated on different task sets" in result.stderr
    result = syllabus("compare", str(tmp_path / "a" / "0"), "--by", "nope", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "--by nope: no run has that config key" in result.stderr
