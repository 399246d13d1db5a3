"""Curricula: simple ones (Constant, DomainRandomization, SequentialCurriculum) and automatic ones."""

from syllabus.curricula.box_schedules import ExpandingBox, SimulatedAnnealing
from syllabus.curricula.constant import Constant
from syllabus.curricula.domain_randomization import DomainRandomization
from syllabus.curricula.learnability import Learnability
from syllabus.curricula.learning_progress import LearningProgress
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.curricula.sequential import SequentialCurriculum

__all__ = [
    "Constant",
    "DomainRandomization",
    "ExpandingBox",
    "Learnability",
    "LearningProgress",
    "PrioritizedLevelReplay",
    "SequentialCurriculum",
    "SimulatedAnnealing",
]
