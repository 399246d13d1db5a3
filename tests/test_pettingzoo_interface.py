"""The PettingZoo task interface: task envs, task wrappers, AEC envs through aec_to_parallel, and MPE."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test
from pettingzoo.utils import aec_to_parallel
from pettingzoo_fixtures import AGENTS, CountingParallelEnv
from sync_fixtures import RecordingCurriculum

from syllabus.core import (
    DirectPettingZooSyncWrapper,
    MultiagentSharedCurriculumWrapper,
    PettingZooTaskWrapper,
    TaskInterfaceError,
)
from syllabus.curricula import DomainRandomization
from syllabus.task_space import DiscreteTaskSpace, TaskSpaceError


def test_task_env_switches_task_at_reset_and_checks_it():
    env = CountingParallelEnv(DiscreteTaskSpace(10))
    env.reset(new_task=3)
    assert env.task == 3
    env.reset()
    assert env.task == 3  # a reset without a task keeps the current one
    with pytest.raises(TaskSpaceError, match="not in"):
        env.reset(new_task=10)


def test_task_env_passes_pettingzoos_parallel_api_test():
    parallel_api_test(CountingParallelEnv(), num_cycles=50)


class ScaledRewards(PettingZooTaskWrapper):
    """Multiplies every reward by the task."""

    def __init__(self, env):
        super().__init__(env, DiscreteTaskSpace([1, 2, 3]))
        self._task = 1

    def step(self, actions):
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        return obs, {a: r * self.task for a, r in rewards.items()}, terminations, truncations, infos


def test_task_wrapper_applies_the_task_and_forwards_the_rest():
    env = ScaledRewards(CountingParallelEnv())
    env.reset(seed=0, new_task=3)
    assert env.task == 3 and env.possible_agents == AGENTS
    _, rewards, *_ = env.step(dict.fromkeys(env.agents, 0))
    base = CountingParallelEnv()
    base.reset(seed=0)
    _, base_rewards, *_ = base.step(dict.fromkeys(base.agents, 0))
    assert rewards == {a: 3 * r for a, r in base_rewards.items()}


class RpsLength(PettingZooTaskWrapper):
    """Rock-paper-scissors (an AEC env, made parallel) whose task is the number of rounds."""

    def __init__(self):
        from pettingzoo.classic import rps_v2

        super().__init__(aec_to_parallel(rps_v2.env()), DiscreteTaskSpace([2, 3, 5]))

    def change_task(self, new_task):
        self.env.aec_env.unwrapped.max_cycles = new_task  # the AEC env below aec_to_parallel


class CyclingCurriculum(RecordingCurriculum):
    """A RecordingCurriculum over ``tasks`` that samples them in turn."""

    def __init__(self, tasks):
        super().__init__()
        self.task_space = DiscreteTaskSpace(tasks)

    def sample(self, k=1):
        n = self.task_space.num_tasks
        tasks = [self.task_space.decode((len(self.sampled) + j) % n) for j in range(k)]
        self.sampled.extend(tasks)
        return tasks


def test_an_aec_env_takes_tasks_through_aec_to_parallel():
    env = RpsLength()
    players = env.possible_agents
    recording = CyclingCurriculum([2, 3, 5])
    synced = DirectPettingZooSyncWrapper(
        env, MultiagentSharedCurriculumWrapper(recording, players), prefetch=0
    )
    seen = []
    for _ in range(3):
        _, infos = synced.reset(seed=0)
        total, length = dict.fromkeys(players, 0.0), 0
        while synced.agents:
            _, rewards, *_ = synced.step({agent: (length + i) % 3 for i, agent in enumerate(synced.agents)})
            length += 1
            for agent, reward in rewards.items():
                total[agent] += reward
        seen.append((infos[players[0]]["task"], total, length))
    assert [(task, length) for task, _, length in seen] == [
        (2, 2),
        (3, 3),
        (5, 5),
    ]  # the task set the AEC env
    for i, agent in enumerate(players):
        assert recording.episodes[i] == [(task, total[agent], length) for task, total, length in seen]


def test_sync_wrappers_refuse_what_is_not_a_parallel_task_env():
    curriculum = DomainRandomization(DiscreteTaskSpace(3))
    with pytest.raises(TaskInterfaceError, match="not a pettingzoo ParallelEnv"):
        DirectPettingZooSyncWrapper(object(), curriculum)


def test_synced_env_passes_pettingzoos_parallel_api_test():
    curriculum = MultiagentSharedCurriculumWrapper(DomainRandomization(DiscreteTaskSpace(100)), AGENTS)
    env = DirectPettingZooSyncWrapper(CountingParallelEnv(DiscreteTaskSpace(100)), curriculum)
    parallel_api_test(env, num_cycles=50)
    env.close()


# -------------------------------------------------------------------------------- MPE2
mpe = pytest.importorskip("syllabus.envs.mpe")


def test_mpe_world_size_scales_the_start_positions():
    env = mpe.make_mpe()
    positions = {}
    for task in (0.5, 2.0):
        env.reset(seed=7, new_task=task)
        positions[task] = np.array([e.state.p_pos for e in env.unwrapped.world.entities])
    assert np.allclose(positions[2.0], 4 * positions[0.5])  # same draw, scaled by the task
    assert np.abs(positions[0.5]).max() <= 0.5
    env.close()


def test_mpe_reports_landmark_coverage_as_task_completion():
    env = mpe.make_mpe(max_cycles=3)
    env.reset(seed=0, new_task=1.0)
    world = env.unwrapped.world
    for agent, landmark in zip(world.agents, world.landmarks, strict=True):
        agent.state.p_pos = landmark.state.p_pos.copy()
    _, _, _, _, infos = env.step(dict.fromkeys(env.agents, 0))  # no-op actions: agents stay
    assert {info["task_completion"] for info in infos.values()} == {1.0}
    env.close()


def test_mpe_passes_pettingzoos_parallel_api_test():
    parallel_api_test(mpe.make_mpe(), num_cycles=30)
