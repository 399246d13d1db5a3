"""Prioritized Level Replay and Robust PLR."""

from syllabus.curricula.plr.plr import MODES, SCHEDULES, PrioritizedLevelReplay, replay_mask
from syllabus.curricula.plr.reference import ReferenceModeError
from syllabus.curricula.plr.sampling import TRANSFORMS
from syllabus.curricula.plr.scoring import STRATEGIES

__all__ = [
    "MODES",
    "SCHEDULES",
    "STRATEGIES",
    "TRANSFORMS",
    "PrioritizedLevelReplay",
    "ReferenceModeError",
    "replay_mask",
]
