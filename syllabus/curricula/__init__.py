"""Curricula: simple ones (Constant, DomainRandomization, SequentialCurriculum), automatic ones, and self-play."""

from syllabus.curricula.box_schedules import ExpandingBox, SimulatedAnnealing
from syllabus.curricula.constant import Constant
from syllabus.curricula.domain_randomization import DomainRandomization
from syllabus.curricula.dual import DualCurriculumWrapper
from syllabus.curricula.learnability import Learnability
from syllabus.curricula.learning_progress import LearningProgress
from syllabus.curricula.opponent_pool import DirectoryStore, OpponentPool, RayStore, SnapshotStore
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.curricula.self_play import (
    FictitiousSelfPlay,
    OpponentCurriculum,
    OpponentTaskSpace,
    PrioritizedFictitiousSelfPlay,
    SelfPlay,
)
from syllabus.curricula.sequential import SequentialCurriculum

__all__ = [
    "Constant",
    "DirectoryStore",
    "DomainRandomization",
    "DualCurriculumWrapper",
    "ExpandingBox",
    "FictitiousSelfPlay",
    "Learnability",
    "LearningProgress",
    "OpponentCurriculum",
    "OpponentPool",
    "OpponentTaskSpace",
    "PrioritizedFictitiousSelfPlay",
    "PrioritizedLevelReplay",
    "RayStore",
    "SelfPlay",
    "SequentialCurriculum",
    "SimulatedAnnealing",
    "SnapshotStore",
]
