"""Renamed modules: the old import paths keep working, with a DeprecationWarning that names the new module."""

from __future__ import annotations

import importlib
import warnings

import pytest

MOVED = [
    ("syllabus.curricula.stopping", "parse_condition", "syllabus.curricula.stop_conditions"),
    ("syllabus.curricula.stopping", "Comparison", "syllabus.curricula.stop_conditions"),
    ("syllabus.curricula.success", "SuccessCurriculum", "syllabus.curricula.success_curriculum"),
    ("syllabus.curricula.success", "check_number", "syllabus.core.checks"),
    ("syllabus.curricula.success", "check_progress", "syllabus.core.checks"),
    ("syllabus.core.protocol", "CurriculumDispatcher", "syllabus.core.dispatcher"),
    ("syllabus.core.protocol", "Hello", "syllabus.core.messages"),
    ("syllabus.core.protocol", "EpisodeUpdate", "syllabus.core.messages"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED, ids=[f"{old}.{name}" for old, name, _ in MOVED])
def test_old_path_gives_the_same_object_and_warns_naming_the_new_module(old, name, new):
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=rf"^{old} is deprecated: import {name} from {new}$"):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)


def test_from_import_of_an_old_path_warns_at_the_importing_line():
    with pytest.warns(DeprecationWarning) as record:
        from syllabus.curricula.stopping import Condition  # noqa: F401
    assert record[0].filename == __file__


@pytest.mark.parametrize(
    "old", ["syllabus.curricula.stopping", "syllabus.curricula.success", "syllabus.core.protocol"]
)
def test_old_path_has_no_other_names(old):
    module = importlib.import_module(old)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match=rf"module '{old}' has no attribute 'no_such_name'"):
            module.no_such_name  # noqa: B018
        with pytest.raises(AttributeError):
            module._private  # noqa: B018
