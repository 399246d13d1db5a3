"""Curricula: simple ones (Constant, DomainRandomization, SequentialCurriculum) and automatic ones."""

from syllabus.curricula.constant import Constant
from syllabus.curricula.domain_randomization import DomainRandomization
from syllabus.curricula.sequential import SequentialCurriculum

__all__ = ["Constant", "DomainRandomization", "SequentialCurriculum"]
