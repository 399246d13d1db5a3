"""The run directory: ``meta.json`` and checkpoints (model, curriculum state, trainer state).

Layout (besides Hydra's ``.hydra/`` and the logs of [`syllabus.cli.run_logs`][syllabus.cli.run_logs])::

    meta.json                  provenance and status of the run
    checkpoints/step_<N>/      the learner's model (model.zip for SB3, rllib/ for RLlib; optimizer
                               included), curriculum.pkl, trainer.pkl
    checkpoints/final/         the same at the end of training
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import math
import os
import pickle
import platform
import random
import shutil
import socket
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from syllabus.cli.errors import CheckpointError

PACKAGES = (
    "syllabus-curriculum",
    "numpy",
    "gymnasium",
    "torch",
    "stable-baselines3",
    "hydra-core",
    "omegaconf",
    "procgen-mirror",
    "minigrid",
    "pettingzoo",
    "mpe2",
    "ray",
)
FINAL = "final"
logger = logging.getLogger("syllabus.train")
DISTRIBUTION = "syllabus-curriculum"
CURRICULUM_STATE, TRAINER_STATE = "curriculum.pkl", "trainer.pkl"


def now() -> str:
    """The current time, ISO 8601 with time zone."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def git_state(path: Path) -> dict[str, Any]:
    """Commit and dirty flag of the git checkout holding ``path`` (read-only; ``None`` outside a checkout)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "--no-optional-locks", "-C", str(path), *args],
                capture_output=True,
                text=True,
                timeout=10,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages a run depends on (``None`` when not installed)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def launch_dir() -> Path:
    """The directory the user launched ``syllabus`` from (Hydra's original working directory in a job)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.cwd)
    except (ImportError, ValueError):
        return Path.cwd()


def syllabus_provenance() -> dict[str, Any]:
    """The Syllabus that runs: its version, where it is installed, and its git state when that is a checkout."""
    import syllabus

    location = Path(syllabus.__file__).resolve().parent
    try:
        distribution_version: str | None = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        distribution_version = None
    git = git_state(location)
    return {
        "version": syllabus.__version__,
        "distribution": DISTRIBUTION,
        "distribution_version": distribution_version,
        "location": str(location),
        "git": git if git["commit"] else None,
    }


def fsync_dir(path: Path) -> None:
    """Makes renames and new entries in directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flushes the content of file ``path`` to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def write_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically and durably: a reader sees the old file or the new one, whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Writes ``data`` as JSON atomically (a reader never sees a half-written file)."""
    write_atomic(path, (json.dumps(data, indent=2, default=str) + "\n").encode())


def start_meta(run_dir: Path, *, command: str, seed: int, resume_from: int | None) -> dict[str, Any]:
    """Writes ``meta.json`` with status ``running``; a resumed run keeps its history and adds a resume entry."""
    path = run_dir / "meta.json"
    if resume_from is not None and path.exists():
        meta = json.loads(path.read_text())
        meta.setdefault("resumes", []).append({"time": now(), "from_step": resume_from, "command": command})
        meta.update(status="running", end_time=None)
    else:
        meta = {
            "command": command,
            "seed": seed,
            "status": "running",
            "start_time": now(),
            "end_time": None,
            "host": socket.gethostname(),
            "python": platform.python_version(),
            # The user's experiment code (the launch directory) and the Syllabus that ran it, kept apart.
            "experiment": {"directory": str(launch_dir()), "git": git_state(launch_dir())},
            "syllabus": syllabus_provenance(),
            "packages": package_versions(),
            "resumes": [],
        }
    write_json(path, meta)
    return meta


def finish_meta(
    run_dir: Path, meta: dict[str, Any], status: str, steps: int, reason: str | None = None
) -> None:
    """Records the end of a run: ``status`` (completed, interrupted, failed), end time, steps and why it failed.

    On a full disk, where the atomic write has no room for its second copy, ``meta.json`` is
    rewritten in place (its old blocks are freed first), so the run never stays ``running``.
    """
    meta.update(status=status, end_time=now(), steps=steps, reason=reason)
    path = run_dir / "meta.json"
    try:
        write_json(path, meta)
    except OSError:
        path.write_text(json.dumps(meta, indent=2, default=str) + "\n")


# ------------------------------------------------------------------- checkpoints


@dataclass
class TrainerState:
    """What the training loop needs besides the model and curriculum to continue a run."""

    num_timesteps: int = 0
    episodes: int = 0
    elapsed: float = 0.0
    rng: dict[str, Any] = field(default_factory=dict)

    def capture_rng(self) -> None:
        """Stores the global random states (Python, numpy, torch) the learner draws from."""
        import numpy as np
        import torch

        self.rng = {
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
        }

    def restore_rng(self) -> None:
        """Restores the states stored by [`capture_rng`][syllabus.cli.run_dir.TrainerState.capture_rng]."""
        import numpy as np
        import torch

        if self.rng:
            random.setstate(self.rng["python"])
            np.random.set_state(self.rng["numpy"])
            torch.set_rng_state(self.rng["torch"])


def checkpoint_dir(run_dir: Path) -> Path:
    """Where the checkpoints of ``run_dir`` live."""
    return run_dir / "checkpoints"


def save_checkpoint(run_dir: Path, name: str, model: Any, curriculum: Any, state: TrainerState) -> Path:
    """Writes ``checkpoints/<name>/`` atomically and durably: it appears complete or not at all.

    ``model`` is the run's learner (`syllabus.cli.learners.Learner`): it saves itself into the
    directory. Replacing an existing checkpoint never leaves a moment without one: the old ``final`` is
    first renamed to ``step_<N>`` (its own step count, still a valid checkpoint), then the new one takes
    its name, then the old one is removed.
    """
    root = checkpoint_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    target, tmp = root / name, root / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        model.save(tmp)
        if curriculum is not None:
            (tmp / CURRICULUM_STATE).write_bytes(pickle.dumps(curriculum.state_dict()))
        (tmp / TRAINER_STATE).write_bytes(pickle.dumps(asdict(state)))
        for path in sorted(tmp.rglob("*"), reverse=True):  # files before the directories holding them
            if path.is_dir():
                fsync_dir(path)
            else:
                fsync_file(path)
        fsync_dir(tmp)
    except BaseException:  # e.g. a full disk: no half-written checkpoint stays behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    aside = None
    if target.exists():
        aside = root / f".{name}.old"
        shutil.rmtree(aside, ignore_errors=True)
        old_step = root / f"step_{_steps_of(target)}"
        if name == FINAL and not old_step.exists():
            aside = old_step  # still a valid checkpoint while `final` is replaced
        os.replace(target, aside)
    os.replace(tmp, target)
    fsync_dir(root)
    if aside is not None:
        shutil.rmtree(aside)
    return target


def _steps_of(checkpoint: Path) -> int:
    try:
        return load_trainer_state(checkpoint).num_timesteps
    except CheckpointError:
        return -1


def _unpickle(path: Path) -> Any:
    try:
        return pickle.loads(path.read_bytes())
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path.parent} is incomplete: {path.name} is missing") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a damaged file
        raise CheckpointError(
            f"checkpoint file {path} is truncated or corrupt ({type(exc).__name__}: {exc}); delete that "
            "checkpoint directory to use an earlier one"
        ) from None


