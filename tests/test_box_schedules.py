"""Tests of the SimulatedAnnealing and ExpandingBox schedules over Box task spaces."""

import numpy as np
import pytest

from syllabus.core.errors import CurriculumError
from syllabus.curricula.box_schedules import ExpandingBox, SimulatedAnnealing
from syllabus.task_space import BoxTaskSpace, DiscreteTaskSpace


# -------------------------------------------------------------- SimulatedAnnealing
def test_annealing_interpolates_over_steps():
    curriculum = SimulatedAnnealing(BoxTaskSpace(0.0, 10.0), 2.0, 8.0, total_steps=100)
    assert curriculum.sample(3) == [2.0, 2.0, 2.0]
    curriculum.update_on_episode(0.0, 30, 2.0)
    curriculum.update_on_episode(0.0, 20, 2.0)  # 50 steps: halfway
    assert curriculum.sample() == [5.0]
    assert curriculum.metrics()["curriculum/anneal_fraction"] == 0.5
    curriculum.update_on_episode(0.0, 75, 5.0)  # 125 steps: past the end
    assert curriculum.sample() == [8.0]


def test_annealing_vector_tasks_can_decrease():
    space = BoxTaskSpace(-1.0, 1.0, shape=(2,))
    curriculum = SimulatedAnnealing(space, [0.0, 1.0], [1.0, -1.0], total_steps=4)
    curriculum.update_on_episode(0.0, 1, [0.0, 1.0])
    (task,) = curriculum.sample()
    assert task.dtype == np.float32
    np.testing.assert_allclose(task, [0.25, 0.5])
    assert all(space.contains(t) for t in curriculum.sample(2))


def test_annealing_state_dict_round_trip():
    space = BoxTaskSpace(0.0, 1.0)
    original = SimulatedAnnealing(space, 0.0, 1.0, total_steps=10)
    original.update_on_episode(0.0, 3, 0.0)
    restored = SimulatedAnnealing(space, 0.0, 1.0, total_steps=10)
    restored.load_state_dict(original.state_dict())
    assert restored.sample(2) == original.sample(2)
    assert restored.fraction == pytest.approx(0.3)


@pytest.mark.parametrize(
    "space, args, match",
    [
        (DiscreteTaskSpace(3), (0, 2, 10), "SimulatedAnnealing needs a BoxTaskSpace, got DiscreteTaskSpace"),
        (BoxTaskSpace(0.0, 1.0), (1.5, 0.5, 10), "start must be a task of BoxTaskSpace.*got 1.5"),
        (BoxTaskSpace(0.0, 1.0), (0.0, -1.0, 10), "end must be a task.*got -1.0"),
        (BoxTaskSpace(0.0, 1.0, shape=(2,)), (0.0, [0.0, 1.0], 10), r"start.*shape \(2,\)"),
        (BoxTaskSpace(0.0, 1.0), (0.0, 1.0, 0), "total_steps must be an integer >= 1, got 0"),
        (BoxTaskSpace(0.0, 1.0), (0.0, 1.0, 10.5), "total_steps.*10.5"),
    ],
)
def test_annealing_bad_arguments(space, args, match):
    with pytest.raises(ValueError, match=match):
        SimulatedAnnealing(space, *args)


# -------------------------------------------------------------------- ExpandingBox
def _succeed(curriculum, episodes, progress=1.0):
    for _ in range(episodes):
        curriculum.update_on_episode(0.0, 10, curriculum.sample()[0], progress=progress)


def test_expanding_box_samples_inside_sub_box():
    space = BoxTaskSpace(0.0, 10.0, shape=(2,))
    curriculum = ExpandingBox(space, [4.0, 1.0], [5.0, 2.0], random_seed=0)
    tasks = np.array(curriculum.sample(200))
    assert tasks.shape == (200, 2)
    assert (tasks >= [4.0, 1.0]).all() and (tasks <= [5.0, 2.0]).all()
    assert tasks.std(axis=0).min() > 0.2  # spread over the box, not a point


