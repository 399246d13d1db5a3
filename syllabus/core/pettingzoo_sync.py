"""Synchronization of PettingZoo parallel environments, in every backend (needs the ``pettingzoo`` extra).

The multi-agent twins of the single-agent sync wrappers, speaking the same protocol through the
same [`EnvSession`][syllabus.core.env_sync.EnvSession] and transports, so they give the same
guarantees: every task reaches its env, every episode reaches the curriculum exactly once, waits
are bounded and curriculum errors are raised in the env.

An env has one task for all its agents. Its episode ends when every agent still in it is
terminated or truncated; the episode update carries ``{agent: return}`` over the agents of the
episode, the length in env steps, the task and ``{agent: progress}`` (each agent's last
``infos[agent]["task_completion"]``; ``None`` when no agent reported any). A curriculum learns
from these per-agent updates through
[`MultiagentSharedCurriculumWrapper`][syllabus.core.multiagent_curricula.MultiagentSharedCurriculumWrapper]
or [`MultiagentIndependentCurriculumWrapper`][syllabus.core.multiagent_curricula.MultiagentIndependentCurriculumWrapper],
or by taking such dicts itself (self-play curricula do).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from pettingzoo import ParallelEnv
from pettingzoo.utils.wrappers import BaseParallelWrapper

from syllabus.core.curriculum import Curriculum
from syllabus.core.direct_sync import direct_connector
from syllabus.core.env_sync import EnvSession, Transport
from syllabus.core.errors import TaskInterfaceError
from syllabus.core.multiprocessing_sync import TaskQueue, UpdateQueue, socket_connector
from syllabus.core.ray.calls import DEFAULT_NAME, DEFAULT_TIMEOUT
from syllabus.core.ray.transport import DEFAULT_MAX_IN_FLIGHT, DEFAULT_PREFETCH, ray_connector

if TYPE_CHECKING:
    from ray.actor import ActorHandle


def check_parallel_task_interface(env: Any) -> None:
    """Raises [`TaskInterfaceError`][syllabus.core.errors.TaskInterfaceError] unless ``env`` is a
    PettingZoo parallel env whose ``reset`` accepts ``new_task``."""
    if not isinstance(env, ParallelEnv):
        raise TaskInterfaceError(
            f"{env!r} is not a pettingzoo ParallelEnv: convert an AEC env with pettingzoo.utils.aec_to_parallel, "
            "and use the single-agent sync wrappers for gymnasium envs"
        )
    try:
        params = inspect.signature(env.reset).parameters
    except (TypeError, ValueError) as exc:
        raise TaskInterfaceError(f"cannot inspect {type(env).__name__}.reset: {exc}") from exc
    if "new_task" not in params:
        raise TaskInterfaceError(
            f"{env} cannot switch tasks: its reset() takes no 'new_task' argument. Wrap it in a syllabus "
            "PettingZooTaskWrapper (or subclass PettingZooTaskEnv) and put the sync wrapper directly above it"
        )


class ParallelSyncWrapper(BaseParallelWrapper):
    """Base of the PettingZoo sync wrappers: hands the env its tasks and reports its episodes per agent.

    On every ``reset()`` the env gets the next task, sampled ahead of time, and each agent's info
    holds it in ``infos[agent]["task"]`` (its metadata in ``infos[agent]["task_metadata"]``). Each
    episode end (all agents done) sends one episode update with every agent's return. Curricula
    with ``requires_step_updates`` also get step results in batches of ``step_batch_size`` env
    steps: per step the task, the observations and infos (dicts by agent), rewards, terminated and
    truncated (arrays over ``possible_agents``: an agent absent from the step has 0 and ``False``),
    and the agents' progress (dict by agent, or ``None``).

    Args:
        env: A PettingZoo task env, or wrapped in a PettingZooTaskWrapper directly beneath.
        connect: Opens the backend's channel to the curriculum, at the first reset.
        env_id: Identifier reported with updates; assigned by the curriculum side when ``None``.
        timeout: Seconds a reset may wait for a task before raising.
        prefetch: Tasks kept ready beyond the one the next reset takes.
        step_batch_size: Env steps per step-update message.
    """

    def __init__(
        self,
        env: ParallelEnv,
        connect: Callable[[], Transport],
        *,
        env_id: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        prefetch: int = 1,
        step_batch_size: int = 64,
    ) -> None:
        check_parallel_task_interface(env)
        session = EnvSession(
            connect, env_id=env_id, timeout=timeout, prefetch=prefetch, step_batch_size=step_batch_size
        )
        super().__init__(env)
        self._session = session
        self._agent_index = {agent: i for i, agent in enumerate(env.possible_agents)}
        self._task: Any = None
        self._returns: dict[Any, float] = {}
        self._progress: dict[Any, Any] = {}
        self._length = 0

    @property
    def env_id(self) -> int | None:
        """Identifier reported with updates (assigned at the first reset when not given)."""
        return self._session.env_id

    @property
    def task(self) -> Any:
        """The task of the current episode."""
        return self._task

    @property
    def task_space(self) -> Any:
        """The wrapped environment's task space."""
        return self.env.task_space

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None, new_task: Any = None
    ) -> tuple[dict[Any, Any], dict[Any, dict[str, Any]]]:
        """Resets into the next task from the curriculum, or into ``new_task`` when given."""
        new_task, metadata = self._session.next_task(new_task)
        obs, infos = self.env.reset(seed=seed, options=options, new_task=new_task)
        self._task = new_task
        self._returns = dict.fromkeys(obs, 0.0)
        self._progress = {}
        self._length = 0
        for agent in obs:
            info = infos.setdefault(agent, {})
            info["task"] = new_task
            if metadata is not None:
                info["task_metadata"] = metadata
        return obs, infos

    def step(self, actions: dict[Any, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Steps the env; when every agent is done sends the episode update (and pending step updates)."""
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        self._length += 1
        for agent, reward in rewards.items():
            self._returns[agent] = self._returns.get(agent, 0.0) + float(reward)
        for agent, info in infos.items():
            if "task_completion" in info:
                self._progress[agent] = info["task_completion"]
        if self._session.sends_steps:
            self._session.add_step(self._step_record(obs, rewards, terminations, truncations, infos))
        done = [terminations.get(agent, False) or truncations.get(agent, False) for agent in rewards]
        if done and all(done):
            self._session.end_episode(self._task, dict(self._returns), self._length, self._progress or None)
        return obs, rewards, terminations, truncations, infos

    def close(self) -> None:
        """Sends pending updates, says goodbye to the curriculum and closes the env."""
        self._session.close()
        self.env.close()

    def _step_record(
        self, obs: dict, rewards: dict, terminations: dict, truncations: dict, infos: dict
    ) -> tuple:
        n = len(self._agent_index)
        reward_array = np.zeros(n, dtype=np.float64)
        terminated, truncated = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        for agent, reward in rewards.items():
            i = self._agent_index[agent]
            reward_array[i] = reward
            terminated[i] = terminations.get(agent, False)
            truncated[i] = truncations.get(agent, False)
        return (self._task, obs, reward_array, terminated, truncated, infos, dict(self._progress) or None)


class PettingZooSyncWrapper(ParallelSyncWrapper):
    """Connects a PettingZoo env to a curriculum served by
    [`make_multiprocessing_curriculum`][syllabus.core.multiprocessing_sync.make_multiprocessing_curriculum].

    Build it inside the env process (in the env factory). See
    [`ParallelSyncWrapper`][syllabus.core.pettingzoo_sync.ParallelSyncWrapper] for what it does.

    Args:
        env: A PettingZoo task env, or wrapped in a PettingZooTaskWrapper directly beneath.
        task_queue: The task handle returned by ``make_multiprocessing_curriculum``.
        update_queue: The update handle returned by the same call.
        env_id: Identifier reported with updates; assigned in connection order when ``None``.
        timeout: Seconds a reset may wait for a task; defaults to the curriculum's ``timeout``.
        prefetch: Tasks kept ready beyond the one the next reset takes.
        step_batch_size: Env steps per step-update message (only for curricula that need them).
    """

    def __init__(
        self,
        env: ParallelEnv,
        task_queue: TaskQueue,
        update_queue: UpdateQueue,
        *,
        env_id: int | None = None,
        timeout: float | None = None,
        prefetch: int = 1,
        step_batch_size: int = 64,
    ) -> None:
        connect = socket_connector(task_queue, update_queue)
        super().__init__(
            env,
            connect,
            env_id=env_id,
            timeout=task_queue.timeout if timeout is None else timeout,
            prefetch=prefetch,
            step_batch_size=step_batch_size,
        )


class RayPettingZooSyncWrapper(ParallelSyncWrapper):
    """Connects a PettingZoo env to a curriculum served by [`make_ray_curriculum`][syllabus.core.ray.handle.make_ray_curriculum].

    Build it in any Ray process of the job (e.g. in the env creator of RLlib's env runners); the
    actor is looked up at the first reset. Updates travel like those of
    [`RaySyncWrapper`][syllabus.core.ray.env_wrapper.RaySyncWrapper]: several per actor call, and
    ``close`` sends those still held.

    Args:
        env: A PettingZoo task env, or wrapped in a PettingZooTaskWrapper directly beneath.
        curriculum_name: Name given to ``make_ray_curriculum``.
        namespace: Ray namespace of the curriculum actor; ``None`` is the current job's.
        actor: The curriculum actor's handle (``curriculum.actor``); skips the lookup by name.
        env_id: Identifier reported with updates; assigned in connection order when ``None``.
        timeout: Seconds a reset (or a send under backpressure) may wait for the curriculum.
        prefetch: Tasks kept ready beyond the one the next reset takes.
        step_batch_size: Env steps per step-update message (only for curricula that need them).
        max_in_flight: Actor calls sent and not yet applied before a send waits.
        batch_size: Messages per actor call; ``None`` is ``min(prefetch, 8)``, at least 1.
    """

    def __init__(
        self,
        env: ParallelEnv,
        curriculum_name: str = DEFAULT_NAME,
        namespace: str | None = None,
        actor: ActorHandle | None = None,
        *,
        env_id: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        prefetch: int = DEFAULT_PREFETCH,
        step_batch_size: int = 64,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        batch_size: int | None = None,
    ) -> None:
        connect, batch_size = ray_connector(
            curriculum_name, namespace, actor, timeout, prefetch, max_in_flight, batch_size
        )
        super().__init__(
            env, connect, env_id=env_id, timeout=timeout, prefetch=prefetch, step_batch_size=step_batch_size
        )
        self.batch_size = batch_size


class DirectPettingZooSyncWrapper(ParallelSyncWrapper):
    """Connects a PettingZoo env to a curriculum in the same process and thread, without any IPC.

    The multi-agent twin of [`DirectSyncWrapper`][syllabus.core.direct_sync.DirectSyncWrapper]:
    deterministic given the seeds, not thread-safe.

    Args:
        env: A PettingZoo task env, or wrapped in a PettingZooTaskWrapper directly beneath.
        curriculum: The curriculum that samples this env's tasks and receives its updates.
        env_id: Identifier reported with updates; assigned in order of first reset when ``None``.
        prefetch: Tasks kept ready beyond the one the next reset takes.
        step_batch_size: Env steps per step-update batch (only for curricula that need them).
    """

    def __init__(
        self,
        env: ParallelEnv,
        curriculum: Curriculum,
        *,
        env_id: int | None = None,
        prefetch: int = 1,
        step_batch_size: int = 64,
    ) -> None:
        super().__init__(
            env,
            direct_connector(curriculum, "DirectPettingZooSyncWrapper"),
            env_id=env_id,
            prefetch=prefetch,
            step_batch_size=step_batch_size,
        )
