"""syllabus.cli.plot and syllabus.cli.run_data: learning curves of run directories side by side, and each run's task distribution."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import yaml
from cli_fixtures import syllabus
from syllabus.cli.errors import RunDataError
from syllabus.cli.plot import plot_runs
from syllabus.cli.plot.axes import task_order
from syllabus.cli.plot.curriculum import per_task_state, plot_curriculum
from syllabus.cli.plot.learning_curves import (
    RunGroup,
    default_window,
    group_curve,
    group_runs,
    plot_learning_curves,
    smooth,
)
from syllabus.cli.plot.task_distribution import (
    is_continuous,
    plot_task_distribution,
    task_heatmap,
    task_shares,
)
from syllabus.cli.run_data import load_curriculum_log, load_curriculum_state, load_evals, load_run

from syllabus.curricula import Learnability, LearningProgress, PrioritizedLevelReplay
from syllabus.task_space import DiscreteTaskSpace

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LOG_EVERY = 2048


def write_run(
    root: Path,
    name: str,
    *,
    curriculum: str = "dr",
    seed: int = 0,
    overrides: list[str] | None = None,
    tasks: list | None = None,
    total_steps: int = 40 * LOG_EVERY,
    slope: float = 1.0,
    extra: dict | None = None,
) -> Path:
    """A run directory as the runner writes it: composed config, overrides, progress and episodes CSVs.

    Episode ``i`` of ``tasks`` ends at an evenly spaced step with return ``10 + slope * step / 1000``
    plus unit Gaussian noise.
    """
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    (run / "logs").mkdir()
    config = {
        "seed": seed,
        "total_timesteps": total_steps,
        "num_envs": 4,
        "env": {"name": "cartpole", "task_space": "box"},
        "curriculum": {"name": curriculum},
        "sync": {"name": "multiprocessing"},
        **(extra or {}),
    }
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    if overrides is None:
        overrides = ["env=cartpole", f"curriculum={curriculum}", f"seed={seed}"]
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    rng = np.random.default_rng(seed)
    with open(run / "logs" / "episodes.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "env_id", "task", "episode_return", "episode_length"])
        for i, task in enumerate(tasks or []):
            step = (i + 1) * total_steps // len(tasks)
            writer.writerow([step, i % 4, task, 10 + slope * step / 1000 + rng.normal(), 50])
    with open(run / "logs" / "progress.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["step", "time", "steps_per_sec", "episodes", "episode_return_mean", "episode_length_mean"]
        )
        for row, step in enumerate(range(LOG_EVERY, total_steps + 1, LOG_EVERY)):
            mean = "" if row < 2 or not tasks else 10 + slope * step / 1000 + rng.normal()
            writer.writerow([step, step / 900, 900.0, row * 10, mean, "" if mean == "" else 50.0])
    return run


def categorical_tasks(n: int = 400, seed: int = 0) -> list[str]:
    """Discrete tasks drifting from "easy" to harder ones, plus a long tail of rare level seeds."""
    rng = np.random.default_rng(seed)
    names = ["easy", "medium", "hard"]
    tasks = []
    for i in range(n):
        if rng.random() < 0.1:
            tasks.append(f"level-{rng.integers(100)}")
        else:
            tasks.append(names[min(2, int(3 * i / n + rng.normal(0, 0.3)) if i else 0)])
    return tasks


def continuous_tasks(n: int = 400, seed: int = 0) -> list[float]:
    """Scalar Box tasks whose range widens over training."""
    rng = np.random.default_rng(seed)
    return [float(rng.uniform(0.01, 0.01 + 0.19 * (i + 1) / n)) for i in range(n)]


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    height, width, _ = matplotlib.image.imread(path).shape
    assert height > 100 and width > 100


def test_group_runs_averages_seeds_and_labels_by_differing_overrides(tmp_path):
    runs = [
        load_run(write_run(tmp_path, f"{curriculum}-{seed}", curriculum=curriculum, seed=seed))
        for curriculum in ("dr", "plr")
        for seed in (0, 1)
    ]
    groups = group_runs(runs)
    assert [group.label for group in groups] == ["curriculum=dr", "curriculum=plr"]  # env=cartpole is shared
    assert [[run.path.name for run in group.runs] for group in groups] == [
        ["dr-0", "dr-1"],
        ["plr-0", "plr-1"],
    ]


def test_group_runs_without_telling_overrides_uses_the_differing_config(tmp_path):
    runs = [
        load_run(write_run(tmp_path, "a", overrides=[], extra={"learner": {"lr": 0.001}})),
        load_run(write_run(tmp_path, "b", overrides=[], seed=3, extra={"learner": {"lr": 0.001}})),
        load_run(write_run(tmp_path, "c", overrides=[], extra={"learner": {"lr": 0.01}})),
    ]
    groups = group_runs(runs)
    assert [(group.label, len(group.runs)) for group in groups] == [
        ("learner.lr=0.001", 2),
        ("learner.lr=0.01", 1),
    ]


def test_long_overrides_are_cut_in_labels(tmp_path):
    widths = "env.tasks=[" + ",".join(f"{w / 100:.2f}" for w in range(1, 41)) + "]"
    runs = [
        load_run(write_run(tmp_path, "default", overrides=["curriculum=plr"])),
        load_run(write_run(tmp_path, "forty", overrides=["curriculum=plr", widths], extra={"n": 40})),
    ]
    labels = [group.label for group in group_runs(runs)]
    assert labels == ["dr on cartpole", widths[:31] + "\u2026"]  # the first differs by nothing shown


def test_single_group_label(tmp_path):
    with_overrides = load_run(write_run(tmp_path, "x", curriculum="plr", seed=2))
    assert group_runs([with_overrides])[0].label == "env=cartpole, curriculum=plr"
    bare = load_run(write_run(tmp_path, "y", curriculum="lp", overrides=["seed=4", "+env.seed=4"]))
    assert group_runs([bare])[0].label == "lp on cartpole"


def test_group_curve_is_the_mean_and_spread_across_seeds(tmp_path):
    group = RunGroup("g", [load_run(write_run(tmp_path, f"s{s}", seed=s, tasks=["a"] * 50)) for s in (0, 1)])
    steps, mean, std = group_curve(group, window=1)
    episode_steps = group.runs[0].episode_steps  # both seeds end their episodes at the same steps
    first, second = (np.interp(steps, episode_steps, run.episode_returns) for run in group.runs)
    assert len(steps) == 50 and steps[0] == episode_steps[0] and steps[-1] == episode_steps[-1]
    np.testing.assert_allclose(mean, (first + second) / 2)
    np.testing.assert_allclose(std, np.abs(first - second) / 2)


def test_learning_curve_has_a_point_per_episode_up_to_its_resolution(tmp_path):
    """A short run is drawn from every episode, not from its few progress.csv log rows."""
    run = load_run(write_run(tmp_path, "r", tasks=["a"] * 1000, total_steps=8 * LOG_EVERY))
    steps, mean, _ = group_curve(RunGroup("g", [run]))
    assert len(steps) == 200 and not np.isnan(mean).any()  # progress.csv has 8 rows for this run
    assert steps[0] == run.episode_steps[0] and steps[-1] == run.episode_steps[-1]
    window = default_window(1000)
    assert window == 100
    expected_last = run.episode_returns[-window:].mean()
    assert mean[-1] == pytest.approx(expected_last)
    few = load_run(write_run(tmp_path, "few", tasks=["a"] * 12))
    assert len(group_curve(RunGroup("g", [few]))[0]) == 12


def test_seeds_count_from_their_own_first_episode(tmp_path):
    early = load_run(write_run(tmp_path, "early", seed=0, tasks=["a"] * 40))
    late = load_run(write_run(tmp_path, "late", seed=1, tasks=["a"] * 40))
    late.episode_steps = late.episode_steps + 10_000  # its first episode ends later
    steps, mean, std = group_curve(RunGroup("g", [early, late]), window=1)
    before = steps < late.episode_steps[0]
    assert before.any() and (std[before] == 0).all()  # only the early seed is there
    assert not np.isnan(mean).any()


def test_default_window():
    assert [default_window(n) for n in (0, 9, 50, 1000, 10**6)] == [1, 1, 5, 100, 100]


def test_smooth_is_a_trailing_mean_skipping_nans():
    values = np.array([np.nan, 1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(smooth(values, 2), [np.nan, 1.0, 1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(smooth(values, 1), values)


def test_task_bins_hold_equal_numbers_of_episodes():
    """Short early episodes and long late ones: every bin has the same number of episodes."""
    steps = np.concatenate([np.arange(0, 90, 1.0), np.arange(100, 1100, 100.0)])  # 90 short, 10 long
    tasks = ["x"] * 90 + ["y"] * 10
    edges, labels, shares = task_shares(steps, tasks, bins=4)
    assert labels == ["x", "y"]
    np.testing.assert_allclose(edges, [0.0, 25.0, 50.0, 75.0, 1000.0])
    np.testing.assert_allclose(shares, [[1, 1, 1, 0.6], [0, 0, 0, 0.4]])  # last bin: 15 x, 10 y


def test_five_cartpole_widths_are_five_categories():
    """The runner's CartPole tasks are five widths: categories in value order, no float binning."""
    widths = ["0.02", "0.05", "0.1", "0.15", "0.2"]
    tasks = [widths[i % 5] for i in range(500)]
    assert not is_continuous(tasks)
    edges, every, shares = task_shares(np.arange(500.0), tasks, bins=10)
    assert every == widths and shares.shape == (5, 10) and len(edges) == 11
    np.testing.assert_allclose(shares, 0.2)


