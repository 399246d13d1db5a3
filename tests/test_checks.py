"""The library's argument checks (syllabus.core.checks): the same rules for Python and numpy numbers, bool never
a number, Python values returned; and the public entry points that use them take numpy values like Python ones."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from timeouts import scaled

from syllabus.core.checks import (
    check_count,
    check_episode,
    check_finite,
    check_number,
    check_optional_count,
    check_positive,
    check_progress,
    check_sample_count,
    check_seconds,
    is_integer,
    is_number,
)
from syllabus.curricula import DomainRandomization, Learnability, SequentialCurriculum
from syllabus.curricula.opponent_pool import OpponentPool
from syllabus.curricula.stop_conditions import Comparison
from syllabus.envs.procgen import level_task_space
from syllabus.task_space import DiscreteTaskSpace

INTEGERS = [3, np.int64(3), np.int32(3), np.uint8(3)]
FLOATS = [2.5, np.float64(2.5), np.float32(2.5)]
BOOLS = [True, False, np.bool_(True)]
NON_FINITE = [math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("inf")]
NOT_NUMBERS = ["3", None, [3], np.array([3]), 3 + 0j]


def _ids(values: list) -> list[str]:
    return [f"{type(v).__name__}({v!r})" for v in values]


@pytest.mark.parametrize("value", INTEGERS, ids=_ids(INTEGERS))
def test_integers_python_or_numpy_are_counts_returned_as_int(value):
    assert is_integer(value) and is_number(value)
    result = check_count("n", value, 1)
    assert result == 3 and type(result) is int
    assert type(check_count("n", value, 3, maximum=3)) is int
    assert type(check_optional_count("n", value, 0)) is int
    assert type(check_sample_count(value)) is int


@pytest.mark.parametrize("value", INTEGERS + FLOATS, ids=_ids(INTEGERS + FLOATS))
def test_numbers_python_or_numpy_are_returned_as_float(value):
    for result in (
        check_finite("x", value),
        check_number("x", value, 0.0, 3.0),
        check_positive("x", value),
        check_seconds("timeout", value),
    ):
        assert result == float(value) and type(result) is float


@pytest.mark.parametrize("value", BOOLS, ids=_ids(BOOLS))
def test_a_bool_is_never_a_number(value):
    assert not is_integer(value) and not is_number(value)
    checks = [
        lambda: check_count("n", value, 0),
        lambda: check_optional_count("n", value, 0),
        lambda: check_finite("x", value),
        lambda: check_number("x", value, 0.0, 1.0),
        lambda: check_positive("x", value),
        lambda: check_seconds("timeout", value),
        lambda: check_progress(value),
    ]
    for check in checks:
        with pytest.raises(ValueError, match=rf"got {value!r}$"):
            check()


@pytest.mark.parametrize("value", FLOATS + [3.0, np.float64(3.0)], ids=_ids(FLOATS + [3.0, np.float64(3.0)]))
def test_a_float_is_not_a_count_even_when_whole(value):
    assert not is_integer(value)
    with pytest.raises(ValueError, match=rf"^n must be an integer >= 1, got {value!r}$"):
        check_count("n", value, 1)


@pytest.mark.parametrize("value", NOT_NUMBERS, ids=_ids(NOT_NUMBERS))
def test_non_numbers_are_rejected_by_every_check(value):
    assert not is_number(value)
    with pytest.raises(ValueError, match=r"^x must be a number, got "):
        check_finite("x", value)
    with pytest.raises(ValueError, match=r"^x must be a number in \[0.0, 1.0\], got "):
        check_number("x", value, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"^x must be a finite number > 0, got "):
        check_positive("x", value)
    with pytest.raises(ValueError, match=r"^n must be an integer >= 0, got "):
        check_count("n", value, 0)


@pytest.mark.parametrize("value", NON_FINITE, ids=_ids(NON_FINITE))
def test_nan_and_infinities_are_numbers_but_not_finite_or_in_any_interval(value):
    assert is_number(value)
    with pytest.raises(ValueError, match=r"^x must be finite, got "):
        check_finite("x", value)
    with pytest.raises(ValueError, match=r"must be a number in"):
        check_number("x", value, -math.inf, math.inf, open_low=True, open_high=True)
    with pytest.raises(ValueError, match=r"^timeout must be a finite number of seconds > 0, got "):
        check_seconds("timeout", value)


@pytest.mark.parametrize("low", [0, np.int64(0)], ids=["int", "numpy"])
def test_count_limits_and_messages(low):
    with pytest.raises(ValueError, match=r"^n must be an integer >= 1, got 0$"):
        check_count("n", low, 1)
    with pytest.raises(ValueError, match=r"^n must be an integer in \[1, 5\] \(num_tasks\), got 0$"):
        check_count("n", low, 1, maximum=5, note="num_tasks")
    with pytest.raises(ValueError, match=r"^n must be None or an integer >= 1, got 0$"):
        check_optional_count("n", low, 1)
    assert check_optional_count("n", None, 1) is None
    with pytest.raises(ValueError, match=r"^n must be an integer in \[0, 5\], got 6$"):
        check_count("n", low + 6, 0, maximum=5)


@pytest.mark.parametrize("value", [0.0, 1.0, np.float32(0.5), np.int64(1), 0])
def test_progress_in_unit_interval(value):
    assert check_progress(value) == float(value)


@pytest.mark.parametrize("value", [-0.1, 1.5, math.nan, np.float32(2.0), "0.5"])
def test_progress_outside_unit_interval_names_the_info_key(value):
    with pytest.raises(
        ValueError, match=r"^task progress must be a number in \[0, 1\] \(info\['task_completion'\]\)"
    ):
        check_progress(value)


@pytest.mark.parametrize("episode_return", [1.0, np.float32(-2.5), np.int64(4), 0])
@pytest.mark.parametrize("length", [0, np.int64(7)])
def test_episode_updates_take_python_and_numpy_numbers(episode_return, length):
    check_episode(episode_return, length)


def test_episode_update_of_per_agent_returns_says_which_wrapper_to_use():
    with pytest.raises(ValueError, match="MultiagentSharedCurriculumWrapper"):
        check_episode({"agent_0": 1.0}, 3)


@pytest.mark.parametrize("three", [3, np.int64(3)], ids=["int", "numpy"])
def test_library_entry_points_take_numpy_integers_like_python_ones(three, tmp_path):
    space = DiscreteTaskSpace(three)
    assert space.num_tasks == 3 and type(space.num_tasks) is int
    assert len(DomainRandomization(space).sample(three)) == 3
    pool = OpponentPool(tmp_path, max_agents=three, cache_size=three, retain_evicted=three)
    assert (pool.max_agents, pool.cache_size, pool.retain_evicted) == (3, 3, 3)
    assert type(pool.max_agents) is int
    curriculum = Learnability(space, top_k=three, success_threshold=1.0)
    assert curriculum.top_k == 3 and type(curriculum.top_k) is int
    sequential = SequentialCurriculum([0, 1], space, ["episodes>=1"], return_window=three)
    assert sequential._returns.maxlen == 3
    levels = level_task_space(three - three, three)
    assert levels.num_tasks == 3


@pytest.mark.parametrize("value", [True, np.bool_(True), 2.0], ids=["bool", "numpy bool", "float"])
def test_library_entry_points_reject_bools_and_floats_as_counts(value, tmp_path):
    space = DiscreteTaskSpace(3)
    with pytest.raises(ValueError, match=r"k must be an integer >= 0"):
        DomainRandomization(space).sample(value)
    with pytest.raises(ValueError, match=r"max_agents must be an integer >= 1"):
        OpponentPool(tmp_path, max_agents=value)
    with pytest.raises(ValueError, match=r"top_k must be None or an integer in \[1, 3\]"):
        Learnability(space, top_k=value, success_threshold=1.0)
    with pytest.raises(ValueError, match=r"num_levels must be an integer >= 1"):
        level_task_space(0, value)


@pytest.mark.parametrize("value", [100, np.int64(100), 0.5, np.float32(0.5)])
def test_stop_condition_values_take_python_and_numpy_numbers(value):
    comparison = Comparison("episodes", ">=", value)
    assert comparison.value == float(value) and type(comparison.value) is float


@pytest.mark.parametrize("value", [True, np.bool_(False), "1"])
def test_stop_condition_values_reject_bools_and_strings(value):
    with pytest.raises(TypeError, match="comparison value must be a number"):
        Comparison("episodes", ">=", value)


@pytest.mark.parametrize(
    "module",
    [
        "syllabus.task_space",
        "syllabus.core.checks",
        "syllabus.core.errors",
        "syllabus.curricula",
        "syllabus.core",
    ],
)
def test_each_layer_imports_first_in_a_fresh_interpreter(module):
    """The task spaces use the checks and errors of syllabus.core, which uses the task spaces: any of them
    imported first works, and the checks and errors import no other module of the library."""
    code = (
        f"import {module}; import syllabus.core.checks, syllabus.core.errors; "
        "from syllabus.core import Curriculum; from syllabus.task_space import TaskSpaceError; "
        "from syllabus.core.errors import TaskSpaceError as same; assert TaskSpaceError is same"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=scaled(60))
    assert result.returncode == 0, result.stderr


def test_checks_and_errors_import_no_other_library_module():
    code = (
        "import sys, syllabus.core.checks, syllabus.core.errors; "
        "print(sorted(m for m in sys.modules if m.startswith('syllabus')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=scaled(60))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(
        [
            "syllabus",
            "syllabus.core",
            "syllabus.core.checks",
            "syllabus.core.errors",
            "syllabus.core.lazy_names",
        ]
    )  # lazy_names: how syllabus.core imports its names on first use
