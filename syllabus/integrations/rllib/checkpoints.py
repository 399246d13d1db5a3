"""The curriculum's state in the algorithm's checkpoints, and its stop with the algorithm."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ray.rllib.algorithms.algorithm import Algorithm

    from syllabus.integrations.rllib._ray import RayCurriculumWrapper

CHECKPOINT_FILE = "syllabus_curriculum.pkl"
"""The curriculum's ``state_dict()``, pickled, inside an algorithm's checkpoint directory."""


def hook_checkpoints_and_stop(algorithm: Algorithm, curriculum: RayCurriculumWrapper) -> None:
    """Makes the algorithm's checkpoints carry the curriculum's state, and its cleanup close the curriculum.

    RLlib offers callbacks for neither saving nor stopping, so the algorithm's own methods are
    wrapped (on this instance only): every save path (``save``, ``save_to_path``, Tune) ends in
    ``save_to_path``, every restore path (``restore``, ``from_checkpoint``, Tune) in
    ``restore_from_path``, and ``stop`` in ``cleanup``.
    """
    save, restore, cleanup = algorithm.save_to_path, algorithm.restore_from_path, algorithm.cleanup

    def save_to_path(path: Any = None, **kwargs: Any) -> str:
        written = save(path, **kwargs)
        if _local(kwargs.get("filesystem")):
            Path(written, CHECKPOINT_FILE).write_bytes(pickle.dumps(curriculum.state_dict()))
        return written

    def restore_from_path(path: Any, **kwargs: Any) -> None:
        restore(path, **kwargs)
        saved = Path(path, CHECKPOINT_FILE)
        if kwargs.get("component") is None and _local(kwargs.get("filesystem")) and saved.is_file():
            curriculum.load_state_dict(pickle.loads(saved.read_bytes()))

    def stop_curriculum() -> None:
        try:
            cleanup()  # stops the env runners first: their envs' close() sends their last updates
        finally:
            curriculum.close()

    algorithm.save_to_path = save_to_path  # type: ignore[method-assign]
    algorithm.restore_from_path = restore_from_path  # type: ignore[method-assign]
    algorithm.cleanup = stop_curriculum  # type: ignore[method-assign]


def _local(filesystem: Any) -> bool:
    """Whether a checkpoint path given with ``filesystem`` (pyarrow's, or ``None``) is a local path."""
    return filesystem is None or type(filesystem).__name__ == "LocalFileSystem"
