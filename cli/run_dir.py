"""The run directory: ``meta.json`` and checkpoints (model, curriculum state, trainer state).

Layout (besides Hydra's ``.hydra/`` and the logs of :mod:`syllabus.cli.run_logs`)::

    meta.json                  provenance and status of the run
    checkpoints/step_<N>/      the learner's model (model.zip for SB3, rllib/ for RLlib; optimizer
                               included), curriculum.pkl, trainer.pkl
    checkpoints/final/         the same at the end of training
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pickle
import platform
import random
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

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
    "ray",
)
FINAL = "final"
REPO = Path(__file__).resolve().parent.parent


def now() -> str:
    """The current time, ISO 8601 with time zone."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def git_state(path: Path = REPO) -> dict[str, Any]:
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


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Writes ``data`` atomically (a reader never sees a half-written file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


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
            "git": git_state(),
            "packages": package_versions(),
            "resumes": [],
        }
    write_json(path, meta)
    return meta


def finish_meta(run_dir: Path, meta: dict[str, Any], status: str, steps: int) -> None:
    """Records the end of a run: ``status`` (completed, interrupted, failed), end time and steps."""
    meta.update(status=status, end_time=now(), steps=steps)
    write_json(run_dir / "meta.json", meta)


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
        import torch

        self.rng = {
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
        }

    def restore_rng(self) -> None:
        """Restores the states stored by :meth:`capture_rng`."""
        import torch

        if self.rng:
            random.setstate(self.rng["python"])
            np.random.set_state(self.rng["numpy"])
            torch.set_rng_state(self.rng["torch"])


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def save_checkpoint(run_dir: Path, name: str, model: Any, curriculum: Any, state: TrainerState) -> Path:
    """Writes ``checkpoints/<name>/`` atomically: it appears complete or not at all.

    ``model`` is the run's learner (:class:`syllabus.cli.learners.Learner`): it saves itself into the directory.
    """
    root = checkpoint_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    target, tmp = root / name, root / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save(tmp)
    if curriculum is not None:
        with open(tmp / "curriculum.pkl", "wb") as f:
            pickle.dump(curriculum.state_dict(), f)
    with open(tmp / "trainer.pkl", "wb") as f:
        pickle.dump(asdict(state), f)
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target


def load_trainer_state(checkpoint: Path) -> TrainerState:
    """The trainer state saved in ``checkpoint``."""
    with open(checkpoint / "trainer.pkl", "rb") as f:
        return TrainerState(**pickle.load(f))


def load_curriculum_state(checkpoint: Path) -> dict[str, Any] | None:
    """The curriculum state saved in ``checkpoint`` (``None`` for runs without a curriculum)."""
    path = checkpoint / "curriculum.pkl"
    if not path.exists():
        return None
    with open(path, "rb") as f:
        return pickle.load(f)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint with the most steps (``final`` wins a tie), or ``None``."""
    best: tuple[int, bool, Path] | None = None
    root = checkpoint_dir(run_dir)
    for path in root.iterdir() if root.is_dir() else ():
        if path.name.startswith(".") or not (path / "trainer.pkl").exists():
            continue
        key = (load_trainer_state(path).num_timesteps, path.name == FINAL, path)
        if best is None or key[:2] > best[:2]:
            best = key
    return None if best is None else best[2]


def eval_checkpoint(run_dir: Path) -> Path:
    """``checkpoints/final``, else the latest checkpoint of an interrupted run.

    Raises:
        FileNotFoundError: The run has no checkpoint.
    """
    final = checkpoint_dir(run_dir) / FINAL
    if (final / "model.zip").exists():
        return final
    latest = latest_checkpoint(run_dir)
    if latest is None:
        raise FileNotFoundError(f"{run_dir} has no checkpoint (looked for {final}/model.zip and step_<N>/)")
    return latest
