"""Deprecated: [`SuccessCurriculum`][syllabus.curricula.success_curriculum.SuccessCurriculum] is in
[`syllabus.curricula.success_curriculum`][syllabus.curricula.success_curriculum], the number checks in
[`syllabus.core.checks`][syllabus.core.checks]."""

from syllabus.core.deprecation import moved_module

__getattr__ = moved_module(__name__, "syllabus.core.checks", "syllabus.curricula.success_curriculum")
