"""The PLR feeder's rollout packer on hand-built numpy chunks: no Ray, no RLlib (fast tier)."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pytest
from timeouts import scaled

from syllabus.core.errors import CurriculumError
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.integrations.rllib import EpisodeChunk, Rollout, RolloutPacker
from syllabus.integrations.rllib.packer import EpisodeRecord, episode_chunks
from syllabus.task_space import DiscreteTaskSpace


def chunk(episode_id: str, first: bool, task: int, n: int, start: float, end: str = "") -> EpisodeChunk:
    """``n`` steps of reward 1 whose values are ``start, start + 1, ..., start + n`` (the last: the bootstrap)."""
    return EpisodeChunk(
        episode_id,
        first,
        task,
        np.ones(n),
        np.arange(start, start + n + 1, dtype=np.float64),
        terminated=end in ("terminated", "both"),
        truncated=end in ("truncated", "both"),
    )


def test_packer_carries_episodes_across_batches_in_their_lane():
    packer = RolloutPacker(2, gamma=0.5)
    packer.add(
        [
            chunk("a", True, 1, 3, 0.0, "terminated"),
            chunk("b", True, 2, 2, 10.0),
            chunk("c", True, 3, 2, 20.0),
        ]
    )
    first = packer.pop()
    # "a" (3 steps, done) and "b" (2 steps, open) share no lane; "c" goes to the shorter free lane.
    assert first is not None and first.tasks.shape == (2, 2)
    np.testing.assert_array_equal(first.tasks, [[1, 2], [1, 2]])
    np.testing.assert_array_equal(first.next_values, [2.0, 12.0])  # lane 0 continues with a's last step
    continued = chunk("b", False, -1, 2, 12.0, "truncated")
    packer.add([continued, chunk("c", False, -1, 1, 22.0, "terminated")])
    assert continued.task == 2  # a later chunk gets its episode's task
    second = packer.pop()
    assert second is not None and packer.held_steps == 2  # lane 0 held 4 steps: a's last, c's three
    np.testing.assert_array_equal(second.tasks[:, 1], [2, 2])
    np.testing.assert_array_equal(second.dones[:, 1], [False, True])
    assert second.rewards[1, 1] == 1.0 + 0.5 * 14.0  # truncation: gamma * V(final observation) added


def test_rollout_arrays_have_the_shapes_and_types_custom_update_takes():
    packer = RolloutPacker(3, gamma=0.9)
    packer.add([chunk(str(lane), True, lane, 4, 10.0 * lane) for lane in range(3)])
    rollout = packer.pop()
    assert isinstance(rollout, Rollout)
    assert [a.shape for a in rollout] == [(4, 3)] * 4 + [(3,)]
    assert [a.dtype for a in rollout] == [np.int64, np.float64, bool, np.float64, np.float64]
    np.testing.assert_array_equal(rollout.values[:, 2], [20.0, 21.0, 22.0, 23.0])
    np.testing.assert_array_equal(rollout.next_values, [4.0, 14.0, 24.0])  # each open episode's bootstrap
    assert packer.held_steps == 0 and packer.pop() is None


def test_termination_adds_no_bootstrap_and_truncation_does():
    packer = RolloutPacker(3, gamma=0.5)
    packer.add(
        [
            chunk("terminated", True, 0, 2, 0.0, "terminated"),
            chunk("truncated", True, 1, 2, 10.0, "truncated"),
            chunk("both", True, 2, 2, 20.0, "both"),  # terminated at the time limit: a termination
        ]
    )
    rollout = packer.pop()
    assert rollout is not None
    np.testing.assert_array_equal(rollout.dones, [[False] * 3, [True] * 3])
    np.testing.assert_array_equal(rollout.rewards, [[1.0, 1.0, 1.0], [1.0, 1.0 + 0.5 * 12.0, 1.0]])
    np.testing.assert_array_equal(rollout.values[:, 1], [10.0, 11.0])  # V(final observation) is not a step
    np.testing.assert_array_equal(rollout.next_values, [0.0, 0.0, 0.0])  # every lane ended in a done


def test_pop_waits_for_every_lane_and_returns_the_shortest_lanes_length():
    packer = RolloutPacker(2, gamma=1.0)
    packer.add([chunk("a", True, 0, 3, 0.0)])
    assert packer.pop() is None and packer.held_steps == 3  # lane 1 is empty
    packer.add([chunk("a", False, -1, 2, 3.0), chunk("b", True, 1, 1, 10.0)])
    rollout = packer.pop()
    assert rollout is not None and rollout.tasks.shape == (1, 2)
    np.testing.assert_array_equal(rollout.next_values, [1.0, 11.0])  # lane 0: V of its next held step
    assert packer.held_steps == 4


def test_an_episode_in_several_chunks_of_one_batch_stays_in_order_in_one_lane():
    packer = RolloutPacker(2, gamma=1.0)
    packer.add(
        [
            chunk("a", True, 3, 2, 0.0),
            chunk("b", True, 1, 5, 10.0),
            chunk("a", False, -1, 2, 2.0),  # a's env runner sent two fragments in one batch
            chunk("a", False, -1, 1, 4.0, "terminated"),
        ]
    )
    rollout = packer.pop()
    assert rollout is not None
    np.testing.assert_array_equal(rollout.values[:, 0], [0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(rollout.tasks[:, 0], [3] * 5)
    np.testing.assert_array_equal(rollout.dones[:, 0], [False] * 4 + [True])


def test_a_new_episode_takes_the_free_lane_holding_fewest_steps_even_one_freed_in_its_batch():
    packer = RolloutPacker(3, gamma=1.0)
    packer.add(
        [
            chunk("a", True, 0, 5, 0.0, "terminated"),  # lane 0, free again after it
            chunk("b", True, 1, 2, 10.0, "terminated"),  # lane 1: free lanes 1 and 2 hold 0 steps
            chunk("c", True, 2, 3, 20.0),  # lane 2, holding fewer steps than lanes 0 and 1
        ]
    )
    packer.add(
        [
            chunk("c", False, -1, 2, 23.0),
            chunk("d", True, 3, 1, 30.0, "terminated"),  # lane 1 (2 steps) rather than lane 0 (5)
            chunk("e", True, 0, 3, 40.0),  # lane 1 again (3 steps): d freed it
        ]
    )
    assert [lane.length for lane in packer.lanes] == [5, 6, 5]
    rollout = packer.pop()
    assert rollout is not None and packer.held_steps == 1
    np.testing.assert_array_equal(rollout.tasks[:, 1], [1, 1, 3, 0, 0])
    np.testing.assert_array_equal(rollout.dones[:, 1], [False, True, True, False, False])
    np.testing.assert_array_equal(rollout.dones[:, 0], [False] * 4 + [True])
    # Lane 0 ended in a done; lane 1 holds e's next step; lane 2's episode runs on: its bootstrap.
    np.testing.assert_array_equal(rollout.next_values, [0.0, 42.0, 25.0])


def test_a_lost_episode_ends_truncated():
    packer = RolloutPacker(1, gamma=1.0)
    packer.add([chunk("a", True, 0, 2, 0.0)])
    packer.add([chunk("b", True, 1, 1, 5.0, "terminated")])  # "a" never continued: its env is gone
    rollout = packer.pop()
    assert rollout is not None
    np.testing.assert_array_equal(rollout.dones[:, 0], [False, True, True])
    np.testing.assert_array_equal(rollout.rewards[:, 0], [1.0, 1.0 + 2.0, 1.0])  # bootstrap V(s_2) = 2


def test_a_lost_episode_already_sent_frees_its_lane():
    packer = RolloutPacker(1, gamma=1.0)
    packer.add([chunk("a", True, 0, 2, 0.0)])
    first = packer.pop()
    assert first is not None and first.next_values[0] == 2.0 and not first.dones.any()
    packer.add([chunk("b", True, 1, 2, 5.0, "terminated")])  # "a" is gone after all its steps were sent
    second = packer.pop()
    assert second is not None
    np.testing.assert_array_equal(second.tasks[:, 0], [1, 1])
    np.testing.assert_array_equal(second.rewards[:, 0], [1.0, 1.0])


def test_chunks_of_episodes_started_before_the_feeder_are_dropped_and_counted():
    packer = RolloutPacker(1, gamma=1.0)
    packer.add([chunk("old", False, -1, 3, 0.0, "truncated"), chunk("new", True, 2, 1, 10.0)])
    assert packer.dropped_steps == 3 and packer.held_steps == 1
    rollout = packer.pop()
    assert rollout is not None and rollout.tasks.tolist() == [[2]]


def test_more_episodes_at_once_than_lanes_are_refused():
    packer = RolloutPacker(1, gamma=1.0)
    packer.add([chunk("a", True, 0, 1, 0.0)])
    with pytest.raises(
        CurriculumError, match="more training episodes run at once than the PLR feeder's 1 lanes"
    ):
        packer.add([chunk("a", False, -1, 1, 1.0), chunk("b", True, 0, 1, 0.0)])


def test_num_lanes_must_be_positive():
    with pytest.raises(ValueError, match="num_lanes must be >= 1, got 0"):
        RolloutPacker(0, gamma=1.0)


def test_episode_chunks_take_each_episodes_values_and_bootstrap():
    records = [
        EpisodeRecord("a", False, -1, np.array([1.0, 2.0]), False, False),
        EpisodeRecord("b", True, 4, np.array([3.0]), True, False),
        EpisodeRecord("c", True, 5, np.array([4.0, 5.0, 6.0]), False, True),
    ]
    # Each episode's values, with the bootstrap step PPO appended: 2 + 1, 1 + 1, 3 + 1.
    values = np.array([0.0, 0.1, 0.2, 1.0, 1.1, 2.0, 2.1, 2.2, 2.3])
    a, b, c = episode_chunks(records, values, [3, 2, 4])
    assert (a.episode_id, a.first, a.task, a.terminated, a.truncated) == ("a", False, -1, False, False)
    np.testing.assert_array_equal(a.values, [0.0, 0.1, 0.2])
    np.testing.assert_array_equal(b.values, [1.0, 1.1])
    np.testing.assert_array_equal(c.values, [2.0, 2.1, 2.2, 2.3])
    assert (c.task, c.truncated) == (5, True) and c.rewards is records[2].rewards
    with pytest.raises(ValueError):
        episode_chunks(records, values, [3, 2])


@dataclass
class Episode:
    episode_id: int
    task: int
    length: int
    end: str


def value(episode: int, t: int) -> float:
    return episode * 1000.0 + t


def reward(episode: int, t: int) -> float:
    return episode * 1000.0 + t + 0.25


def simulated_batches(seed: int, num_envs: int, fragment: int, num_batches: int):
    """Training batches of ``num_envs`` envs stepping ``fragment`` steps each, as RLlib cuts them into chunks."""
    rng = np.random.default_rng(seed)
    episodes: dict[int, Episode] = {}

    def new_episode() -> Episode:
        episode = Episode(
            len(episodes),
            int(rng.integers(4)),
            int(rng.integers(1, 12)),
            str(rng.choice(["terminated", "truncated"])),
        )
        episodes[episode.episode_id] = episode
        return episode

    running = [(new_episode(), 0) for _ in range(num_envs)]
    batches = []
    for _ in range(num_batches):
        per_env = []
        for env in range(num_envs):
            chunks, left = [], fragment
            episode, t = running[env]
            while left:
                n = min(left, episode.length - t)
                ends = t + n == episode.length
                steps = np.arange(t, t + n)
                chunks.append(
                    EpisodeChunk(
                        str(episode.episode_id),
                        t == 0,
                        episode.task if t == 0 else -1,
                        reward(episode.episode_id, steps),
                        value(episode.episode_id, np.arange(t, t + n + 1)),
                        terminated=ends and episode.end == "terminated",
                        truncated=ends and episode.end == "truncated",
                    )
                )
                left -= n
                episode, t = (new_episode(), 0) if ends else (episode, t + n)
            running[env] = (episode, t)
            per_env.append(chunks)
        # Any order across envs; each episode's chunks in time order.
        order = rng.permutation(num_envs)
        batches.append([c for env in order for c in per_env[env]])
    return batches, episodes


@pytest.mark.parametrize("seed", range(8))
def test_several_envs_every_step_is_sent_once_in_order_in_its_episodes_lane(seed):
    num_envs, gamma = 3, 0.9
    batches, episodes = simulated_batches(seed, num_envs, fragment=int(seed % 3 * 4 + 3), num_batches=12)
    packer = RolloutPacker(num_envs, gamma)
    plr = PrioritizedLevelReplay(DiscreteTaskSpace(4), gamma=gamma, random_seed=0)
    rollouts = []
    for batch in batches:
        packer.add(batch)
        rollout = packer.pop()
        if rollout is not None:
            plr.custom_update(*rollout)  # PLR's own checks: shapes, types, one task per episode
            rollouts.append(rollout)
    assert rollouts and packer.dropped_steps == 0
    streams: dict[int, list[tuple[int, int]]] = defaultdict(list)  # lane -> (episode, t) in sent order
    for number, rollout in enumerate(rollouts):
        for lane in range(num_envs):
            for row, v in enumerate(rollout.values[:, lane]):
                episode_id, t = divmod(int(v), 1000)
                episode = episodes[episode_id]
                last = t == episode.length - 1
                assert rollout.tasks[row, lane] == episode.task
                assert rollout.dones[row, lane] == last
                bootstrap = (
                    gamma * value(episode_id, episode.length) if last and episode.end == "truncated" else 0.0
                )
                assert rollout.rewards[row, lane] == pytest.approx(reward(episode_id, t) + bootstrap)
                streams[lane].append((episode_id, t))
            episode_id, t = streams[lane][-1]
            if not rollout.dones[-1, lane]:  # an open episode: bootstrap from its next observation
                assert rollout.next_values[lane] == value(episode_id, t + 1)
            else:
                # 0 if the lane held no more steps then, else V of its next step: sent next, or still held.
                held = packer.lanes[lane]
                following = (
                    rollouts[number + 1].values[0, lane]
                    if number + 1 < len(rollouts)
                    else np.concatenate(held.values)[0]
                    if held.length
                    else 0.0
                )
                assert rollout.next_values[lane] in (0.0, following)
    sent = [step for stream in streams.values() for step in stream]
    generated = sum(len(c) for batch in batches for c in batch)
    assert len(sent) == len(set(sent)) and len(sent) + packer.held_steps == generated
    for stream in streams.values():  # each episode: contiguous, from t = 0, in time order
        assert stream[0][1] == 0
        for (e0, t0), (e1, t1) in zip(stream[:-1], stream[1:], strict=True):
            if e1 == e0:
                assert t1 == t0 + 1
            else:
                assert t0 == episodes[e0].length - 1 and t1 == 0
    lanes_of = defaultdict(set)
    for lane, stream in streams.items():
        for episode_id, _ in stream:
            lanes_of[episode_id].add(lane)
    assert all(len(lanes) == 1 for lanes in lanes_of.values())
    assert np.isfinite(plr.scores).any()


def test_the_packer_imports_no_ray():
    code = (
        "import sys\n"
        "from syllabus.integrations.rllib import EpisodeChunk, Rollout, RolloutPacker\n"
        "import syllabus.integrations.rllib.packer\n"
        "loaded = sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=scaled(60))
    assert result.returncode == 0, result.stderr
