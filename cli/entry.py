"""The ``syllabus`` console script: checks that the runner extra is installed, then runs the Typer app."""

from __future__ import annotations

import importlib.util
import sys

RUNNER_MODULES = ("typer", "hydra", "omegaconf", "stable_baselines3", "rich", "matplotlib")


def main() -> None:
    """Runs ``syllabus`` or, without the runner's dependencies, says which extra to install (exit 2)."""
    missing = [name for name in RUNNER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        print(
            f"syllabus: error: the experiment runner needs the 'runner' extra (missing: {', '.join(missing)}); "
            'install it with: pip install "syllabus-curriculum[runner]"',
            file=sys.stderr,
        )
        raise SystemExit(2)
    from syllabus.cli.app import main as run_app

    run_app()
