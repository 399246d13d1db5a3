"""Core API: the curriculum base class, the task interface, statistics and synchronization.

Each name is imported from its module on first use: importing one module of ``syllabus.core`` (e.g.
``syllabus.core.errors``, which the task spaces use) does not import the others, and
the PettingZoo names (``PettingZooTaskEnv``, ``PettingZooTaskWrapper``, ``ParallelSyncWrapper``,
``PettingZooSyncWrapper``, ``RayPettingZooSyncWrapper``, ``DirectPettingZooSyncWrapper``) need the
``pettingzoo`` extra only when used.
"""

from typing import TYPE_CHECKING

from syllabus.core.lazy_names import lazy_names

if TYPE_CHECKING:
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
        TaskSpaceError,
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
    from syllabus.core.pettingzoo_sync import (
        DirectPettingZooSyncWrapper,
        ParallelSyncWrapper,
        PettingZooSyncWrapper,
        RayPettingZooSyncWrapper,
    )
    from syllabus.core.pettingzoo_task_interface import PettingZooTaskEnv, PettingZooTaskWrapper
    from syllabus.core.ray import (
        RayCurriculumWrapper,
        RaySyncWrapper,
        attach_ray_curriculum,
        make_ray_curriculum,
    )
    from syllabus.core.stat_recorder import StatRecorder
    from syllabus.core.task_interface import ReinitTaskWrapper, TaskEnv, TaskWrapper

_MODULES = {
    "syllabus.core.curriculum": ("Curriculum", "StepBatch"),
    "syllabus.core.curriculum_wrapper": ("CurriculumWrapper",),
    "syllabus.core.direct_sync": ("DirectSyncWrapper",),
    "syllabus.core.env_sync": ("SyncWrapper",),
    "syllabus.core.errors": (
        "CurriculumConnectionError",
        "CurriculumError",
        "CurriculumTimeoutError",
        "EnvWorkerError",
        "TaskInterfaceError",
        "TaskSpaceError",
    ),
    "syllabus.core.multiagent_curricula": (
        "MultiagentIndependentCurriculumWrapper",
        "MultiagentSharedCurriculumWrapper",
    ),
    "syllabus.core.multiprocessing_sync": (
        "MultiProcessingCurriculumWrapper",
        "MultiProcessingSyncWrapper",
        "TaskQueue",
        "UpdateQueue",
        "make_multiprocessing_curriculum",
    ),
    "syllabus.core.pettingzoo_sync": (
        "DirectPettingZooSyncWrapper",
        "ParallelSyncWrapper",
        "PettingZooSyncWrapper",
        "RayPettingZooSyncWrapper",
    ),
    "syllabus.core.pettingzoo_task_interface": ("PettingZooTaskEnv", "PettingZooTaskWrapper"),
    "syllabus.core.ray": (
        "RayCurriculumWrapper",
        "RaySyncWrapper",
        "attach_ray_curriculum",
        "make_ray_curriculum",
    ),
    "syllabus.core.stat_recorder": ("StatRecorder",),
    "syllabus.core.task_interface": ("ReinitTaskWrapper", "TaskEnv", "TaskWrapper"),
}
_MODULE_OF = {name: module for module, names in _MODULES.items() for name in names}


def _needs_pettingzoo(name: str, module: str, exc: ModuleNotFoundError) -> Exception | None:
    if exc.name != "pettingzoo" or "pettingzoo" not in module:
        return None
    return ImportError(
        f"syllabus.core.{name} needs PettingZoo: pip install 'syllabus-curriculum[pettingzoo]'"
    )


__getattr__ = lazy_names(__name__, _MODULE_OF, _needs_pettingzoo)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "TaskSpaceError",
    "TaskWrapper",
    "UpdateQueue",
    "attach_ray_curriculum",
    "make_multiprocessing_curriculum",
    "make_ray_curriculum",
]
