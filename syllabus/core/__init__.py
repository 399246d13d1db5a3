"""Core API: the curriculum base class, the task interface, statistics and synchronization.

The PettingZoo names (``PettingZooTaskEnv``, ``PettingZooTaskWrapper``, ``ParallelSyncWrapper``,
``PettingZooSyncWrapper``, ``RayPettingZooSyncWrapper``, ``DirectPettingZooSyncWrapper``) are
imported on first use, so ``syllabus.core`` does not need the ``pettingzoo`` extra.
"""

import importlib
from typing import TYPE_CHECKING, Any

from syllabus.core.curriculum import Curriculum, StepBatch
from syllabus.core.curriculum_wrapper import CurriculumWrapper
from syllabus.core.direct_sync import DirectSyncWrapper
from syllabus.core.env_sync import SyncWrapper
from syllabus.core.errors import (
    CurriculumConnectionError,
    CurriculumError,
    CurriculumTimeoutError,
    EnvWorkerError,
    TaskInterfaceError,
)
from syllabus.core.multiagent_curricula import (
    MultiagentIndependentCurriculumWrapper,
    MultiagentSharedCurriculumWrapper,
)
from syllabus.core.multiprocessing_sync import (
    MultiProcessingCurriculumWrapper,
    MultiProcessingSyncWrapper,
    TaskQueue,
    UpdateQueue,
    make_multiprocessing_curriculum,
)
from syllabus.core.ray import (
    RayCurriculumWrapper,
    RaySyncWrapper,
    attach_ray_curriculum,
    make_ray_curriculum,
)
from syllabus.core.stat_recorder import StatRecorder
from syllabus.core.task_interface import ReinitTaskWrapper, TaskEnv, TaskWrapper

if TYPE_CHECKING:
    from syllabus.core.pettingzoo_sync import (
        DirectPettingZooSyncWrapper,
        ParallelSyncWrapper,
        PettingZooSyncWrapper,
        RayPettingZooSyncWrapper,
    )
    from syllabus.core.pettingzoo_task_interface import PettingZooTaskEnv, PettingZooTaskWrapper

_PETTINGZOO = {
    "DirectPettingZooSyncWrapper": "syllabus.core.pettingzoo_sync",
    "ParallelSyncWrapper": "syllabus.core.pettingzoo_sync",
    "PettingZooSyncWrapper": "syllabus.core.pettingzoo_sync",
    "RayPettingZooSyncWrapper": "syllabus.core.pettingzoo_sync",
    "PettingZooTaskEnv": "syllabus.core.pettingzoo_task_interface",
    "PettingZooTaskWrapper": "syllabus.core.pettingzoo_task_interface",
}


def __getattr__(name: str) -> Any:
    """Imports the PettingZoo names on first use (they need the ``pettingzoo`` extra)."""
    module = _PETTINGZOO.get(name)
    if module is None:
        raise AttributeError(f"module 'syllabus.core' has no attribute {name!r}")
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != "pettingzoo":
            raise
        raise ImportError(
            f"syllabus.core.{name} needs PettingZoo: pip install 'syllabus-curriculum[pettingzoo]'"
        ) from None
    return getattr(imported, name)


__all__ = [
    "Curriculum",
    "CurriculumConnectionError",
    "CurriculumError",
    "CurriculumTimeoutError",
    "CurriculumWrapper",
    "DirectPettingZooSyncWrapper",
    "DirectSyncWrapper",
    "EnvWorkerError",
    "MultiProcessingCurriculumWrapper",
    "MultiagentIndependentCurriculumWrapper",
    "MultiagentSharedCurriculumWrapper",
    "MultiProcessingSyncWrapper",
    "ParallelSyncWrapper",
    "PettingZooSyncWrapper",
    "PettingZooTaskEnv",
    "PettingZooTaskWrapper",
    "RayCurriculumWrapper",
    "RayPettingZooSyncWrapper",
    "RaySyncWrapper",
    "ReinitTaskWrapper",
    "StatRecorder",
    "StepBatch",
    "SyncWrapper",
    "TaskEnv",
    "TaskInterfaceError",
    "TaskQueue",
    "TaskWrapper",
    "UpdateQueue",
    "attach_ray_curriculum",
    "make_multiprocessing_curriculum",
    "make_ray_curriculum",
]
