"""Tests of the LearningProgress curriculum."""

import numpy as np
import pytest

from syllabus.core.errors import CurriculumError
from syllabus.curricula.learning_progress import LearningProgress
from syllabus.task_space import BoxTaskSpace, DiscreteTaskSpace


def _reference_distribution(histories, num_tasks, alpha=0.1, theta=0.1, eps=0.05):
    """The OMNI learning-progress distribution, computed from scratch for per-task success lists."""

    def reweight(p):
        return p * (1 - theta) / (p + theta * (1 - 2 * p))

    lp = np.zeros(num_tasks)
    for task, successes in histories.items():
        fast = slow = successes[0]
        for s in successes[1:]:
            fast = alpha * s + (1 - alpha) * fast
            slow = alpha * fast + (1 - alpha) * slow
        lp[task] = abs(reweight(fast) - reweight(slow))
    std = lp.std()
    z = (lp - lp.mean()) / (std if std > 0 else 1.0)
    weights = 1.0 / (1.0 + np.exp(-z))
    return (1 - eps) * weights / weights.sum() + eps / num_tasks


def _feed(curriculum, histories):
    """Feeds the histories as episode progress, interleaving tasks."""
    longest = max(len(h) for h in histories.values())
    for step in range(longest):
        for task, successes in histories.items():
            if step < len(successes):
                curriculum.update_on_episode(0.0, 10, task, progress=successes[step])


def test_uniform_before_any_data():
    curriculum = LearningProgress(DiscreteTaskSpace(4))
    np.testing.assert_allclose(curriculum.task_distribution(), np.full(4, 0.25))


def test_hand_computed_two_task_distribution():
    # Task 0 sees successes 0 then 1: fast = 0.1, slow = 0.01, r(0.1) = 0.5, r(0.01) = 1/12,
    # so lp = [5/12, 0], z = [1, -1], and the sigmoid weights sum to 1 already.
    curriculum = LearningProgress(DiscreteTaskSpace(2))
    curriculum.update_on_episode(0.0, 5, 0, progress=0.0)
    curriculum.update_on_episode(0.0, 5, 0, progress=1.0)
    sigmoid_one = 1.0 / (1.0 + np.exp(-1.0))
    expected = 0.95 * np.array([sigmoid_one, 1.0 - sigmoid_one]) + 0.025
    np.testing.assert_allclose(curriculum.task_distribution(), expected)


@pytest.mark.parametrize("alpha, theta, eps", [(0.1, 0.1, 0.05), (0.3, 0.25, 0.0), (0.5, 0.5, 0.2)])
def test_distribution_matches_closed_form(alpha, theta, eps):
    rng = np.random.default_rng(0)
    histories = {task: list(rng.random(int(rng.integers(1, 30)))) for task in range(6)}  # tasks 6, 7 unplayed
    curriculum = LearningProgress(DiscreteTaskSpace(8), ema_alpha=alpha, p_theta=theta, eps=eps)
    _feed(curriculum, histories)
    expected = _reference_distribution(histories, 8, alpha, theta, eps)
    np.testing.assert_allclose(curriculum.task_distribution(), expected, rtol=1e-12)


def test_task_progress_updates_count_as_observations():
    histories = {0: [0.0, 0.2, 0.6], 1: [1.0, 1.0]}
    by_episode = LearningProgress(DiscreteTaskSpace(3))
    by_progress = LearningProgress(DiscreteTaskSpace(3))
    _feed(by_episode, histories)
    for task, successes in histories.items():
        for s in successes:
            by_progress.update_task_progress(task, s)
    np.testing.assert_allclose(by_progress.task_distribution(), by_episode.task_distribution())


def test_rising_task_beats_flat_task():
    curriculum = LearningProgress(DiscreteTaskSpace(["rising", "flat"]), random_seed=0)
    for step in range(50):
        curriculum.update_on_episode(0.0, 10, "rising", progress=step / 49)
        curriculum.update_on_episode(0.0, 10, "flat", progress=0.5)
    rising, flat = curriculum.task_distribution()
    assert rising > flat
    samples = curriculum.sample(400)
    assert samples.count("rising") > samples.count("flat")


def test_samples_follow_distribution():
    curriculum = LearningProgress(DiscreteTaskSpace(3), eps=0.0, random_seed=1)
    _feed(curriculum, {0: [0.0, 0.5, 1.0, 1.0], 1: [0.5] * 4})
    counts = np.bincount(curriculum.sample(20000), minlength=3) / 20000
    np.testing.assert_allclose(counts, curriculum.task_distribution(), atol=0.015)


