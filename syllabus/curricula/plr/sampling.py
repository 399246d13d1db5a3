"""Sampling machinery of Prioritized Level Replay: weight transforms and fast samplers."""

from __future__ import annotations

from array import array

import numpy as np

TRANSFORMS = ("rank", "power", "softmax", "eps_greedy", "constant", "max")


def transform(name: str, values: np.ndarray, temperature: float, eps: float) -> np.ndarray:
    """Unnormalized sampling weights of ``values`` (scores or staleness of the candidate tasks).

    * ``rank``: ``1 / rank ** (1 / temperature)``, rank 1 for the largest value (ties by position);
    * ``power``: ``max(value, 0) ** (1 / temperature)``;
    * ``softmax``: ``exp(value / temperature)`` (shifted by the maximum for stability);
    * ``eps_greedy``: ``1 - eps`` on the (first) largest value plus ``eps`` spread uniformly;
    * ``constant``: uniform;
    * ``max``: uniform over the largest values (1 on each, 0 elsewhere).

    Args:
        name: The transform's name (one of ``TRANSFORMS``).
        values: Scores or staleness of the candidate tasks.
        temperature: Temperature of the transform (higher is flatter).
        eps: Exploration mass of the ``eps_greedy`` transform.
    """
    if len(values) == 0:
        return np.zeros(0)
    if name == "rank":
        ranks = np.empty(len(values))
        ranks[np.argsort(-values, kind="stable")] = np.arange(1, len(values) + 1)
        return ranks ** (-1.0 / temperature)
    if name == "power":
        return np.maximum(values, 0.0) ** (1.0 / temperature)
    if name == "softmax":
        return np.exp((values - values.max()) / temperature)
    if name == "eps_greedy":
        weights = np.full(len(values), eps / len(values))
        weights[np.argmax(values)] += 1.0 - eps
        return weights
    if name == "constant":
        return np.ones(len(values))
    if name == "max":
        return (values == values.max()).astype(np.float64)
    raise ValueError(f"unknown transform {name!r}; valid: {', '.join(TRANSFORMS)}")


class CdfSampler:
    """Samples indices with probability proportional to fixed nonnegative weights, in O(log n).

    Args:
        weights: One weight per index; may all be zero (then `total` is 0 and nothing is sampled).
    """

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights
        self._cdf = np.cumsum(weights)
        self.total = float(self._cdf[-1])
        self._last = int(self._cdf.searchsorted(self.total))  # the last index with positive weight

    def sample(self, u: float) -> int:
        """The index whose cumulative-weight interval holds ``u * total`` (``0 <= u < 1``).

        Args:
            u: A uniform random number in ``[0, 1)`` chosen by the caller (so sampling stays reproducible).
        """
        return min(int(self._cdf.searchsorted(u * self.total, side="right")), self._last)


class RankedTasks:
    """Scored tasks in descending score order, kept sorted in O(n) per update (no full sort).

    Re-scored tasks are taken out and merged back in; among equal scores, tasks that reached
    their score earlier rank first.

    Args:
        num_tasks: Number of task indices.
        temperature: Temperature of the rank transform.
        order: A saved `order` to start from.
    """

    def __init__(self, num_tasks: int, temperature: float, order: np.ndarray | None = None) -> None:
        self._rank_weights = np.arange(1, num_tasks + 1, dtype=np.float64) ** (-1.0 / temperature)
        self.order = np.zeros(0, dtype=np.int64) if order is None else np.asarray(order, dtype=np.int64)

    def update(self, scores: np.ndarray, changed: np.ndarray) -> None:
        """Moves the tasks ``changed`` (distinct indices, new or re-scored) to their place by ``scores``.

        Args:
            scores: Current score of every task index.
            changed: Indices of the tasks that are new or were re-scored.
        """
        moved = np.zeros(len(scores), dtype=bool)
        moved[changed] = True
        kept = self.order[~moved[self.order]]
        changed = changed[np.argsort(-scores[changed], kind="stable")]
        places = np.searchsorted(-scores[kept], -scores[changed], side="right")
        self.order = np.insert(kept, places, changed)

    def weights(self) -> np.ndarray:
        """``1 / rank ** (1 / temperature)`` for ranked tasks, 0 for the others."""
        weights = np.zeros(len(self._rank_weights))
        weights[self.order] = self._rank_weights[: len(self.order)]
        return weights


