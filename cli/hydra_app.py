"""The Hydra side of ``syllabus train``: compose the config with Hydra's full grammar, then train.

``run_train`` hands the user's arguments to ``@hydra.main`` through ``sys.argv``, so ``-m``,
``--cfg job``, ``--config-dir``, ``hydra/launcher=joblib`` and every override work as in any
Hydra app. :func:`train_job` runs once per job (in a launcher's worker for parallel sweeps).
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

CONFIG_DIR = Path(str(importlib.resources.files("syllabus.configs")))
_ENV_OPTIONS = "SYLLABUS_TRAIN_OPTIONS"  # JSON handed to jobs, also those a launcher runs in other processes


def _options() -> dict:
    return json.loads(os.environ.get(_ENV_OPTIONS, "{}"))


def train_job(cfg: DictConfig) -> str:
    """One Hydra job: validate the composed config, then train in Hydra's run directory."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from syllabus.cli.builders import MissingDependencyError
    from syllabus.cli.schema import ConfigError, validate
    from syllabus.cli.training import ResumeError, train

    options = _options()
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        run = validate(cfg)
        if options.get("resume"):
            # Resumed with output_subdir=null so Hydra keeps the original .hydra/; record the config it runs.
            OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
        status = train(
            run,
            run_dir,
            resume=bool(options.get("resume")),
            command=options.get("command", " ".join(sys.argv)),
            quiet=bool(options.get("quiet")),
            multirun=hydra_cfg.mode == RunMode.MULTIRUN,
        )
    except (ConfigError, MissingDependencyError, ResumeError) as exc:
        print(f"syllabus train: error: {exc}", file=sys.stderr)
        if not options.get("resume"):
            _remove_unstarted(run_dir)
        raise SystemExit(2) from None
    if status == "interrupted" and os.getpid() == options.get("pid"):
        raise SystemExit(130)  # also ends a sweep run by the basic launcher in this process
    return status


def _remove_unstarted(run_dir: Path) -> None:
    """Removes a run directory that holds only what Hydra wrote before the run failed to start."""
    if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {".hydra", "train.log"}:
        shutil.rmtree(run_dir, ignore_errors=True)


def run_train(args: list[str], *, command: str, resume: bool = False, quiet: bool = False) -> None:
    """Runs ``@hydra.main`` over ``args`` (Hydra's command-line grammar)."""
    import hydra

    os.environ[_ENV_OPTIONS] = json.dumps(
        {"command": command, "resume": resume, "quiet": quiet, "pid": os.getpid()}
    )
    main = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")(train_job)
    saved_argv = sys.argv
    sys.argv = ["syllabus-train", *args]
    try:
        main()
    finally:
        sys.argv = saved_argv
