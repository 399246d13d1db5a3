"""Input checks of Prioritized Level Replay's rollouts: shapes, dtypes, finite values, task encodings."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from syllabus.curricula.plr.scoring import POLICY_STRATEGIES


class Rollout(NamedTuple):
    """A checked rollout: arrays shaped ``(num_steps, num_envs)`` unless noted.

    Attributes:
        tasks: Encoded tasks, int64.
        rewards: Rewards, finite float64.
        dones: Episode ends, booleans.
        values: ``V(s_t)``, finite float64.
        next_values: ``V(s_T)``, ``(num_envs,)``, finite float64.
        action_log_dist: Normalized action log-probabilities ``(num_steps, num_envs, num_actions)``
            for the policy strategies; for the others, what the learner passed.
    """

    tasks: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    values: np.ndarray
    next_values: np.ndarray
    action_log_dist: np.ndarray | None


def check_rollout(
    tasks: Any,
    rewards: Any,
    dones: Any,
    values: Any,
    next_values: Any,
    action_log_dist: Any,
    *,
    num_tasks: int,
    strategy: str,
) -> Rollout:
    """The arguments of ``custom_update`` as a [`Rollout`][syllabus.curricula.plr.rollouts.Rollout].

    Args:
        tasks: Encoded task of each step; integers, or floats with integer values.
        rewards: Reward of each step.
        dones: Whether the episode ended after each step; booleans or 0/1 numbers.
        values: Value prediction of each step.
        next_values: Value prediction after the last step, ``(num_envs,)``.
        action_log_dist: Action log-probabilities or logits (checked for the policy strategies only).
        num_tasks: Number of tasks of the task space (tasks must be in ``0..num_tasks - 1``).
        strategy: The scoring strategy.

    Raises:
        ValueError: If an array has the wrong shape or non-finite values, a task is not a valid
            encoding, a done is not boolean, a task changes within an episode, or
            ``action_log_dist`` is missing when needed.
    """
    tasks = _check_tasks(tasks, num_tasks)
    arrays = {"rewards": rewards, "dones": dones, "values": values}
    for name, array in arrays.items():
        arrays[name] = _dones(array) if name == "dones" else _numbers(name, array)
        if arrays[name].shape != tasks.shape:
            raise ValueError(f"{name} must have the shape of tasks {tasks.shape}, got {arrays[name].shape}")
        if name != "dones":
            _check_finite(name, arrays[name])
    next_values = _numbers("next_values", next_values)
    if next_values.shape != tasks.shape[1:]:
        raise ValueError(
            f"next_values must have shape {tasks.shape[1:]} (num_envs,), got {next_values.shape}"
        )
    _check_finite("next_values", next_values)
    dones = arrays["dones"]
    switched = (tasks[1:] != tasks[:-1]) & ~dones[:-1]
    if switched.any():
        t, env = np.argwhere(switched)[0]
        raise ValueError(
            f"the task of env {env} changed after step {t} without a done; dones must mark episode ends"
        )
    if strategy in POLICY_STRATEGIES:
        action_log_dist = _check_action_log_dist(action_log_dist, tasks.shape, strategy)
    return Rollout(tasks, arrays["rewards"], dones, arrays["values"], next_values, action_log_dist)


def _check_tasks(tasks: Any, num_tasks: int) -> np.ndarray:
    """The rollout's tasks as an int64 ``(num_steps, num_envs)`` array of encodings in ``0..num_tasks - 1``."""
    tasks = np.asarray(tasks)
    if tasks.ndim != 2 or tasks.size == 0:
        raise ValueError(f"tasks must be a non-empty (num_steps, num_envs) array, got shape {tasks.shape}")
    if np.issubdtype(tasks.dtype, np.floating):
        _check_finite("tasks", tasks)
        fractional = tasks != np.round(tasks)
        if fractional.any():
            raise ValueError(
                f"tasks must be encoded tasks (integers or integer-valued floats), got "
                f"{tasks[fractional][0].item()!r} {_where(fractional)}"
            )
    elif not np.issubdtype(tasks.dtype, np.integer):
        raise ValueError(f"tasks must be encoded tasks (integers), got dtype {tasks.dtype}")
    if tasks.min() < 0 or tasks.max() >= num_tasks:
        raise ValueError(
            f"tasks must be encodings in 0..{num_tasks - 1}, got values in {tasks.min()}..{tasks.max()}"
        )
    return tasks.astype(np.int64)


def _check_action_log_dist(action_log_dist: Any, shape: tuple[int, ...], strategy: str) -> np.ndarray:
    """A policy strategy's action log-probabilities, normalized, of shape ``shape + (num_actions,)``."""
    if action_log_dist is None:
        raise ValueError(f"strategy {strategy!r} needs action_log_dist")
    action_log_dist = _numbers("action_log_dist", action_log_dist)
    if action_log_dist.shape[:2] != shape or action_log_dist.ndim != 3 or action_log_dist.shape[2] < 2:
        raise ValueError(
            f"action_log_dist must have shape {shape} + (num_actions >= 2,), got {action_log_dist.shape}"
        )
    return _log_softmax(action_log_dist)


def _where(mask: np.ndarray) -> str:
    """``at step t, env e`` (or ``at index ...``) of the first true entry of ``mask``."""
    first = tuple(int(i) for i in np.argwhere(mask)[0])
    return f"at step {first[0]}, env {first[1]}" if len(first) == 2 else f"at index {first}"


def _numbers(name: str, array: Any) -> np.ndarray:
    """``array`` as float64 if it holds numbers (not strings, which numpy would parse, nor objects)."""
    values = np.asarray(array)
    if values.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} must be an array of numbers, got dtype {values.dtype} ({values.flat[0]!r}, ...)"
            if values.size
            else f"{name} must be an array of numbers, got dtype {values.dtype}"
        )
    return values.astype(np.float64)


def _check_finite(name: str, array: np.ndarray) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(f"{name} must be finite, got {array[bad][0].item()!r} {_where(bad)}")


def _dones(dones: Any) -> np.ndarray:
    """``dones`` as booleans; numbers must be 0 or 1."""
    array = np.asarray(dones)
    if array.dtype == bool:
        return array
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"dones must be booleans (or 0/1 numbers), got dtype {array.dtype}")
    bad = (array != 0) & (array != 1)
    if bad.any():
        raise ValueError(
            f"dones must be booleans (or 0/1 numbers), got {array[bad][0].item()!r} {_where(bad)}"
        )
    return array.astype(bool)


def _log_softmax(log_dist: np.ndarray) -> np.ndarray:
    """Rows of ``log_dist`` normalized to log-probabilities; rejects NaN, ``+inf`` and rows of ``-inf``."""
    bad = np.isnan(log_dist) | np.isposinf(log_dist)
    if bad.any():
        step, env, action = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            "action_log_dist must hold log-probabilities or logits (finite, or -inf for probability 0), "
            f"got {log_dist[step, env, action].item()!r} at step {step}, env {env}, action {action}"
        )
    top = log_dist.max(axis=-1, keepdims=True)
    if np.isneginf(top).any():
        step, env = (int(i) for i in np.argwhere(np.isneginf(top[..., 0]))[0])
        raise ValueError(f"action_log_dist gives every action probability 0 at step {step}, env {env}")
    shifted = log_dist - top
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
