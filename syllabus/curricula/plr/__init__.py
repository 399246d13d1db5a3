"""Prioritized Level Replay and Robust PLR."""

from syllabus.core.errors import ReferenceModeError
from syllabus.curricula.plr.plr import PrioritizedLevelReplay, replay_mask
from syllabus.curricula.plr.sampling import TRANSFORMS
from syllabus.curricula.plr.scoring import STRATEGIES
from syllabus.curricula.plr.settings import MODES, SCHEDULES

__all__ = [
    "MODES",
    "SCHEDULES",
    "STRATEGIES",
    "TRANSFORMS",
    "PrioritizedLevelReplay",
    "ReferenceModeError",
    "replay_mask",
]