class StalenessTree:
    """Samples seen tasks with probability proportional to ``count - last_sampled[i]`` in O(log n).

    A Fenwick tree over task indices holds 1 and ``last_sampled[i]`` for every seen task, so the
    staleness mass of a prefix is ``count * seen_in_prefix - last_sampled_sum_in_prefix``. The
    two sums of a node sit side by side in one flat array of 64-bit integers, so a node costs one
    memory access (at a million tasks most are cache misses). Everything is exact integer
    arithmetic; a sum beyond 2**63 - 1 raises ``OverflowError``.

    Args:
        seen: Which tasks are seen (a boolean array over task indices).
        last_sampled: Sample count at which each task was last sampled (0 if never).
    """

    def __init__(self, seen: np.ndarray, last_sampled: np.ndarray) -> None:
        self._n = len(seen)
        self._top = 1 << (self._n.bit_length() - 1)
        last = np.where(seen, last_sampled, 0).astype(np.int64)
        nodes = np.empty(2 * (self._n + 1), dtype=np.int64)  # node j: seen count at 2j, last sum at 2j + 1
        nodes[0::2] = _fenwick(seen.astype(np.int64))
        nodes[1::2] = _fenwick(last)
        self._nodes = array("q", nodes.tobytes())
        self.num_seen = int(seen.sum())
        self.last_sum = int(last.sum())

    def insert(self, index: int, last_sampled: int) -> None:
        """Adds a newly seen task.

        Args:
            index: Index of the newly seen task.
            last_sampled: Sample count at which the task was last sampled.
        """
        nodes, n, j = self._nodes, self._n, index + 1
        while j <= n:
            nodes[2 * j] += 1
            nodes[2 * j + 1] += last_sampled
            j += j & -j
        self.num_seen += 1
        self.last_sum += last_sampled

    def shift(self, index: int, delta: int) -> None:
        """Adds ``delta`` to the ``last_sampled`` of a seen task.

        Args:
            index: Index of a seen task.
            delta: Amount added to its ``last_sampled``.
        """
        nodes, n, j = self._nodes, self._n, index + 1
        while j <= n:
            nodes[2 * j + 1] += delta
            j += j & -j
        self.last_sum += delta

    def total(self, count: int) -> int:
        """Total staleness of the seen tasks.

        Args:
            count: Current sample count (staleness is measured from it).
        """
        return count * self.num_seen - self.last_sum

    def sample(self, u: float, count: int) -> int:
        """The seen task whose staleness interval holds ``floor(u * total)`` (needs ``total > 0``).

        Args:
            u: A uniform random number in ``[0, 1)`` chosen by the caller (so sampling stays reproducible).
            count: Current sample count (staleness is measured from it).
        """
        total = self.total(count)
        target = min(int(u * total), total - 1)
        nodes, n = self._nodes, self._n
        pos, step = 0, self._top
        while step:
            nxt = pos + step
            if nxt <= n:
                mass = count * nodes[2 * nxt] - nodes[2 * nxt + 1]
                if mass <= target:
                    pos = nxt
                    target -= mass
            step >>= 1
        return pos


def _fenwick(values: np.ndarray) -> np.ndarray:
    """A 1-based Fenwick tree of ``values`` (entry 0 unused, 0), built in O(n)."""
    prefix = np.concatenate([[0], np.cumsum(values)])
    nodes = np.arange(1, len(values) + 1)
    return np.concatenate([[0], prefix[nodes] - prefix[nodes - (nodes & -nodes)]])


class IndexPool:
    """A set of indices with O(1) removal (swap with the last) and O(1) uniform picks.

    Args:
        items: The initial indices, in pool order.
        size: Upper bound (exclusive) of the indices.
    """

    def __init__(self, items: list[int], size: int) -> None:
        self.items = list(items)
        self._pos = [-1] * size
        for position, item in enumerate(self.items):
            self._pos[item] = position

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, index: int) -> bool:
        return self._pos[index] >= 0

    def pick(self, u: float) -> int:
        """The item at position ``floor(u * len)`` (``0 <= u < 1``; the pool must not be empty).

        Args:
            u: A uniform random number in ``[0, 1)`` chosen by the caller (so sampling stays reproducible).
        """
        return self.items[min(int(u * len(self.items)), len(self.items) - 1)]

    def remove(self, index: int) -> None:
        """Removes ``index`` (which must be in the pool).

        Args:
            index: The index to remove.
        """
        position = self._pos[index]
        moved = self.items[-1]
        self.items[position] = moved
        self._pos[moved] = position
        self.items.pop()
        self._pos[index] = -1
