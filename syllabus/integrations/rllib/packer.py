"""The PLR feeder's rollout packer: RLlib episode chunks laid out as the arrays of ``custom_update``.

Plain numpy: this module imports neither Ray nor RLlib, so it runs and is tested without them.
[`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder] turns each training batch into
[`EpisodeChunk`][syllabus.integrations.rllib.EpisodeChunk]s with ``episode_chunks``, and a
[`RolloutPacker`][syllabus.integrations.rllib.RolloutPacker] lays them out as
[`Rollout`][syllabus.integrations.rllib.Rollout]s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from syllabus.core.errors import CurriculumError


@dataclass
class EpisodeChunk:
    """One training episode chunk as the PLR feeder sees it.

    Args:
        episode_id: RLlib's episode id; the chunks of one episode share it.
        first: Whether the chunk starts its episode.
        task: Task index the episode runs.
        rewards: Rewards of the chunk's steps.
        values: Value predictions of the chunk's observations (one more than rewards when truncated).
        terminated: Whether the episode ended in a terminal state at the chunk's end.
        truncated: Whether the episode was cut off at the chunk's end.

    Attributes:
        episode_id: RLlib's episode id; the chunks of one episode share it.
        first: Whether the chunk starts the episode.
        task: Encoded task: from the reset info for a first chunk; for a later chunk ``-1`` until
            the [`RolloutPacker`][syllabus.integrations.rllib.RolloutPacker] fills in its episode's task.
        rewards: Rewards of the chunk's ``n`` steps.
        values: ``V(s_0) .. V(s_n)``: the value estimates of the chunk's observations, the last
            one of the observation after its last step (the bootstrap).
        terminated: The episode terminated at the chunk's last step.
        truncated: The episode was truncated (time limit) at the chunk's last step.
    """

    episode_id: str
    first: bool
    task: int
    rewards: np.ndarray
    values: np.ndarray
    terminated: bool
    truncated: bool

    def __len__(self) -> int:
        return len(self.rewards)


class Rollout(NamedTuple):
    """Arrays for ``PrioritizedLevelReplay.custom_update``, shaped ``(num_steps, num_lanes)``."""

    tasks: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    values: np.ndarray
    next_values: np.ndarray


class EpisodeRecord(NamedTuple):
    """What the feeder notes of one episode chunk of a training batch, before PPO extends it by one step.

    Attributes:
        episode_id: RLlib's episode id.
        first: Whether the chunk starts its episode.
        task: Encoded task of a first chunk (from its reset info); ``-1`` for a later chunk.
        rewards: Rewards of the chunk's steps.
        terminated: The episode terminated at the chunk's last step.
        truncated: The episode was truncated at the chunk's last step.
    """

    episode_id: str
    first: bool
    task: int
    rewards: np.ndarray
    terminated: bool
    truncated: bool


def episode_chunks(
    records: Sequence[EpisodeRecord], values: np.ndarray, lengths: Sequence[int]
) -> list[EpisodeChunk]:
    """The chunks of a training batch, each with its value estimates.

    Args:
        records: The batch's episode chunks, in batch order.
        values: Value estimates of the whole batch, unpadded: episode after episode, each
            ``lengths[i]`` long, which ends with the bootstrap step PPO appended to it.
        lengths: Length of each episode in the batch, the appended step included.

    Returns:
        One chunk per record, with the last ``len(rewards) + 1`` values of its episode.

    Raises:
        ValueError: ``records`` and ``lengths`` differ in length.
    """
    ends = np.cumsum(lengths)
    return [
        EpisodeChunk(
            episode_id, first, task, rewards, values[end - len(rewards) - 1 : end], terminated, truncated
        )
        for (episode_id, first, task, rewards, terminated, truncated), end in zip(records, ends, strict=True)
    ]


class _Lane:
    def __init__(self) -> None:
        self.tasks: list[np.ndarray] = []
        self.rewards: list[np.ndarray] = []
        self.dones: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.length = 0
        self.open_id: str | None = None  # episode whose next chunk continues this lane
        self.open_task = -1
        self.bootstrap = 0.0  # V after the last step held, when the lane ends in an open episode

    def add(self, chunk: EpisodeChunk, task: int, gamma: float) -> None:
        chunk.task = task
        n = len(chunk)
        rewards = np.array(chunk.rewards, dtype=np.float64)
        dones = np.zeros(n, dtype=bool)
        if chunk.terminated or chunk.truncated:
            dones[-1] = True
            if chunk.truncated and not chunk.terminated:
                rewards[-1] += gamma * float(chunk.values[n])  # time limit: bootstrap, as SB3 does
            self.open_id = None
        else:
            self.open_id, self.open_task, self.bootstrap = chunk.episode_id, task, float(chunk.values[n])
        self.tasks.append(np.full(n, task, dtype=np.int64))
        self.rewards.append(rewards)
        self.dones.append(dones)
        self.values.append(np.asarray(chunk.values[:n], dtype=np.float64))
        self.length += n

    def end_lost_episode(self, gamma: float) -> None:
        """The open episode's env is gone (e.g. its env runner restarted): end it as truncated."""
        if self.length:
            self.dones[-1][-1] = True
            self.rewards[-1][-1] += gamma * self.bootstrap
        self.open_id = None

    def take(self, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        tasks, rewards, dones, values = (
            np.concatenate(part) for part in (self.tasks, self.rewards, self.dones, self.values)
        )
        if length < self.length:
            next_value = float(values[length])
        else:
            next_value = self.bootstrap if self.open_id is not None else 0.0
        rest = slice(length, None)
        self.tasks, self.rewards, self.dones, self.values = (
            [tasks[rest]],
            [rewards[rest]],
            [dones[rest]],
            [values[rest]],
        )
        self.length -= length
        return tasks[:length], rewards[:length], dones[:length], values[:length], next_value


class RolloutPacker:
    """Lays out RLlib episode chunks as fixed-width rollouts for ``custom_update``.

    PLR scores rollouts shaped ``(num_steps, num_envs)`` and carries an episode that is still
    running at a rollout's end over to the same column of the next rollout. RLlib hands over
    episode chunks of varying lengths instead. The packer keeps ``num_lanes`` columns ("lanes"):

    * a chunk continuing an episode goes to the lane of that episode, right after its earlier steps;
    * an episode's first chunk goes to a lane with no running episode, the one holding fewest steps;
    * each [`pop`][syllabus.integrations.rllib.RolloutPacker.pop] returns the first ``L`` steps of every lane, ``L`` the fewest any lane
      holds; the rest waits for the next rollout, so every step is sent exactly once, in order.

    Within a lane, ``dones`` mark episode ends; a time-limit truncation is a done whose reward
    gets ``gamma * V(final observation)`` added (PLR's documented convention), a termination a
    done with bootstrap 0. ``next_values`` is the value after each lane's last step sent.
    A running episode whose next chunk does not come with the next batch (its env runner was
    restarted) is ended as truncated.

    Args:
        num_lanes: Columns; at least the number of envs sampling at once.
        gamma: PLR's discount factor, for the truncation bootstrap.
    """

    def __init__(self, num_lanes: int, gamma: float) -> None:
        if num_lanes < 1:
            raise ValueError(f"num_lanes must be >= 1, got {num_lanes}")
        self.num_lanes = num_lanes
        self.gamma = gamma
        self.lanes = [_Lane() for _ in range(num_lanes)]
        self.dropped_steps = 0

    @property
    def held_steps(self) -> int:
        """Steps received and not yet returned by [`pop`][syllabus.integrations.rllib.RolloutPacker.pop]."""
        return sum(lane.length for lane in self.lanes)

    def add(self, chunks: Sequence[EpisodeChunk]) -> None:
        """Adds one training batch's chunks (any order; the chunks of one episode in time order).

        Args:
            chunks: The episode chunks of one training batch.

        Raises:
            CurriculumError: More episodes run at once than there are lanes.
        """
        by_episode: dict[str, list[EpisodeChunk]] = defaultdict(list)
        for chunk in chunks:
            by_episode[chunk.episode_id].append(chunk)
        # Continuations first: they may end episodes and free lanes for new ones.
        for lane in self.lanes:
            if lane.open_id is None:
                continue
            if lane.open_id in by_episode:
                for chunk in by_episode.pop(lane.open_id):
                    lane.add(chunk, lane.open_task, self.gamma)
            else:
                lane.end_lost_episode(self.gamma)
        for episode in by_episode.values():
            if not episode[0].first:
                self.dropped_steps += sum(len(chunk) for chunk in episode)  # started before the feeder
                continue
            free = [lane for lane in self.lanes if lane.open_id is None]
            if not free:
                raise CurriculumError(
                    f"more training episodes run at once than the PLR feeder's {self.num_lanes} lanes; "
                    "num_lanes must be at least num_env_runners (or 1) x num_envs_per_env_runner"
                )
            lane = min(free, key=lambda candidate: candidate.length)
            for chunk in episode:
                lane.add(chunk, episode[0].task, self.gamma)

    def pop(self) -> Rollout | None:
        """The next rollout: the first ``L`` steps held in every lane; ``None`` while a lane is empty."""
        length = min(lane.length for lane in self.lanes)
        if length == 0:
            return None
        columns = [lane.take(length) for lane in self.lanes]
        tasks, rewards, dones, values, next_values = zip(*columns, strict=True)
        return Rollout(
            np.stack(tasks, axis=1),
            np.stack(rewards, axis=1),
            np.stack(dones, axis=1),
            np.stack(values, axis=1),
            np.array(next_values, dtype=np.float64),
        )