def load_trainer_state(checkpoint: Path) -> TrainerState:
    """The trainer state saved in ``checkpoint``.

    Raises:
        CheckpointError: The file is missing or damaged.
    """
    data = _unpickle(checkpoint / TRAINER_STATE)
    try:
        return TrainerState(**data)
    except TypeError as exc:
        raise CheckpointError(
            f"checkpoint file {checkpoint / TRAINER_STATE} holds no trainer state ({exc})"
        ) from None


def load_curriculum_state(checkpoint: Path) -> dict[str, Any] | None:
    """The curriculum state saved in ``checkpoint`` (``None`` for runs without a curriculum)."""
    path = checkpoint / CURRICULUM_STATE
    if not path.exists():
        return None
    return _unpickle(path)


def verify_checkpoint(checkpoint: Path, *, curriculum: bool, learner: str = "sb3_ppo") -> TrainerState:
    """Checks that every file of ``checkpoint`` is whole, without loading the model into its framework.

    Args:
        checkpoint: A ``checkpoints/<name>`` directory.
        curriculum: Whether the run has a curriculum (its state must be there).
        learner: The run's ``learner.name``; its learner checks the model files it wrote.

    Returns:
        The checkpoint's trainer state.

    Raises:
        CheckpointError: Naming the missing or damaged file.
    """
    from syllabus.cli.learners import learner_class  # the learners import this module

    state = load_trainer_state(checkpoint)
    learner_class(learner).verify(checkpoint)
    if curriculum and load_curriculum_state(checkpoint) is None:
        raise CheckpointError(f"checkpoint {checkpoint} is incomplete: {CURRICULUM_STATE} is missing")
    return state


