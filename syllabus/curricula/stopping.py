"""Deprecated: the stop conditions are in [`syllabus.curricula.stop_conditions`][syllabus.curricula.stop_conditions]."""

from syllabus.core.deprecation import moved_module

__getattr__ = moved_module(__name__, "syllabus.curricula.stop_conditions")