def test_is_continuous():
    rng = np.random.default_rng(0)
    assert is_continuous([str(x) for x in rng.uniform(0.01, 0.2, 100)])  # a Box space's samples
    assert not is_continuous(["0.05", "0.1", "1e-3", "7"])  # a few numbers: an enumerable set
    assert not is_continuous([str(i) for i in range(200)])  # Procgen level seeds
    assert not is_continuous([str(x) for x in rng.uniform(0, 1, 100)] + ["easy"])
    assert not is_continuous(["(1, 2)"])
    assert not is_continuous([])


def test_task_order_is_natural():
    assert task_order(["0.2", "0.05", "0.1", "0.05"]) == ["0.05", "0.1", "0.2"]
    assert task_order(["level-10", "level-2", "easy"]) == ["easy", "level-2", "level-10"]
    assert task_order(["12", "3", "100"]) == ["3", "12", "100"]


def test_many_levels_get_a_heatmap_of_every_task(tmp_path):
    tasks = [str(level) for level in np.random.default_rng(0).integers(0, 200, 2000)]
    run = load_run(write_run(tmp_path, "procgen", tasks=tasks))
    path = plot_task_distribution(run, tmp_path / "many.png")
    few = load_run(write_run(tmp_path, "cartpole", tasks=[["0.05", "0.1"][i % 2] for i in range(200)]))
    few_path = plot_task_distribution(few, tmp_path / "few.png")
    assert_png(path)
    assert_png(few_path)
    many_height = matplotlib.image.imread(path).shape[0]
    few_height = matplotlib.image.imread(few_path).shape[0]
    assert many_height > 1.5 * few_height  # the second panel: the heatmap of every level


