"""syllabus.cli.run_data: one reader of run directories for plot and compare, and one rule for seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from syllabus.cli.compare.metrics import group_runs as compare_groups
from syllabus.cli.errors import RunDataError
from syllabus.cli.plot.learning_curves import group_runs as plot_groups
from syllabus.cli.run_data import differing_keys, flatten, is_seed_override, load_run


def write_run(root: Path, name: str, config: dict, overrides: list[str], episodes: str | None) -> Path:
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if episodes is not None:
        (run / "logs").mkdir()
        (run / "logs" / "episodes.csv").write_text(episodes)
    return run


def test_episodes_are_kept_in_file_order_and_sorted_on_request(tmp_path):
    csv = "step,env_id,task,episode_return,episode_length\n20,0,a,2.0,5\n10,1,b,,5\n20,1,c,3.0,5\n"
    run = load_run(write_run(tmp_path, "run", {"seed": 0}, [], csv))
    assert run.tasks == ["a", "b", "c"] and run.episode_steps.tolist() == [20, 10, 20]
    assert np.isnan(run.episode_returns[1])  # an empty cell is NaN
    steps, returns = run.episodes_by_step()
    assert steps.tolist() == [10, 20, 20] and returns[1:].tolist() == [2.0, 3.0]  # ties keep file order


def test_a_run_without_episodes_is_an_error_unless_allowed(tmp_path):
    path = write_run(tmp_path, "run", {"seed": 0, "env": {"name": "cartpole"}}, ["seed=0"], None)
    with pytest.raises(RunDataError, match="not a Syllabus run directory: .*episodes.csv is missing"):
        load_run(path)
    run = load_run(path, episodes_required=False)
    assert run.tasks == [] and run.episode_steps.size == 0 and run.evals == []
    assert run.flat_config == {"seed": 0, "env.name": "cartpole"}


def test_flatten_keeps_lists_as_leaves():
    assert flatten({"a": {"b": [1, 2], "c": {"d": None}}, "e": 3}) == {"a.b": [1, 2], "a.c.d": None, "e": 3}


def test_a_seed_at_any_depth_is_a_seed():
    assert all(is_seed_override(o) for o in ("seed=1", "+seed=1", "~seed", "env.seed=2", "learner.seed.x=3"))
    assert not any(is_seed_override(o) for o in ("seeds=[1,2]", "env.seeds=null", "curriculum=plr"))


def test_plot_and_compare_group_seeds_alike(tmp_path):
    """Runs that differ only in seeds (top-level or nested) are one group in both; another lr is another."""
    csv = "step,env_id,task,episode_return,episode_length\n10,0,a,1.0,5\n"
    runs = [
        load_run(write_run(tmp_path, name, config, overrides, csv))
        for name, config, overrides in (
            ("a", {"seed": 0, "env": {"seed": 5}, "lr": 0.1}, ["seed=0", "env.seed=5"]),
            ("b", {"seed": 1, "env": {"seed": 6}, "lr": 0.1}, ["seed=1", "env.seed=6"]),
            ("c", {"seed": 0, "env": {"seed": 5}, "lr": 0.2}, ["seed=0", "env.seed=5", "lr=0.2"]),
        )
    ]
    assert differing_keys(runs) == ["lr"]
    assert [[run.path.name for run in group.runs] for group in plot_groups(runs)] == [["a", "b"], ["c"]]
    groups = compare_groups(runs)
    assert [[run.path.name for run in members] for members in groups.values()] == [["a", "b"], ["c"]]
    assert list(groups) == ["lr=0.1", "lr=0.2"]
