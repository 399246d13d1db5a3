"""Deprecated: the messages are in [`syllabus.core.messages`][syllabus.core.messages],
[`CurriculumDispatcher`][syllabus.core.dispatcher.CurriculumDispatcher] in
[`syllabus.core.dispatcher`][syllabus.core.dispatcher]."""

from syllabus.core.deprecation import moved_module

__getattr__ = moved_module(__name__, "syllabus.core.messages", "syllabus.core.dispatcher")
