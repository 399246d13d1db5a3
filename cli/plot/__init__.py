"""``syllabus plot``: learning curves of run directories side by side, each run's task distribution over
time, what each run's curriculum computed and, for runs with opponents, their win rates.

Reads run directories with [`load_run`][syllabus.cli.run_data.load_run] and writes PNGs with
matplotlib's object API (Agg canvas, no display, no pyplot global state), one module per figure:

- [`learning_curves`][syllabus.cli.plot.learning_curves]: drawn from every episode (a trailing mean
  over episodes), not from the periodic summaries in ``logs/progress.csv``, with evaluation results
  marked on them;
- [`task_distribution`][syllabus.cli.plot.task_distribution]: an enumerable task set (level seeds, env
  ids, a list of widths) as categories; integer tasks (level seeds) keep a linear id axis; only tasks
  sampled from a continuous space get a 2D histogram of value against steps;
- [`curriculum`][syllabus.cli.plot.curriculum]: the curriculum's log and its last saved state;
- [`self_play`][syllabus.cli.plot.self_play]: win rates and opponents of runs with opponents.
"""

from __future__ import annotations

from pathlib import Path

from syllabus.cli.plot.curriculum import CURRICULUM_PNG, plot_curriculum
from syllabus.cli.plot.learning_curves import LEARNING_CURVES_PNG, group_runs, plot_learning_curves
from syllabus.cli.plot.self_play import plot_self_play_runs
from syllabus.cli.plot.task_distribution import TASK_DISTRIBUTION_PNG, plot_task_distribution
from syllabus.cli.run_data import CURRICULUM_FILE, load_run


def plot_runs(run_dirs: list[Path], out_dir: Path | None = None) -> list[Path]:
    """Writes the learning curves of all runs on one figure, and each run's task distribution and
    (when it logged one) curriculum plot.

    Args:
        run_dirs: Run directories; runs with the same config apart from ``seed`` are averaged.
        out_dir: Where the comparison ``learning_curves.png`` goes; defaults to the first run's
            ``plots/``. Each run's ``task_distribution.png`` goes to that run's ``plots/``.

    Returns:
        The PNGs written: the comparison first, then each run's task distribution and curriculum plot.

    Raises:
        ValueError: If ``run_dirs`` is empty.
        FileNotFoundError: If a directory is not a run (the message names the missing file).
    """
    if not run_dirs:
        raise ValueError("plot_runs needs at least one run directory")
    runs = [load_run(run_dir) for run_dir in run_dirs]
    comparison_dir = Path(out_dir) if out_dir is not None else runs[0].path / "plots"
    written = [plot_learning_curves(group_runs(runs), comparison_dir / LEARNING_CURVES_PNG)]
    for run in runs:
        written.append(plot_task_distribution(run, run.path / "plots" / TASK_DISTRIBUTION_PNG))
        if (run.path / CURRICULUM_FILE).is_file():
            written.append(plot_curriculum(run, run.path / "plots" / CURRICULUM_PNG))
    written += plot_self_play_runs(runs)  # runs with opponents: win rates, opponents
    return written
