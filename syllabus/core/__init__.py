"""Core API: the curriculum base class, the task interface, statistics and synchronization."""

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
from syllabus.core.multiprocessing_sync import (
    MultiProcessingCurriculumWrapper,
    MultiProcessingSyncWrapper,
    TaskQueue,
    UpdateQueue,
    make_multiprocessing_curriculum,
)
from syllabus.core.ray_sync import (
    RayCurriculumWrapper,
    RaySyncWrapper,
    attach_ray_curriculum,
    make_ray_curriculum,
)
from syllabus.core.stat_recorder import StatRecorder
from syllabus.core.task_interface import ReinitTaskWrapper, TaskEnv, TaskWrapper

__all__ = [
    "Curriculum",
    "CurriculumConnectionError",
    "CurriculumError",
    "CurriculumTimeoutError",
    "CurriculumWrapper",
    "DirectSyncWrapper",
    "EnvWorkerError",
    "MultiProcessingCurriculumWrapper",
    "MultiProcessingSyncWrapper",
    "RayCurriculumWrapper",
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
