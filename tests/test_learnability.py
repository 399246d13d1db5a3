"""Tests of the Learnability (SFL) curriculum."""

import numpy as np
import pytest

from syllabus.core.errors import CurriculumError
from syllabus.curricula.learnability import Learnability
from syllabus.task_space import BoxTaskSpace, DiscreteTaskSpace

# Success histories with running means 0.5, 0.25, 1.0 and 0.1 for tasks 0-3; task 4 is unplayed.
HISTORIES = {0: [0.0, 1.0], 1: [0.0, 0.0, 0.0, 1.0], 2: [1.0], 3: [0.1, 0.1, 0.1]}
MEANS = np.array([0.5, 0.25, 1.0, 0.1])


def _feed(curriculum, histories=HISTORIES):
    for task, successes in histories.items():
        for s in successes:
            curriculum.update_on_episode(0.0, 10, task, progress=s)


def _mix(weights, eps):
    return (1 - eps) * weights / weights.sum() + eps / len(weights)


def test_uniform_before_any_data():
    for top_k in (None, 2):
        curriculum = Learnability(DiscreteTaskSpace(5), top_k=top_k)
        np.testing.assert_allclose(curriculum.task_distribution(), np.full(5, 0.2))


def test_proportional_to_p_times_one_minus_p():
    curriculum = Learnability(DiscreteTaskSpace(5), eps=0.1)
    _feed(curriculum)
    scores = np.append(MEANS * (1 - MEANS), 0.25)  # the unplayed task scores 0.25
    np.testing.assert_allclose(curriculum.scores(), scores)
    np.testing.assert_allclose(curriculum.task_distribution(), _mix(scores, 0.1))


def test_ema_success_rate():
    curriculum = Learnability(DiscreteTaskSpace(2), ema_alpha=0.5, eps=0.0)
    _feed(curriculum, {0: [1.0, 0.0, 0.0], 1: [0.0]})
    p = 0.5 * 0.0 + 0.5 * (0.5 * 0.0 + 0.5 * 1.0)  # starts at the first observation
    np.testing.assert_allclose(curriculum.scores(), [p * (1 - p), 0.0])
    np.testing.assert_allclose(curriculum.task_distribution(), [1.0, 0.0])


def test_top_k_is_uniform_over_best_tasks():
    curriculum = Learnability(DiscreteTaskSpace(5), top_k=2, eps=0.2)
    _feed(curriculum)
    # Scores: 0.25 (task 0), 0.1875, 0, 0.09, 0.25 (unplayed task 4).
    np.testing.assert_allclose(curriculum.task_distribution(), _mix(np.array([1.0, 0, 0, 0, 1.0]), 0.2))


def test_top_k_breaks_ties_by_lower_encoding_and_skips_zero_scores():
    curriculum = Learnability(DiscreteTaskSpace(4), top_k=3, eps=0.0)
    _feed(curriculum, {0: [1.0], 1: [0.5], 2: [0.0], 3: [0.5]})  # scores 0, 0.25, 0, 0.25
    np.testing.assert_allclose(curriculum.task_distribution(), [0.0, 0.5, 0.0, 0.5])
    tied = Learnability(DiscreteTaskSpace(4), top_k=2, eps=0.0)
    _feed(tied, {3: [0.5]})  # every score is 0.25
    np.testing.assert_allclose(tied.task_distribution(), [0.5, 0.5, 0.0, 0.0])


@pytest.mark.parametrize("top_k", [None, 2])
def test_uniform_when_no_task_is_learnable(top_k):
    curriculum = Learnability(DiscreteTaskSpace(3), top_k=top_k, eps=0.0)
    _feed(curriculum, {0: [1.0], 1: [0.0], 2: [1.0, 1.0]})
    np.testing.assert_allclose(curriculum.task_distribution(), np.full(3, 1 / 3))


def test_zero_probability_tasks_are_never_sampled():
    curriculum = Learnability(DiscreteTaskSpace(["a", "b", "c"]), eps=0.0, random_seed=0)
    _feed(curriculum, {"a": [1.0], "b": [0.5], "c": [0.0]})
    assert set(curriculum.sample(500)) == {"b"}


def test_threshold_on_return_and_task_progress():
    curriculum = Learnability(DiscreteTaskSpace(2), success_threshold=1.0, eps=0.0)
    curriculum.update_on_episode(1.0, 10, 0)  # success
    curriculum.update_on_episode(0.5, 10, 0)  # failure
    curriculum.update_task_progress(1, 0.2)
    np.testing.assert_allclose(curriculum.success_rate, [0.5, 0.2])


def test_error_without_progress_or_threshold():
    with pytest.raises(CurriculumError, match=r"task_completion.*success_threshold"):
        Learnability(DiscreteTaskSpace(2)).update_on_episode(1.0, 10, 1)


def test_state_dict_round_trip_preserves_samples():
    space = DiscreteTaskSpace(6)
    original = Learnability(space, top_k=3, ema_alpha=0.2, random_seed=5)
    _feed(original)
    original.sample(7)
    restored = Learnability(space, top_k=3, ema_alpha=0.2, random_seed=11)
    restored.load_state_dict(original.state_dict())
    assert restored.sample(50) == original.sample(50)
    original.update_on_episode(0.0, 10, 5, progress=0.4)
    restored.update_on_episode(0.0, 10, 5, progress=0.4)
    assert restored.sample(50) == original.sample(50)


def test_rejects_non_enumerable_space():
    with pytest.raises(ValueError, match="enumerable"):
        Learnability(BoxTaskSpace(0.0, 1.0))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"top_k": 0}, r"top_k must be None or an integer in \[1, 4\] \(num_tasks\), got 0"),
        ({"top_k": 5}, "top_k.*got 5"),
        ({"top_k": 2.0}, "top_k.*got 2.0"),
        ({"top_k": True}, "top_k.*got True"),
        ({"eps": 2}, r"eps must be a number in \[0.0, 1.0\], got 2$"),
        ({"ema_alpha": 0}, r"ema_alpha must be a number in \(0.0, 1.0\], got 0"),
        ({"success_threshold": "high"}, "success_threshold.*'high'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Learnability(DiscreteTaskSpace(4), **kwargs)