def test_threshold_on_return_without_progress():
    thresholded = LearningProgress(DiscreteTaskSpace(2), success_threshold=5.0)
    explicit = LearningProgress(DiscreteTaskSpace(2))
    for episode_return, success in [(0.0, 0.0), (5.0, 1.0), (7.5, 1.0), (4.9, 0.0)]:
        thresholded.update_on_episode(episode_return, 10, 0)
        explicit.update_on_episode(0.0, 10, 0, progress=success)
    np.testing.assert_allclose(thresholded.task_distribution(), explicit.task_distribution())


def test_progress_takes_precedence_over_threshold():
    thresholded = LearningProgress(DiscreteTaskSpace(2), success_threshold=5.0)
    explicit = LearningProgress(DiscreteTaskSpace(2))
    for progress in [0.0, 0.3, 0.9]:
        thresholded.update_on_episode(100.0, 10, 1, progress=progress)
        explicit.update_on_episode(0.0, 10, 1, progress=progress)
    np.testing.assert_allclose(thresholded.task_distribution(), explicit.task_distribution())


def test_error_without_progress_or_threshold():
    curriculum = LearningProgress(DiscreteTaskSpace(2))
    with pytest.raises(CurriculumError, match=r"task_completion.*success_threshold"):
        curriculum.update_on_episode(1.0, 10, 0)


@pytest.mark.parametrize("progress", [-0.1, 1.5, float("nan")])
def test_progress_outside_unit_interval_is_rejected(progress):
    with pytest.raises(ValueError, match="progress"):
        LearningProgress(DiscreteTaskSpace(2)).update_on_episode(0.0, 10, 0, progress=progress)


def test_records_stats_through_base_class():
    curriculum = LearningProgress(DiscreteTaskSpace(2), record_stats=True)
    curriculum.update_on_episode(3.0, 10, 1, progress=1.0)
    assert curriculum.stat_recorder.mean_return(1) == 3.0


def test_task_distribution_is_a_copy():
    curriculum = LearningProgress(DiscreteTaskSpace(2))
    curriculum.task_distribution()[:] = 0.0
    np.testing.assert_allclose(curriculum.task_distribution(), [0.5, 0.5])


def test_state_dict_round_trip_preserves_samples():
    space = DiscreteTaskSpace(["a", "b", "c", "d"])
    original = LearningProgress(space, random_seed=3, record_stats=True)
    for step in range(30):
        original.update_on_episode(float(step), 10, "abcd"[step % 4], progress=(step % 7) / 6)
    original.sample(5)
    restored = LearningProgress(space, random_seed=99, record_stats=True)
    restored.load_state_dict(original.state_dict())
    assert restored.sample(50) == original.sample(50)
    np.testing.assert_array_equal(restored.task_distribution(), original.task_distribution())
    assert restored.stat_recorder.state_dict() == original.stat_recorder.state_dict()
    original.update_on_episode(0.0, 10, "a", progress=1.0)
    restored.update_on_episode(0.0, 10, "a", progress=1.0)
    assert restored.sample(20) == original.sample(20)


def test_load_state_dict_rejects_other_task_count():
    state = LearningProgress(DiscreteTaskSpace(3)).state_dict()
    with pytest.raises(ValueError, match="3 tasks"):
        LearningProgress(DiscreteTaskSpace(4)).load_state_dict(state)


def test_rejects_non_enumerable_space():
    with pytest.raises(ValueError, match="enumerable"):
        LearningProgress(BoxTaskSpace(0.0, 1.0))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ema_alpha": 0.0}, r"ema_alpha must be a number in \(0.0, 1.0\], got 0.0"),
        ({"ema_alpha": 1.5}, "ema_alpha.*1.5"),
        ({"p_theta": 0.0}, r"p_theta must be a number in \(0.0, 1.0\)"),
        ({"p_theta": 1.0}, "p_theta.*1.0"),
        ({"eps": -0.1}, r"eps must be a number in \[0.0, 1.0\], got -0.1"),
        ({"eps": "0.1"}, "eps.*'0.1'"),
        ({"success_threshold": float("nan")}, "success_threshold.*nan"),
        ({"success_threshold": True}, "success_threshold.*True"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LearningProgress(DiscreteTaskSpace(3), **kwargs)
