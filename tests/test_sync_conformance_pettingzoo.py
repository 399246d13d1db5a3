"""The sync conformance suite for PettingZoo envs: what every backend (in-process, multiprocessing,
Ray) must do for a multi-agent env, tested the same way on each.

Reuses the backends of test_sync_conformance.py; the envs run in the test process, so each test
controls exactly what was sent when. Start methods and real processes: test_pettingzoo_sync.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from pettingzoo_fixtures import AGENTS, CountingParallelEnv, lanes_of, run_parallel
from sync_fixtures import TASK_SPACE, RecordingCurriculum
from test_sync_conformance import Backend, Direct, MultiProcessing, Ray, served
from timeouts import scaled

from syllabus.core import (
    CurriculumError,
    CurriculumTimeoutError,
    DirectPettingZooSyncWrapper,
    MultiagentIndependentCurriculumWrapper,
    MultiagentSharedCurriculumWrapper,
    PettingZooSyncWrapper,
    PettingZooTaskWrapper,
    RayPettingZooSyncWrapper,
    TaskInterfaceError,
)
from syllabus.curricula import DomainRandomization
from syllabus.task_space import DictTaskSpace

pytestmark = pytest.mark.timeout(60)

BACKENDS = ["direct", "multiprocessing", pytest.param("ray", marks=pytest.mark.slow)]


def pz_env(backend: Backend, handle: Any, env: Any = None, **kwargs: Any) -> Any:
    """A synced PettingZoo env (a CountingParallelEnv by default) for ``backend``."""
    env = env if env is not None else CountingParallelEnv()
    if isinstance(backend, Direct):
        kwargs.pop("timeout", None)
        return DirectPettingZooSyncWrapper(env, handle, **kwargs)
    if isinstance(backend, MultiProcessing):
        _, task_queue, update_queue = handle
        return PettingZooSyncWrapper(env, task_queue, update_queue, **kwargs)
    return RayPettingZooSyncWrapper(env, curriculum_name=handle.name, **kwargs)


@pytest.fixture(scope="module")
def ray_session():
    from ray_fixtures import local_ray

    with local_ray():
        yield


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "ray":
        request.getfixturevalue("ray_session")
        return Ray()
    return Direct() if request.param == "direct" else MultiProcessing()


def inner(state: Any) -> RecordingCurriculum:
    """The recording curriculum inside a (possibly snapshot) multi-agent wrapper."""
    return state.curriculum


@pytest.mark.parametrize("step_updates", [False, True], ids=["episode-updates", "step-updates"])
@pytest.mark.parametrize("prefetch", [0, 2])
def test_every_agent_episode_exactly_once(backend, step_updates, prefetch):
    recording = RecordingCurriculum(step_updates=step_updates)
    curriculum = MultiagentSharedCurriculumWrapper(recording, AGENTS)
    with served(backend, curriculum) as handle:
        envs = [pz_env(backend, handle, env_id=i, prefetch=prefetch, step_batch_size=3) for i in range(3)]
        rollouts = run_parallel(envs, episodes=8)
        for env in envs:
            env.close()
        state = inner(backend.state(handle))
    assert dict(state.episodes) == lanes_of(rollouts)
    assert len(set(rollouts.delivered)) == len(rollouts.delivered), "a task was delivered twice"
    assert set(rollouts.delivered) <= set(state.sampled)
    # One task per env episode, shared by its agents: at most `prefetch` ahead per env.
    assert len(state.sampled) <= len(rollouts.delivered) + 3 * (1 + prefetch)
    if step_updates:  # each lane's steps sum to that agent's returns, task by task
        for lane, episodes in state.episodes.items():
            per_task: dict[int, float] = {}
            for task, reward in state.steps[lane]:
                per_task[task] = per_task.get(task, 0.0) + reward
            assert {task: ret for task, ret, _ in episodes} == {
                t: r for t, r in per_task.items() if t in dict((task, 0) for task, _, _ in episodes)
            }
    else:
        assert not state.steps


def test_episode_length_is_the_longest_lived_agent(backend):
    recording = RecordingCurriculum()
    with served(backend, MultiagentSharedCurriculumWrapper(recording, AGENTS)) as handle:
        env = pz_env(backend, handle, env_id=0)
        run_parallel([env], episodes=4)
        env.close()
        state = inner(backend.state(handle))
    probe = CountingParallelEnv()
    for lane in range(len(AGENTS)):
        for task, _, length in state.episodes[lane]:
            probe._task = task
            assert length == max(probe.lifetime(agent) for agent in AGENTS)


def test_joint_policy_reports_every_agent_on_the_env_lane(backend):
    recording = RecordingCurriculum()
    with served(backend, MultiagentSharedCurriculumWrapper(recording, AGENTS, joint_policy=True)) as handle:
        envs = [pz_env(backend, handle, env_id=i) for i in range(2)]
        rollouts = run_parallel(envs, episodes=3)
        for env in envs:
            env.close()
        state = inner(backend.state(handle))
    for i in range(2):
        expected = sorted(ep for (env, _), eps in rollouts.episodes.items() if env == i for ep in eps)
        assert sorted(state.episodes[i]) == expected


class PerAgentTaskWrapper(PettingZooTaskWrapper):
    """A CountingParallelEnv whose task is one task per agent (it runs agent a0's)."""

    def __init__(self) -> None:
        base = CountingParallelEnv()
        super().__init__(base, DictTaskSpace({agent: base.task_space for agent in AGENTS}))

    def change_task(self, new_task):
        self.env._task = new_task["a0"]


def test_independent_curricula_give_each_agent_its_own_task(backend):
    recordings = {agent: RecordingCurriculum() for agent in AGENTS}
    curriculum = MultiagentIndependentCurriculumWrapper(recordings)
    with served(backend, curriculum) as handle:
        env = pz_env(backend, handle, env=PerAgentTaskWrapper(), env_id=0)
        tasks = []
        for _ in range(3):
            _, infos = env.reset()
            tasks.append(infos["a0"]["task"])
            while env.agents:
                env.step({agent: 0 for agent in env.agents})
        env.close()
        state = backend.state(handle)
    for agent in AGENTS:
        episodes = state.curricula[agent].episodes[0]
        assert [task for task, _, _ in episodes] == [task[agent] for task in tasks]


def test_a_curriculum_without_a_multiagent_wrapper_fails_in_the_env_with_the_fix(backend):
    with served(backend, DomainRandomization(TASK_SPACE)) as handle:
        env = pz_env(backend, handle, prefetch=0, timeout=scaled(10))
        with pytest.raises(CurriculumError, match="MultiagentSharedCurriculumWrapper"):
            run_parallel([env], episodes=3)  # the first episode update fails; a later reset reads why
        env.close()


def test_an_env_without_new_task_is_refused(backend):
    from pettingzoo.utils.wrappers import BaseParallelWrapper

    with served(backend, MultiagentSharedCurriculumWrapper(RecordingCurriculum(), AGENTS)) as handle:
        with pytest.raises(TaskInterfaceError, match="PettingZooTaskWrapper"):
            pz_env(backend, handle, env=BaseParallelWrapper(CountingParallelEnv()))


def test_a_blocked_curriculum_ends_a_reset_after_the_timeout(backend):
    if not backend.has_peer:
        pytest.skip("in-process: nothing can block")
    with served(backend, MultiagentSharedCurriculumWrapper(RecordingCurriculum(), AGENTS)) as handle:
        env = pz_env(backend, handle, timeout=scaled(1))
        with backend.blocked(handle), pytest.raises(CurriculumTimeoutError, match="did not answer"):
            env.reset()
        assert env.reset()[1]["a0"]["task"] == 0  # the requests sent before the timeout were answered
        env.close()


@pytest.mark.parametrize("prefetch", [0, 1])
def test_resets_without_an_episode_end_get_fresh_tasks(backend, prefetch):
    recording = RecordingCurriculum()
    with served(backend, MultiagentSharedCurriculumWrapper(recording, AGENTS)) as handle:
        env = pz_env(backend, handle, prefetch=prefetch, timeout=scaled(10))
        tasks = [env.reset()[1]["a0"]["task"] for _ in range(4)]
        env.close()
        state = inner(backend.state(handle))
    assert len(set(tasks)) == 4
    assert not state.episodes


def test_single_agent_resets_without_an_episode_end_get_fresh_tasks_too(backend):
    """The same session code serves gymnasium envs: with prefetch=0 a second reset asks for a task."""
    recording = RecordingCurriculum()
    with served(backend, recording) as handle:
        env = backend.env(handle, prefetch=0, timeout=scaled(10))
        tasks = [env.reset()[1]["task"] for _ in range(3)]
        env.close()
        backend.state(handle)
    assert len(set(tasks)) == 3