def test_integer_tasks_get_a_linear_id_axis_with_unplayed_ids():
    """Level seeds 0, 5 and 9: ten rows, one per id, the unplayed ids empty; no "other" row."""
    tasks = ["0", "5", "9", "5"] * 25
    heatmap = task_heatmap(np.arange(100.0), tasks, bins=5)  # 20 episodes per bin
    np.testing.assert_allclose(heatmap.row_edges, np.arange(11) - 0.5)
    assert heatmap.row_labels is None and heatmap.ylabel == "task id"
    np.testing.assert_allclose(heatmap.shares[[0, 5, 9]], [[0.25] * 5, [0.5] * 5, [0.25] * 5])
    assert not heatmap.shares[[1, 2, 3, 4, 6, 7, 8]].any()


def test_ten_thousand_tasks_share_rows_and_get_fifty_bins():
    rng = np.random.default_rng(0)
    tasks = [str(level) for level in rng.integers(0, 10_000, 20_000)] + ["0", "9999"]
    heatmap = task_heatmap(np.arange(len(tasks), dtype=float), tasks)
    assert heatmap.shares.shape == (200, 50)  # rows of 50 ids on a linear axis, ~50 time bins
    np.testing.assert_allclose(heatmap.row_edges[[0, 1, -1]], [-0.5, 49.5, 9999.5])
    assert heatmap.ylabel == "task id (rows of 50 ids)"
    np.testing.assert_allclose(heatmap.shares.sum(axis=0), 1.0)
    edges, _, _ = task_shares(np.arange(len(tasks), dtype=float), tasks)
    np.testing.assert_allclose(heatmap.step_edges, edges)  # the panels above and below share bins


def test_named_tasks_get_one_row_each_in_natural_order():
    tasks = ["level-10", "level-2", "easy"] * 9
    heatmap = task_heatmap(np.arange(27.0), tasks, bins=3)
    assert heatmap.row_labels == ["easy", "level-2", "level-10"]
    np.testing.assert_allclose(heatmap.shares, 1 / 3)


def test_default_bins_hold_five_episodes_up_to_fifty():
    for episodes, bins in ((12, 2), (159, 31), (250, 50), (10_000, 50)):
        edges, _, _ = task_shares(np.arange(float(episodes)), ["a"] * episodes)
        assert len(edges) - 1 == bins


