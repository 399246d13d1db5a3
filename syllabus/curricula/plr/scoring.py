"""Rollout scoring for Prioritized Level Replay: GAE, episode segments and score strategies.

Arrays are shaped ``(num_steps, num_envs)``. ``dones[t]`` means the episode ended after step ``t``:
the value after it is taken as 0 and step ``t + 1`` starts a new episode (a segment). Every
function is pure numpy.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

VALUE_STRATEGIES = ("value_l1", "positive_value_loss", "gae", "one_step_td_error", "max_mc")
POLICY_STRATEGIES = ("policy_entropy", "least_confidence", "min_margin")
STRATEGIES = (*VALUE_STRATEGIES, *POLICY_STRATEGIES, "random")


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    dones: np.ndarray,
    next_values: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalized advantage estimates and one-step TD errors.

    Args:
        rewards: Rewards ``r_t``.
        values: Value predictions ``V(s_t)``.
        dones: Episode-end flags; an episode that ended bootstraps with 0.
        next_values: ``V(s_T)`` per env, bootstrapping the last unfinished segment.
        gamma: Discount factor.
        gae_lambda: GAE lambda.

    Returns:
        ``(advantages, td_errors)``, both shaped like ``rewards``.
    """
    nonterminal = 1.0 - dones
    following = np.concatenate([values[1:], next_values[None]], axis=0)
    td_errors = rewards + gamma * following * nonterminal - values
    decay = (gamma * gae_lambda) * nonterminal
    advantages = np.empty_like(td_errors)
    running = np.zeros(td_errors.shape[1])
    for t in range(td_errors.shape[0] - 1, -1, -1):
        running = td_errors[t] + decay[t] * running
        advantages[t] = running
    return advantages, td_errors


class Segments(NamedTuple):
    """Episode segments of a rollout, ordered by env, then time.

    ``starts`` are indices into env-major flattened arrays (``array.T.ravel()``).
    """

    starts: np.ndarray
    lengths: np.ndarray
    env: np.ndarray
    task: np.ndarray
    finished: np.ndarray
    first: np.ndarray
    last: np.ndarray

    def sums(self, per_step: np.ndarray) -> np.ndarray:
        """Sum of a ``(num_steps, num_envs)`` array over each segment.

        Args:
            per_step: A ``(num_steps, num_envs)`` array of per-step values.
        """
        return np.add.reduceat(per_step.T.ravel(), self.starts)

    def maxima(self, per_step: np.ndarray) -> np.ndarray:
        """Maximum of a ``(num_steps, num_envs)`` array over each segment.

        Args:
            per_step: A ``(num_steps, num_envs)`` array of per-step values.
        """
        return np.maximum.reduceat(per_step.T.ravel(), self.starts)


def split_segments(tasks: np.ndarray, dones: np.ndarray) -> Segments:
    """Splits each env column at its dones into episode segments.

    ``first``/``last`` give, per env, the index of its first and last segment; ``finished`` marks
    segments that end with a done (the last segment of an env is unfinished otherwise).

    Args:
        tasks: ``(num_steps, num_envs)`` task index of every step.
        dones: ``(num_steps, num_envs)`` episode-end flag of every step.
    """
    num_steps, num_envs = dones.shape
    env_major = dones.T
    start_mask = np.ones(env_major.shape, dtype=bool)
    start_mask[:, 1:] = env_major[:, :-1]
    starts = np.flatnonzero(start_mask.ravel())
    ends = np.append(starts[1:], num_steps * num_envs)
    first = np.searchsorted(starts, np.arange(num_envs) * num_steps)
    return Segments(
        starts=starts,
        lengths=ends - starts,
        env=starts // num_steps,
        task=tasks.T.ravel()[starts],
        finished=env_major.ravel()[ends - 1],
        first=first,
        last=np.append(first[1:], len(starts)) - 1,
    )


