"""The old module path `syllabus.core.ray_sync` keeps every name it held, each with a DeprecationWarning."""

from __future__ import annotations

import importlib

import pytest

import syllabus.core
import syllabus.core.ray

# Every name the module held before it became the package syllabus.core.ray, and where it is now.
OLD_NAMES = {
    "DEFAULT_NAME": "syllabus.core.ray.calls",
    "DEFAULT_TIMEOUT": "syllabus.core.ray.calls",
    "DEFAULT_START_TIMEOUT": "syllabus.core.ray.handle",
    "DEFAULT_MAX_IN_FLIGHT": "syllabus.core.ray.transport",
    "DEFAULT_PREFETCH": "syllabus.core.ray.transport",
    "DEFAULT_BATCH_SIZE": "syllabus.core.ray.transport",
    "FORK_FIX": "syllabus.core.ray.transport",
    "forked_from_ray": "syllabus.core.ray.transport",
    "ray_connector": "syllabus.core.ray.transport",
    "RayCurriculumWrapper": "syllabus.core.ray.handle",
    "make_ray_curriculum": "syllabus.core.ray.handle",
    "attach_ray_curriculum": "syllabus.core.ray.handle",
    "RaySyncWrapper": "syllabus.core.ray.env_wrapper",
}


@pytest.mark.parametrize("name", sorted(OLD_NAMES))
def test_old_path_gives_the_same_object_with_a_warning_naming_the_new_module(name):
    old = importlib.import_module("syllabus.core.ray_sync")
    with pytest.warns(
        DeprecationWarning,
        match=rf"syllabus.core.ray_sync is deprecated: import {name} from {OLD_NAMES[name]}$",
    ):
        moved = getattr(old, name)
    assert moved is getattr(importlib.import_module(OLD_NAMES[name]), name)


def test_the_private_actor_lookup_is_the_public_find_actor():
    from syllabus.core import ray_sync

    with pytest.warns(DeprecationWarning, match="import find_actor from syllabus.core.ray.actor"):
        assert ray_sync._find_actor is syllabus.core.ray.find_actor


def test_from_import_of_the_old_path_works_and_warns():
    with pytest.warns(DeprecationWarning, match="syllabus.core.ray_sync is deprecated"):
        from syllabus.core.ray_sync import RaySyncWrapper, make_ray_curriculum
    assert RaySyncWrapper is syllabus.core.RaySyncWrapper
    assert make_ray_curriculum is syllabus.core.make_ray_curriculum


def test_unknown_names_are_still_attribute_errors():
    from syllabus.core import ray_sync

    with pytest.raises(AttributeError, match="'syllabus.core.ray_sync' has no attribute 'no_such_name'"):
        ray_sync.no_such_name  # noqa: B018