def test_evaluations_are_read_from_eval_files_and_the_legacy_eval_json(tmp_path):
    run = write_run(tmp_path, "run", tasks=["a"] * 100, total_steps=20 * LOG_EVERY)
    (run / "eval").mkdir()
    for step, mode, mean, success in ((4096, "greedy", 20.0, 0.5), (8192, "sampled", 30.0, None)):
        result = {"checkpoint": f"step_{step}", "step": step, "mode": mode, "seed": 0}
        result |= {"mean_return": mean, "success_rate": success}
        (run / "eval" / f"step_{step}-{mode}-seed0.json").write_text(json.dumps(result))
    legacy = {"checkpoint": "checkpoints/final", "deterministic": True, "seed": 1, "return_mean": 50.0}
    (run / "eval.json").write_text(json.dumps(legacy))
    evals = load_run(run).evals
    assert [(e.checkpoint, e.step, e.mode, e.mean_return, e.success_rate) for e in evals] == [
        ("step_4096", 4096, "greedy", 20.0, 0.5),
        ("step_8192", 8192, "sampled", 30.0, None),
        ("final", 20 * LOG_EVERY, "greedy", 50.0, None),  # final: the run's last logged step
    ]
    assert_png(plot_learning_curves(group_runs([load_run(run)]), tmp_path / "curve.png"))
    (run / "eval" / "bad-greedy-seed0.json").write_text(json.dumps({"step": 1}))
    with pytest.raises(ValueError, match="bad-greedy-seed0.json is not an evaluation result"):
        load_evals(run)


