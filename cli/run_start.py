"""Before a run writes anything into its directory: claim a new one, or check everything a resume needs.

Both run under the directory's lock ([`syllabus.cli.run_lock`][syllabus.cli.run_lock]). A new run refuses a directory
that already holds a run. A resume checks the config change, the latest checkpoint's files and that
the curriculum state fits the curriculum before it rewrites ``.hydra/config.yaml``; a refused resume
leaves the run exactly as it was.
"""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from syllabus.cli.errors import RunDirError
from syllabus.cli.run_dir import (
    checkpoint_dir,
    latest_checkpoint,
    load_curriculum_state,
    verify_checkpoint,
    write_atomic,
)
from syllabus.cli.schema import ConfigError, RunConfig, validate

HYDRA_DIR = ".hydra"
STAGED_PREFIX = (
    ".hydra-pending-"  # where Hydra writes a new run's config until the run has claimed its directory
)
# Keys a resume may change: how long and where it runs, and what it logs; never what it learns.
RESUMABLE_KEYS = (
    "total_timesteps",
    "logger.",
    "sync.timeout",
    "sync.address",
    "sync.num_cpus",
    "sync.env_num_cpus",
    "learner.device",
    "learner.num_threads",
)


def holds_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run that started (its meta, logs or checkpoints)."""
    return any((run_dir / name).exists() for name in ("meta.json", "logs", checkpoint_dir(run_dir).name))


def claim_new_run(run_dir: Path, staged: Path | None) -> None:
    """Makes ``run_dir`` a new run's directory: refuses one that holds a run, then moves Hydra's staged
    config (``staged``) to ``.hydra``.

    Raises:
        RunDirError: ``run_dir`` already holds a run.
    """
    if holds_run(run_dir):
        status = _status(run_dir)
        raise RunDirError(
            f"{run_dir} already holds a run (status: {status}); continue it with `syllabus train --resume "
            f"{run_dir}`, or train into another directory (hydra.run.dir=...)"
        )
    if staged is not None:
        target = run_dir / HYDRA_DIR
        shutil.rmtree(target, ignore_errors=True)  # left by a run that failed before it started
        staged.rename(target)


def _status(run_dir: Path) -> str:
    try:
        return str(json.loads((run_dir / "meta.json").read_text()).get("status", "unknown"))
    except (OSError, ValueError):
        return "unknown"


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix.rstrip("."): data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(_flatten(value, f"{prefix}{key}."))
    return flat


def check_resume_config(saved: dict[str, Any], given: dict[str, Any]) -> None:
    """Refuses a resume whose overrides change what the run learns (env, curriculum, learner, seed, ...).

    Raises:
        RunDirError: Naming the first changed key, its saved and its given value.
    """
    old, new = _flatten(saved), _flatten(given)
    for group in ("env", "curriculum", "learner", "sync"):
        before, after = old.get(f"{group}.name"), new.get(f"{group}.name")
        if before != after:
            raise RunDirError(
                f"--resume cannot change the {group} (saved: {group}={before}, given: {group}={after}); "
                f"start a new run for another {group}"
            )
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key) and not key.startswith(RESUMABLE_KEYS):
            raise RunDirError(
                f"--resume cannot change {key} (saved: {old.get(key)!r}, given: {new.get(key)!r}); a resume may "
                f"change only {', '.join(k.rstrip('.') + ('.*' if k.endswith('.') else '') for k in RESUMABLE_KEYS)}. "
                "Start a new run for other values"
            )


def check_resume_overrides(run_dir: Path, cfg: DictConfig) -> None:
    """Refuses a resume of ``run_dir`` whose overrides (``cfg``) change what the run learns, checked before
    ``cfg`` itself is validated: ``+curriculum=dr`` merged into a saved PLR config is a changed curriculum.

    Raises:
        RunDirError: The saved config is unreadable, or the overrides change what the run learns.
    """
    config_path = run_dir / HYDRA_DIR / "config.yaml"
    try:
        saved = OmegaConf.to_container(OmegaConf.load(config_path), resolve=True)
        validate(OmegaConf.create(saved))
    except (OSError, ValueError, ConfigError) as exc:
        raise RunDirError(
            f"cannot resume {run_dir}: its saved config {config_path} is unusable ({exc})"
        ) from None
    try:
        given = OmegaConf.to_container(cfg, resolve=True)
    except ValueError:
        return  # validate() names the key that does not resolve
    assert isinstance(saved, dict) and isinstance(given, dict)
    check_resume_config({str(k): v for k, v in saved.items()}, {str(k): v for k, v in given.items()})


def prepare_resume(run_dir: Path, cfg: DictConfig, run: RunConfig) -> Path | None:
    """Checks that ``run_dir`` can resume with ``cfg`` (after
    [`check_resume_overrides`][syllabus.cli.run_start.check_resume_overrides]), then (only then) records
    ``cfg`` as its config.

    Returns:
        The checkpoint to resume from: the newest whole one (damaged newer ones are skipped with a
        warning), or ``None`` when the run has none yet (it trains from step 0: a job preempted
        before its first checkpoint resumes with the same command).

    Raises:
        RunDirError: Every checkpoint is damaged, or the curriculum state does not fit the curriculum.
    """
    config_path = run_dir / HYDRA_DIR / "config.yaml"
    has_curriculum = run.curriculum.name != "none"
    checkpoint = latest_checkpoint(
        run_dir, verify=partial(verify_checkpoint, curriculum=has_curriculum, learner=run.learner.name)
    )
    if checkpoint is not None and has_curriculum:
        _check_curriculum_state(run, checkpoint)
    write_atomic(config_path, OmegaConf.to_yaml(cfg).encode())
    return checkpoint


def _check_curriculum_state(run: RunConfig, checkpoint: Path) -> None:
    """Loads the checkpoint's curriculum state into a fresh curriculum of ``run`` (a dry run of the resume)."""
    from syllabus.cli.builders import make_curriculum, task_space_of

    curriculum = make_curriculum(run, task_space_of(run.env))
    state = load_curriculum_state(checkpoint)
    # prepare_resume checks only runs with a curriculum, in a checkpoint verified to hold its state.
    assert curriculum is not None and state is not None
    try:
        curriculum.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - any failure means the state does not fit
        raise RunDirError(
            f"cannot resume: the curriculum state in {checkpoint} does not fit curriculum={run.curriculum.name} "
            f"over {task_space_of(run.env).num_tasks} tasks ({type(exc).__name__}: {exc})"
        ) from None