def test_expanding_box_widens_exactly_after_window():
    curriculum = ExpandingBox(BoxTaskSpace(0.0, 10.0), 4.0, 6.0, window=5, expand_fraction=0.1, random_seed=0)
    _succeed(curriculum, 4)
    assert (curriculum.low, curriculum.high) == (4.0, 6.0)
    _succeed(curriculum, 1)
    assert (curriculum.low, curriculum.high) == pytest.approx((3.0, 7.0))
    _succeed(curriculum, 4)  # the window restarted after the widening
    assert (curriculum.low, curriculum.high) == pytest.approx((3.0, 7.0))
    _succeed(curriculum, 1)
    assert (curriculum.low, curriculum.high) == pytest.approx((2.0, 8.0))
    assert curriculum.metrics()["curriculum/box_expansions"] == 2.0


def test_expanding_box_uses_mean_progress_of_sliding_window():
    curriculum = ExpandingBox(
        BoxTaskSpace(0.0, 1.0), 0.5, 0.5, success_threshold=0.75, window=4, random_seed=0
    )
    _succeed(curriculum, 4, progress=0.5)  # mean 0.5 < 0.75
    _succeed(curriculum, 1, progress=1.0)  # window 0.5, 0.5, 0.5, 1.0: mean 0.625
    assert (curriculum.low, curriculum.high) == (0.5, 0.5)
    _succeed(curriculum, 1, progress=1.0)  # window 0.5, 0.5, 1.0, 1.0: mean 0.75
    assert (curriculum.low, curriculum.high) == pytest.approx((0.4, 0.6))


def test_expanding_box_clips_to_space_bounds():
    space = BoxTaskSpace([0.0, 0.0], [1.0, 10.0])
    curriculum = ExpandingBox(space, [0.05, 5.0], [0.9, 5.0], window=1, expand_fraction=0.2, random_seed=0)
    _succeed(curriculum, 1)
    np.testing.assert_allclose(curriculum.low, [0.0, 3.0])
    np.testing.assert_allclose(curriculum.high, [1.0, 7.0])
    _succeed(curriculum, 5)
    np.testing.assert_allclose(curriculum.low, [0.0, 0.0])
    np.testing.assert_allclose(curriculum.high, [1.0, 10.0])
    assert all(space.contains(task) for task in curriculum.sample(100))


def test_expanding_box_needs_progress():
    curriculum = ExpandingBox(BoxTaskSpace(0.0, 1.0), 0.2, 0.4)
    with pytest.raises(CurriculumError, match="task_completion"):
        curriculum.update_on_episode(1.0, 10, 0.3)


def test_expanding_box_state_dict_round_trip():
    space = BoxTaskSpace(0.0, 1.0, shape=(3,))
    original = ExpandingBox(space, [0.4] * 3, [0.6] * 3, window=3, random_seed=1)
    _succeed(original, 4)  # one widening, one episode in the new window
    restored = ExpandingBox(space, [0.4] * 3, [0.6] * 3, window=3, random_seed=2)
    restored.load_state_dict(original.state_dict())
    np.testing.assert_array_equal(restored.sample(10), original.sample(10))
    _succeed(original, 2)
    _succeed(restored, 2)  # the restored window held one episode, so this widens both
    np.testing.assert_array_equal(restored.low, original.low)
    assert restored.expansions == original.expansions == 2


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((-0.5, 0.5), {}, "initial_low must be a task of BoxTaskSpace.*got -0.5"),
        ((0.2, 1.5), {}, "initial_high must be a task.*got 1.5"),
        ((0.6, 0.4), {}, "initial_low must be <= initial_high, got 0.6 and 0.4"),
        (
            (0.2, 0.4),
            {"success_threshold": 1.2},
            r"success_threshold must be a number in \[0.0, 1.0\], got 1.2",
        ),
        ((0.2, 0.4), {"window": 0}, "window must be an integer >= 1, got 0"),
        ((0.2, 0.4), {"expand_fraction": 0.0}, r"expand_fraction must be a number in \(0.0, 1.0\], got 0.0"),
    ],
)
def test_expanding_box_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExpandingBox(BoxTaskSpace(0.0, 1.0), *args, **kwargs)


def test_expanding_box_rejects_discrete_space():
    with pytest.raises(ValueError, match="ExpandingBox needs a BoxTaskSpace"):
        ExpandingBox(DiscreteTaskSpace(3), 0, 1)