def verify_sb3_model(path: Path) -> None:
    """Checks that ``path`` is a whole Stable-Baselines3 model archive.

    Raises:
        CheckpointError: The file is missing, truncated or corrupt.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = set(archive.namelist())
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path.parent} is incomplete: {path.name} is missing") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CheckpointError(
            f"checkpoint file {path} is truncated or corrupt ({exc}); delete that checkpoint directory to use "
            "an earlier one"
        ) from None
    if bad is not None or not {"data", "policy.pth"} <= names:
        problem = f"bad member {bad}" if bad else "not a whole SB3 model archive"
        raise CheckpointError(
            f"checkpoint file {path} is truncated or corrupt ({problem}); delete that checkpoint directory to "
            "use an earlier one"
        )


def latest_checkpoint(run_dir: Path, verify: Callable[[Path], object] | None = None) -> Path | None:
    """The newest whole checkpoint (the most steps, ``final`` wins a tie), or ``None`` when there is none.

    A damaged checkpoint (its trainer state, or what ``verify`` checks, is missing or corrupt) is
    skipped: the run falls back to the newest whole one, with a warning naming each damaged
    checkpoint newer than it.

    Args:
        run_dir: The run directory.
        verify: Also checks each candidate (e.g. [`verify_checkpoint`][syllabus.cli.run_dir.verify_checkpoint]);
            raises [`CheckpointError`][syllabus.cli.run_dir.CheckpointError] for a damaged one.

    Raises:
        CheckpointError: Every checkpoint is damaged (the message names the newest one's damage).
    """
    best: tuple[int, bool, Path] | None = None
    damaged: list[tuple[float, CheckpointError, Path]] = []
    root = checkpoint_dir(run_dir)
    for path in sorted(root.iterdir()) if root.is_dir() else ():
        if path.name.startswith(".") or not (path / TRAINER_STATE).exists():
            continue
        try:
            steps = load_trainer_state(path).num_timesteps
            if verify is not None:
                verify(path)
        except CheckpointError as exc:
            named = path.name.removeprefix("step_")
            damaged.append((float(named) if named.isdigit() else math.inf, exc, path))
            continue
        key = (steps, path.name == FINAL, path)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        if damaged:
            raise max(damaged, key=lambda item: item[0])[1]
        return None
    for steps_named, error, path in damaged:
        if steps_named >= best[0]:
            logger.warning("skipping damaged checkpoint %s (%s); using %s", path, error, best[2].name)
    return best[2]


def eval_checkpoint(run_dir: Path) -> Path:
    """``checkpoints/final``, else the latest checkpoint of an interrupted run.

    Raises:
        CheckpointError: The run has no checkpoint.
    """
    final = checkpoint_dir(run_dir) / FINAL
    if (final / TRAINER_STATE).exists():
        return final
    latest = latest_checkpoint(run_dir)
    if latest is None:
        raise CheckpointError(
            f"{run_dir} has no checkpoint yet (no {final} and no checkpoints/step_<N>/); train it first, or "
            "set logger.checkpoint_interval to get checkpoints during training"
        )
    return latest