def write_curriculum_log(run: Path, metrics: dict[str, list[float]], every: int = LOG_EVERY) -> None:
    with open(run / "logs" / "curriculum.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "metric", "value"])
        for row in range(len(next(iter(metrics.values())))):
            for metric, values in metrics.items():
                writer.writerow([(row + 1) * every, metric, values[row]])


def save_curriculum_state(run: Path, checkpoint: str, state: dict) -> None:
    (run / "checkpoints" / checkpoint).mkdir(parents=True)
    (run / "checkpoints" / checkpoint / "curriculum.pkl").write_bytes(pickle.dumps(state))


def fed_plr(num_tasks: int) -> PrioritizedLevelReplay:
    """A PLR curriculum that scored tasks 0 and 1 from one rollout (env 0: task 0, env 1: task 1)."""
    plr = PrioritizedLevelReplay(DiscreteTaskSpace(num_tasks), random_seed=0)
    plr.sample(2)
    steps = 4
    tasks = np.array([[0, 1]] * steps)
    rewards = np.ones((steps, 2))
    dones = np.zeros((steps, 2), dtype=bool)
    dones[-1] = True
    values = np.zeros((steps, 2))
    plr.custom_update(tasks, rewards, dones, values, np.zeros(2))
    return plr


def test_per_task_state_of_plr_lp_and_learnability():
    state = fed_plr(5).state_dict()
    title, arrays = per_task_state(state)
    assert title.startswith("PLR")
    scores, staleness = arrays["score"], arrays["staleness (samples since)"]
    assert len(scores) == 5 and np.isfinite(scores[:2]).all() and np.isnan(scores[2:]).all()
    seen = np.isin(np.arange(5), state["plr"]["seen"])  # sampled at least once
    assert seen.any() and (staleness[seen] >= 0).all() and np.isnan(staleness[~seen]).all()
    lp = LearningProgress(DiscreteTaskSpace(3), success_threshold=1.0)
    lp.update_on_episode(2.0, 10, 1)
    title, arrays = per_task_state(lp.state_dict())
    assert title.startswith("Learning Progress") and arrays["success rate (fast)"][1] == 1.0
    learnability = Learnability(DiscreteTaskSpace(3), success_threshold=1.0)
    learnability.update_on_episode(2.0, 10, 2)
    title, arrays = per_task_state(learnability.state_dict())
    assert title.startswith("Learnability") and arrays["success rate"][2] > 0
    assert per_task_state({"curriculum": "DomainRandomization"}) is None


def test_curriculum_plot_from_the_log_and_the_last_checkpoint(tmp_path):
    run = write_run(tmp_path, "plr", curriculum="plr", tasks=[str(i % 5) for i in range(200)])
    write_curriculum_log(
        run,
        {
            "curriculum/task_entropy": [1.6, 1.2, 0.9],
            "curriculum/task_0_prob": [0.2, 0.5, 0.8],
            "curriculum/task_1_prob": [0.2, 0.1, 0.05],
            "curriculum/stage": [0, 1, 1],
            "stats/episodes": [10, 20, 30],
        },
    )
    save_curriculum_state(run, "step_4096", {"curriculum": "stale"})
    save_curriculum_state(run, "final", fed_plr(5).state_dict())
    log = load_curriculum_log(run)
    np.testing.assert_allclose(log["curriculum/task_0_prob"][1], [0.2, 0.5, 0.8])
    np.testing.assert_allclose(log["curriculum/task_0_prob"][0], [LOG_EVERY, 2 * LOG_EVERY, 3 * LOG_EVERY])
    assert load_curriculum_state(run)["curriculum"] == "PrioritizedLevelReplay"  # final, not step_4096
    written = plot_runs([run])
    assert written[1:] == [run / "plots" / "task_distribution.png", run / "plots" / "curriculum.png"]
    assert_png(written[2])
    (run / "checkpoints" / "final" / "curriculum.pkl").write_bytes(b"damaged")
    assert load_curriculum_state(run) is None  # a damaged state: the plot does without it
    assert_png(plot_curriculum(load_run(run), tmp_path / "no-state.png"))


def test_curriculum_plot_of_many_tasks(tmp_path):
    run = write_run(tmp_path, "many", tasks=[str(i) for i in range(300)])
    probs = {f"curriculum/task_{i}_prob": [0.01 * (i % 3)] * 4 for i in range(30)}
    write_curriculum_log(run, {"curriculum/task_entropy": [5.0, 4.0, 3.5, 3.0], **probs})
    save_curriculum_state(run, "final", fed_plr(300).state_dict())
    assert_png(plot_curriculum(load_run(run), tmp_path / "many.png"))


def test_learning_curve_png_of_one_run(tmp_path):
    run = load_run(write_run(tmp_path, "run", tasks=["a"] * 300))
    assert_png(plot_learning_curves(group_runs([run]), tmp_path / "curve.png"))


def test_plot_runs_writes_every_png(tmp_path):
    dirs = [
        write_run(tmp_path, "dr-0", curriculum="dr", seed=0, tasks=categorical_tasks(seed=0)),
        write_run(tmp_path, "dr-1", curriculum="dr", seed=1, tasks=categorical_tasks(seed=1)),
        write_run(tmp_path, "se-0", curriculum="se", seed=0, tasks=continuous_tasks(seed=0), slope=2.0),
        write_run(tmp_path, "se-1", curriculum="se", seed=1, tasks=continuous_tasks(seed=1), slope=2.0),
        write_run(tmp_path, "empty", curriculum="none", tasks=[]),  # no episode finished yet
    ]
    written = plot_runs(dirs)
    assert written == [dirs[0] / "plots" / "learning_curves.png"] + [
        d / "plots" / "task_distribution.png" for d in dirs
    ]
    for path in written:
        assert_png(path)


def test_plot_runs_out_dir_holds_the_comparison(tmp_path):
    run = write_run(tmp_path, "runs/0", tasks=continuous_tasks(50))
    written = plot_runs([run], out_dir=tmp_path / "report")
    assert written == [tmp_path / "report" / "learning_curves.png", run / "plots" / "task_distribution.png"]
    for path in written:
        assert_png(path)


@pytest.mark.parametrize("missing", [".hydra/config.yaml", "logs/episodes.csv"])
def test_a_directory_that_is_not_a_run_is_named(tmp_path, missing):
    run = write_run(tmp_path, "run", tasks=["a"])
    (run / missing).unlink()
    with pytest.raises(RunDataError, match=f"not a Syllabus run directory: .*{missing}"):
        plot_runs([run])


def test_bad_logs_and_arguments(tmp_path):
    run = write_run(tmp_path, "run", tasks=["a"])
    (run / "logs" / "episodes.csv").write_text("step,env_id,episode_return\n1,0,3.0\n")
    with pytest.raises(ValueError, match="episodes.csv has no column 'task'"):
        load_run(run)
    with pytest.raises(ValueError, match="at least one run directory"):
        plot_runs([])


@pytest.mark.parametrize("command", ["plot", "compare"])
def test_a_malformed_result_file_is_one_line_and_exit_2(tmp_path, command):
    run = write_run(tmp_path, "run", tasks=categorical_tasks(40))
    (run / "eval").mkdir()
    (run / "eval" / "final-greedy-seed0.json").write_text("{not json")
    result = syllabus(command, str(run), "--out", str(tmp_path / "out"), cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"syllabus: error: {run / 'eval' / 'final-greedy-seed0.json'} is not valid JSON: "
        + result.stderr.split("is not valid JSON: ", 1)[1].strip()
    ]
    assert "Traceback" not in result.stderr
