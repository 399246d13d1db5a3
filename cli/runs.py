"""Run directories: finding them (a run, or a sweep or any directory holding runs), and where their
evaluations go (``RUN_DIR/eval/<checkpoint>-<mode>-seed<seed>.json``, written by ``syllabus eval``)."""

from __future__ import annotations

from pathlib import Path

from syllabus.cli.errors import UserError

CONFIG = Path(".hydra") / "config.yaml"
EVAL_DIR = "eval"
EVAL_MODES = ("greedy", "sampled")


def eval_path(run_dir: Path, checkpoint: str, mode: str, seed: int) -> Path:
    """Where the evaluation of ``checkpoint`` (e.g. ``final``, ``step_512``) with ``mode`` and ``seed`` goes."""
    return run_dir / EVAL_DIR / f"{checkpoint}-{mode}-seed{seed}.json"


def eval_files(run_dir: Path, mode: str) -> list[Path]:
    """The run's evaluation files of ``mode`` (every checkpoint and seed), sorted by name."""
    return sorted((run_dir / EVAL_DIR).glob(f"*-{mode}-seed*.json"))


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a run directory (it holds ``.hydra/config.yaml``)."""
    return (path / CONFIG).is_file()


def find_runs(paths: list[Path]) -> list[Path]:
    """The run directories that ``paths`` name or hold (searched recursively), each once, in order.

    Args:
        paths: Run directories, sweep directories (``multirun/<date>/<time>``) or directories of sweeps.

    Returns:
        Resolved run directories, sorted by path within each argument.

    Raises:
        UserError: A path does not exist or holds no run.
    """
    runs: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise UserError(f"{path} is not a directory: give run or sweep directories")
        found = [path] if is_run_dir(path) else sorted(p.parent.parent for p in path.rglob(str(CONFIG)))
        found = [
            p for p in found if not any(parent in found for parent in p.parents)
        ]  # not a run's own files
        if not found:
            raise UserError(f"{path} holds no runs (no .hydra/config.yaml below it)")
        runs += [p.resolve() for p in found if p.resolve() not in runs]
    return runs
