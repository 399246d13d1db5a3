"""Prioritized Level Replay and Robust PLR."""

from syllabus.curricula.plr.plr import SCHEDULES, PrioritizedLevelReplay, replay_mask
from syllabus.curricula.plr.sampling import TRANSFORMS
from syllabus.curricula.plr.scoring import STRATEGIES

__all__ = ["SCHEDULES", "STRATEGIES", "TRANSFORMS", "PrioritizedLevelReplay", "replay_mask"]
