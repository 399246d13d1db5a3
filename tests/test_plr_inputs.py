"""Input checks of PrioritizedLevelReplay.custom_update: messages name the bad argument."""

import numpy as np
import pytest

from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.task_space import DiscreteTaskSpace


def _plr(**kwargs):
    return PrioritizedLevelReplay(DiscreteTaskSpace(5), random_seed=0, **kwargs)


def _rollout(**overrides):
    rollout = {
        "tasks": np.array([[0, 1], [0, 2]]),
        "rewards": np.array([[1.0, 0.5], [0.0, 2.0]]),
        "dones": np.array([[False, True], [True, False]]),
        "values": np.array([[0.2, 0.1], [0.3, 0.4]]),
        "next_values": np.array([0.0, 0.5]),
    }
    rollout.update(overrides)
    return rollout


@pytest.mark.parametrize("mode", ["corrected", "reference"])
@pytest.mark.parametrize("name", ["rewards", "values"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_rewards_and_values_are_rejected(mode, name, bad):
    array = _rollout()[name].copy()
    array[1, 0] = bad
    with pytest.raises(ValueError, match=rf"^{name} must be finite, got {bad!r} at step 1, env 0"):
        _plr(mode=mode).custom_update(**_rollout(**{name: array}))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_next_values_are_rejected(bad):
    with pytest.raises(ValueError, match=r"^next_values must be finite"):
        _plr().custom_update(**_rollout(next_values=np.array([0.0, bad])))


@pytest.mark.parametrize(
    "dones, shown",
    [
        (np.array([[0.0, 1.0], [0.5, 0.0]]), "0.5"),
        (np.array([[0, 2], [1, 0]]), "2"),
        (np.array([[0.0, 1.0], [np.nan, 0.0]]), "nan"),
    ],
)
def test_non_boolean_dones_are_rejected(dones, shown):
    with pytest.raises(ValueError, match=rf"^dones must be booleans \(or 0/1 numbers\), got .*{shown}"):
        _plr().custom_update(**_rollout(dones=dones))


def test_string_dones_are_rejected():
    with pytest.raises(ValueError, match=r"^dones must be booleans"):
        _plr().custom_update(**_rollout(dones=np.array([["no", "yes"], ["yes", "no"]])))


def test_zero_one_number_dones_equal_boolean_dones():
    as_bools, as_floats = _plr(), _plr()
    as_bools.custom_update(**_rollout())
    as_floats.custom_update(**_rollout(dones=_rollout()["dones"].astype(np.float32)))
    np.testing.assert_array_equal(as_floats.scores, as_bools.scores)


@pytest.mark.parametrize("mode", ["corrected", "reference"])
def test_integer_valued_float_tasks_are_accepted(mode):
    as_ints, as_floats = _plr(mode=mode), _plr(mode=mode)
    as_ints.custom_update(**_rollout())
    as_floats.custom_update(**_rollout(tasks=_rollout()["tasks"].astype(np.float32)))
    np.testing.assert_array_equal(as_floats.scores, as_ints.scores)
    assert not np.isnan(as_floats.scores[[0, 1, 2]]).any()


@pytest.mark.parametrize(
    "tasks, message",
    [
        (
            np.array([[0.0, 1.0], [0.0, 2.5]]),
            r"integers or integer-valued floats\), got 2\.5 at step 1, env 1",
        ),
        (np.array([[0.0, 1.0], [0.0, np.nan]]), r"^tasks must be finite, got nan at step 1, env 1"),
        (np.array([[0.0, 1.0], [0.0, 7.0]]), r"0\.\.4"),
        (np.array([[True, False], [True, True]]), r"dtype bool"),
    ],
)
def test_bad_tasks_are_rejected(tasks, message):
    with pytest.raises(ValueError, match=message):
        _plr().custom_update(**_rollout(tasks=tasks))


def _log_dist():
    return np.log(np.array([[[0.5, 0.5], [0.9, 0.1]], [[0.2, 0.8], [0.6, 0.4]]]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_positive_infinite_log_probabilities_are_rejected(bad):
    log_dist = _log_dist()
    log_dist[1, 1, 0] = bad
    with pytest.raises(
        ValueError, match=rf"^action_log_dist must hold .* got {bad!r} at step 1, env 1, action 0"
    ):
        _plr(strategy="least_confidence").custom_update(**_rollout(), action_log_dist=log_dist)


def test_a_row_without_any_possible_action_is_rejected():
    log_dist = _log_dist()
    log_dist[0, 1] = -np.inf
    with pytest.raises(ValueError, match=r"every action probability 0 at step 0, env 1"):
        _plr(strategy="min_margin").custom_update(**_rollout(), action_log_dist=log_dist)


@pytest.mark.parametrize("mode", ["corrected", "reference"])
@pytest.mark.parametrize("strategy", ["policy_entropy", "least_confidence", "min_margin"])
def test_logits_are_normalized_like_log_probabilities(mode, strategy):
    from_logs, from_logits = _plr(strategy=strategy, mode=mode), _plr(strategy=strategy, mode=mode)
    from_logs.custom_update(**_rollout(), action_log_dist=_log_dist())
    from_logits.custom_update(**_rollout(), action_log_dist=_log_dist() + 3.0)  # unnormalized logits
    np.testing.assert_allclose(from_logits.scores, from_logs.scores, rtol=1e-12)


def test_minus_infinity_is_a_zero_probability_action():
    plr = _plr(strategy="least_confidence")
    log_dist = _log_dist()
    log_dist[:, :, 1] = -np.inf  # action 0 certain everywhere: least confidence 0
    plr.custom_update(**_rollout(), action_log_dist=log_dist)
    np.testing.assert_allclose(plr.scores[[0, 1, 2]], 0.0)
