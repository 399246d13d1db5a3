"""What Prioritized Level Replay knows of each task: its score, whether it is seen, when it was last sampled."""

from __future__ import annotations

from typing import Any

import numpy as np

from syllabus.curricula.plr.sampling import IndexPool, StalenessTree


class TaskRecords:
    """The per-task records that every PLR sampler reads and updates.

    Attributes:
        scores: Score of each task (0 until scored; reference mode may write ``-inf``).
        scored: Which tasks have a score.
        last_sampled: ``count`` when each task was last sampled (0 if never).
        count: Number of samples so far.
        seen: Which tasks are seen (which tasks count as seen is the sampler's rule).
        seen_list: The seen tasks, in the order they were seen.
        unseen: The unseen tasks.
        staleness: The staleness ``count - last_sampled`` of the seen tasks, for O(log n) sampling.

    Args:
        num_tasks: Number of task indices.
    """

    def __init__(self, num_tasks: int) -> None:
        self.num_tasks = num_tasks
        self.scores = np.zeros(num_tasks)
        self.scored = np.zeros(num_tasks, dtype=np.bool_)
        self.last_sampled = np.zeros(num_tasks, dtype=np.int64)
        self.count = 0
        self.seen = np.zeros(num_tasks, dtype=np.bool_)
        self.seen_list: list[int] = []
        self.unseen = IndexPool(list(range(num_tasks)), num_tasks)
        self.staleness = StalenessTree(self.seen, self.last_sampled)

    def mark_seen(self, index: int) -> None:
        """Moves an unseen task to the seen ones.

        Args:
            index: An unseen task.
        """
        self.unseen.remove(index)
        self.seen[index] = True
        self.seen_list.append(index)
        self.staleness.insert(index, int(self.last_sampled[index]))

    def record_sample(self, index: int) -> None:
        """Counts a sample of task ``index``, which resets its staleness.

        Args:
            index: The sampled task.
        """
        self.count += 1
        if self.seen[index]:
            self.staleness.shift(index, self.count - int(self.last_sampled[index]))
        self.last_sampled[index] = self.count

    def set_scores(self, tasks: np.ndarray, scores: np.ndarray) -> None:
        """Gives ``tasks`` their new ``scores``; the ones not seen yet become seen.

        Args:
            tasks: Distinct task indices.
            scores: Their new scores.
        """
        self.scores[tasks] = scores
        self.scored[tasks] = True
        for index in tasks[~self.seen[tasks]].tolist():
            self.mark_seen(index)

    def state_dict(self) -> dict[str, Any]:
        """The records as arrays and lists (entries of PLR's ``state_dict()["plr"]``)."""
        return {
            "scores": self.scores.copy(),
            "scored": self.scored.copy(),
            "last_sampled": self.last_sampled.copy(),
            "count": self.count,
            "seen": list(self.seen_list),
            "unseen": list(self.unseen.items),
        }

    def load_state_dict(self, plr: dict[str, Any]) -> None:
        """Restores records saved by `state_dict`.

        Args:
            plr: PLR's ``state_dict()["plr"]``.
        """
        n = self.num_tasks
        self.scores = np.array(plr["scores"], dtype=np.float64)
        self.scored = np.array(plr["scored"], dtype=np.bool_)
        self.last_sampled = np.array(plr["last_sampled"], dtype=np.int64)
        self.count = int(plr["count"])
        self.seen_list = [int(i) for i in plr["seen"]]
        self.seen = np.zeros(n, dtype=np.bool_)
        self.seen[self.seen_list] = True
        self.unseen = IndexPool([int(i) for i in plr["unseen"]], n)
        self.staleness = StalenessTree(self.seen, self.last_sampled)
