"""syllabus.cli.plot.self_play: which evaluation the win-rate panel marks, and its PNG."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml
from syllabus.cli.plot import plot_runs
from syllabus.cli.plot.self_play import SELF_PLAY_PNG, final_evaluation
from syllabus.cli.run_data import load_run


def write_connect_four_run(root: Path, evaluations: dict[str, tuple[int, float]]) -> Path:
    """A self-play run directory: config, 40 games against pool ids 0, 1, 2, greedy evaluations per checkpoint
    (``checkpoint -> (step, win rate against random)``, two evaluation seeds each)."""
    run = root / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / "logs").mkdir()
    (run / "eval").mkdir()
    config = {
        "seed": 0,
        "env": {"name": "connect_four", "initial_opponents": ["random", "greedy"]},
        "curriculum": {"name": "sp"},
    }
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    with open(run / "logs" / "episodes.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "env_id", "task", "episode_return", "episode_length"])
        for game in range(40):
            writer.writerow([10 * (game + 1), 0, game % 3, (game % 3) - 1, 20])
    for checkpoint, (step, win_rate) in evaluations.items():
        for seed in (1, 2):
            result = {
                "checkpoint": checkpoint,
                "step": step,
                "mode": "greedy",
                "seed": seed,
                "mean_return": 0.0,
                "success_rate": None,
                "tasks": {"random": {"win_rate": win_rate + seed / 100, "episodes": 10}},
            }
            (run / "eval" / f"{checkpoint}-greedy-seed{seed}.json").write_text(json.dumps(result))
    return run


def test_the_evaluation_of_the_checkpoint_with_the_most_steps_is_marked(tmp_path):
    # "step_200-..." sorts after "final-..." by name; the final checkpoint has the most steps.
    run = write_connect_four_run(tmp_path, {"final": (400, 0.9), "step_200": (200, 0.2)})
    assert final_evaluation(load_run(run).evals) == {"random": {"win_rate": 0.92, "episodes": 10}}
    assert final_evaluation([]) == {}


def test_plot_runs_writes_the_self_play_png(tmp_path):
    run = write_connect_four_run(tmp_path, {"final": (400, 0.9)})
    written = plot_runs([run])
    assert run / "plots" / SELF_PLAY_PNG in written
    assert (run / "plots" / SELF_PLAY_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