def step_scores(
    strategy: str,
    advantages: np.ndarray,
    td_errors: np.ndarray,
    action_log_dist: np.ndarray | None = None,
) -> np.ndarray:
    """Per-step scores whose segment mean is the segment's score (all strategies but ``max_mc``).

    Policy strategies use ``action_log_dist`` (log-probabilities, last axis over actions):
    ``policy_entropy`` is the entropy divided by its maximum ``log(num_actions)``.

    Args:
        strategy: The scoring strategy (one of ``STRATEGIES``).
        advantages: ``(num_steps, num_envs)`` GAE advantages of the rollout.
        td_errors: ``(num_steps, num_envs)`` one-step TD errors of the rollout.
        action_log_dist: ``(num_steps, num_envs, num_actions)`` log action probabilities; needed by the policy-entropy strategies only.
    """
    if strategy == "value_l1":
        return np.abs(advantages)
    if strategy == "positive_value_loss":
        return np.maximum(advantages, 0.0)
    if strategy == "gae":
        return advantages
    if strategy == "one_step_td_error":
        return np.abs(td_errors)
    if strategy not in POLICY_STRATEGIES:
        raise ValueError(
            f"strategy {strategy!r} has no per-step score; valid: {VALUE_STRATEGIES[:-1] + POLICY_STRATEGIES}"
        )
    if action_log_dist is None:
        raise ValueError(f"strategy {strategy!r} needs action_log_dist")
    probs = np.exp(action_log_dist)
    if strategy == "policy_entropy":
        with np.errstate(invalid="ignore"):
            plogp = np.where(probs > 0, probs * action_log_dist, 0.0)
        return -plogp.sum(axis=-1) / np.log(probs.shape[-1])
    if strategy == "least_confidence":
        return 1.0 - probs.max(axis=-1)
    top2 = np.partition(probs, -2, axis=-1)[..., -2:]
    return 1.0 - (top2[..., 1] - top2[..., 0])


class PartialEpisodes:
    """Per-env running score sums of episodes still unfinished at the end of a rollout.

    The first segment of an env in the next rollout continues its carried episode when it runs
    the same task; its sum and step count then include the carried part, so the episode is
    scored as a whole (step-weighted mean) when it ends.

    Args:
        num_envs: Number of envs whose unfinished episodes are carried.
    """

    def __init__(self, num_envs: int = 0) -> None:
        self.task = np.full(num_envs, -1, dtype=np.int64)
        self.sum = np.zeros(num_envs)
        self.count = np.zeros(num_envs, dtype=np.int64)

    def merge(self, segments: Segments, sums: np.ndarray, counts: np.ndarray) -> None:
        """Adds carried parts into ``sums``/``counts`` (in place) and carries the new unfinished ones.

        A carry made with another number of envs is dropped.

        Args:
            segments: The rollout's episode segments.
            sums: Per-segment score sums, updated in place.
            counts: Per-segment step counts, updated in place.
        """
        num_envs = len(segments.first)
        if len(self.task) == num_envs:
            first = segments.first
            match = (self.count > 0) & (segments.task[first] == self.task)
            sums[first[match]] += self.sum[match]
            counts[first[match]] += self.count[match]
        last = segments.last
        open_ = ~segments.finished[last]
        self.task = np.where(open_, segments.task[last], -1)
        self.sum = np.where(open_, sums[last], 0.0)
        self.count = np.where(open_, counts[last], 0)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The carried parts as arrays."""
        return {"task": self.task.copy(), "sum": self.sum.copy(), "count": self.count.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restores parts saved by `state_dict`.

        Args:
            state: A dict returned by ``state_dict()`` of the same kind of object.
        """
        self.task = np.asarray(state["task"], dtype=np.int64).copy()
        self.sum = np.asarray(state["sum"], dtype=np.float64).copy()
        self.count = np.asarray(state["count"], dtype=np.int64).copy()


def smooth_scores(
    scores: np.ndarray, scored: np.ndarray, tasks: np.ndarray, new: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Applies ``score = (1 - alpha) * score + alpha * new`` for each ``(task, new)`` pair in order.

    A task's first score (``scored`` false) is taken as is. Tasks may repeat; the result equals
    applying the updates one by one, computed in closed form.

    Args:
        scores: Current score of every task.
        scored: Which tasks already have a score.
        tasks: Task index of each new score, in update order.
        new: The new scores.
        alpha: Weight of a new score in the moving average.

    Returns:
        ``(unique_tasks, new_scores)``.
    """
    if len(tasks) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    order = np.argsort(tasks, kind="stable")
    tasks, new = tasks[order], new[order]
    group_start = np.flatnonzero(np.r_[True, tasks[1:] != tasks[:-1]])
    group_size = np.diff(np.append(group_start, len(tasks)))
    unique = tasks[group_start]
    later = np.repeat(group_start + group_size, group_size) - np.arange(len(tasks)) - 1
    weight = alpha * (1.0 - alpha) ** later
    fresh = ~scored[unique]
    weight[group_start[fresh]] = (1.0 - alpha) ** later[group_start[fresh]]
    keep = np.where(fresh, 0.0, (1.0 - alpha) ** group_size)
    return unique, keep * scores[unique] + np.add.reduceat(weight * new, group_start)
