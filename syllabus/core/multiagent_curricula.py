"""Curricula over multi-agent environments: one curriculum for all agents, or one per agent.

PettingZoo sync wrappers (see [`ParallelSyncWrapper`][syllabus.core.pettingzoo_sync.ParallelSyncWrapper])
report per-agent episode results: ``{agent: return}`` and ``{agent: progress}``, and step batches
whose rewards, terminated and truncated are arrays over ``possible_agents``. These wrappers turn
them into the single-agent updates a curriculum learns from. Neither needs PettingZoo installed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from syllabus.core.curriculum import Curriculum, StepBatch, Task
from syllabus.task_space import DictTaskSpace

AgentID = Any


def _per_agent(episode_return: Any, wrapper: str) -> Mapping[AgentID, float]:
    if not isinstance(episode_return, Mapping):
        raise ValueError(
            f"{wrapper} learns from per-agent returns ({{agent: return}}, as PettingZoo sync wrappers send), "
            f"got {episode_return!r}; single-agent envs need no multi-agent wrapper"
        )
    return episode_return


def _agent_value(value: Any, agent: AgentID) -> Any:
    """An agent's entry of a per-agent dict, or ``value`` itself when it is not a dict."""
    return value.get(agent) if isinstance(value, Mapping) else value


def _split_batch(batch: StepBatch, agents: Sequence[AgentID]) -> dict[AgentID, list[tuple]]:
    """Each agent's steps of a multi-agent step batch (the steps in which the agent acted), in order."""
    index = {agent: i for i, agent in enumerate(agents)}
    steps: dict[AgentID, list[tuple]] = {}
    for task, obs, rewards, terminated, truncated, infos, progress in zip(*batch, strict=True):
        for agent in obs:
            i = index[agent]
            steps.setdefault(agent, []).append(
                (
                    task,
                    obs[agent],
                    float(rewards[i]),
                    bool(terminated[i]),
                    bool(truncated[i]),
                    infos.get(agent, {}),
                    _agent_value(progress, agent),
                )
            )
    return steps


def _batch(steps: list[tuple]) -> StepBatch:
    return StepBatch(*(list(column) for column in zip(*steps, strict=True)))


class MultiagentSharedCurriculumWrapper(Curriculum):
    """One curriculum learns from every agent's episodes; the agents of an env share its task.

    Each agent is its own lane: agent ``i`` (its index in ``possible_agents``) of env ``e`` reports
    to the wrapped curriculum as env ``e * len(possible_agents) + i``, so curricula that keep
    per-env state (e.g. PLR's step buffers) see one stream per agent, as with parameter sharing.
    With ``joint_policy=True`` an env is one lane (its own ``env_id``): every agent's episode is
    still reported, each with the env's id, and a step reports the joint observation (the dict
    of all agents) with the agents' summed reward, done when every agent is done.

    Args:
        curriculum: The curriculum to share; it samples one task per env.
        possible_agents: The env's ``possible_agents``, in its order.
        joint_policy: One lane per env instead of one per agent.

    Raises:
        ValueError: ``possible_agents`` is empty or has duplicates.
    """

    def __init__(
        self, curriculum: Curriculum, possible_agents: Sequence[AgentID], joint_policy: bool = False
    ) -> None:
        if not isinstance(curriculum, Curriculum):
            raise TypeError(f"curriculum must be a syllabus Curriculum, got {curriculum!r}")
        agents = list(possible_agents)
        if not agents or len(set(agents)) != len(agents):
            raise ValueError(
                f"possible_agents must be distinct agent ids, at least one, got {possible_agents!r}"
            )
        super().__init__(curriculum.task_space)
        self.curriculum = curriculum
        self.possible_agents = agents
        self.joint_policy = bool(joint_policy)
        self._index = {agent: i for i, agent in enumerate(agents)}

    def lane(self, env_id: int | None, agent: AgentID) -> int | None:
        """The env id under which ``agent`` of env ``env_id`` reports to the wrapped curriculum."""
        if env_id is None or self.joint_policy:
            return env_id
        return env_id * len(self.possible_agents) + self._index[agent]

    @property
    def requires_step_updates(self) -> bool:
        """Whether the wrapped curriculum needs step updates."""
        return self.curriculum.requires_step_updates

    def task_distribution(self) -> np.ndarray | None:
        """The wrapped curriculum's task distribution."""
        return self.curriculum.task_distribution()

    def sample(self, k: int = 1) -> list[Task]:
        """Samples ``k`` tasks from the wrapped curriculum."""
        return self.curriculum.sample(k)

    def sample_with_metadata(self, k: int = 1) -> list[tuple[Task, dict[str, Any] | None]]:
        """Samples ``k`` tasks with their metadata from the wrapped curriculum."""
        return self.curriculum.sample_with_metadata(k)

    def update_on_episode(
        self,
        episode_return: Any,
        length: int,
        task: Task,
        progress: Any = None,
        env_id: int | None = None,
    ) -> None:
        """Reports each agent's return (``{agent: return}``) as one episode on the agent's lane.

        Raises:
            ValueError: ``episode_return`` is not a dict by agent, or names an unknown agent.
        """
        returns = _per_agent(episode_return, type(self).__name__)
        unknown = [agent for agent in returns if agent not in self._index]
        if unknown:
            raise ValueError(f"agents {unknown} are not in possible_agents {self.possible_agents}")
        for agent in sorted(returns, key=self._index.__getitem__):
            self.curriculum.update_on_episode(
                returns[agent], length, task, _agent_value(progress, agent), env_id=self.lane(env_id, agent)
            )

    def update_on_step(
        self,
        task: Task,
        obs: Any,
        reward: Any,
        terminated: Any,
        truncated: Any,
        info: Any,
        progress: Any = None,
        env_id: int | None = None,
    ) -> None:
        """Reports one multi-agent step (as a batch of one)."""
        self.update_on_step_batch(
            StepBatch([task], [obs], [reward], [terminated], [truncated], [info], [progress]), env_id
        )

    def update_on_step_batch(self, batch: StepBatch, env_id: int | None = None) -> None:
        """Splits a multi-agent step batch into each agent's lane (or one joint lane)."""
        if self.joint_policy:
            joint = [self._joint_step(step) for step in zip(*batch, strict=True)]
            if joint:
                self.curriculum.update_on_step_batch(_batch(joint), env_id=env_id)
            return
        for agent, steps in _split_batch(batch, self.possible_agents).items():
            self.curriculum.update_on_step_batch(_batch(steps), env_id=self.lane(env_id, agent))

    def _joint_step(self, step: tuple) -> tuple:
        """One env step as a single-agent step: joint obs, summed reward, done when every acting agent is."""
        task, obs, rewards, terminated, truncated, infos, progress = step
        acting = [self._index[agent] for agent in obs]
        done = bool(np.all(terminated[acting] | truncated[acting]))
        ended = done and bool(np.all(terminated[acting]))
        joint_progress = max(progress.values()) if isinstance(progress, Mapping) and progress else None
        return (task, obs, float(np.sum(rewards)), ended, done and not ended, infos, joint_progress)

    def update_task_progress(self, task: Task, progress: Any, env_id: int | None = None) -> None:
        """Reports progress (a number, or ``{agent: progress}``) on each agent's lane."""
        agents = list(progress) if isinstance(progress, Mapping) else self.possible_agents
        for agent in agents:
            self.curriculum.update_task_progress(
                task, _agent_value(progress, agent), env_id=self.lane(env_id, agent)
            )

    def custom_update(self, *args: Any, **kwargs: Any) -> None:
        """Forwards learner-side data to the wrapped curriculum."""
        self.curriculum.custom_update(*args, **kwargs)

    def normalize(self, value: float | np.ndarray, task: Task) -> float | np.ndarray:
        """The wrapped curriculum's normalization."""
        return self.curriculum.normalize(value, task)

    def metrics(self, max_tasks: int = 10) -> dict[str, float]:
        """The wrapped curriculum's metrics."""
        return self.curriculum.metrics(max_tasks)

    def state_dict(self) -> dict[str, Any]:
        """This wrapper's identity and the wrapped curriculum's state."""
        return {**super().state_dict(), "inner": self.curriculum.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the wrapped curriculum's state."""
        self.curriculum.load_state_dict(state["inner"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.curriculum!r}, {self.possible_agents!r}, joint_policy={self.joint_policy})"


class MultiagentIndependentCurriculumWrapper(Curriculum):
    """One curriculum per agent: each agent of an env gets its own task and its curriculum its own episodes.

    The env's task is a dict ``{agent: task}`` over a
    [`DictTaskSpace`][syllabus.task_space.DictTaskSpace] of the agents' task spaces (the env's
    ``task_space`` must equal [`task_space`][syllabus.core.curriculum.Curriculum]). Agent ``a``'s
    curriculum samples ``task[a]`` and learns from ``a``'s return, progress and steps, under the
    env's own ``env_id``.

    Args:
        curricula: Each agent's curriculum, by agent id (strings), in ``possible_agents`` order.

    Raises:
        ValueError: ``curricula`` is empty, or one curriculum serves two agents.
    """

    def __init__(self, curricula: Mapping[str, Curriculum]) -> None:
        curricula = dict(curricula)
        if not curricula:
            raise ValueError("curricula must map each agent to its curriculum, got none")
        for agent, curriculum in curricula.items():
            if not isinstance(curriculum, Curriculum):
                raise TypeError(
                    f"the curriculum of agent {agent!r} must be a syllabus Curriculum, got {curriculum!r}"
                )
        if len({id(c) for c in curricula.values()}) != len(curricula):
            raise ValueError(
                "each agent needs its own curriculum object (one serving two agents would sample and learn twice); "
                "use MultiagentSharedCurriculumWrapper for one curriculum over all agents"
            )
        super().__init__(DictTaskSpace({agent: c.task_space for agent, c in curricula.items()}))
        self.curricula = curricula
        self.possible_agents = list(curricula)

    @property
    def requires_step_updates(self) -> bool:
        """Whether any agent's curriculum needs step updates."""
        return any(c.requires_step_updates for c in self.curricula.values())

    def sample_with_metadata(self, k: int = 1) -> list[tuple[Task, dict[str, Any] | None]]:
        """Samples ``k`` joint tasks, each agent's from its curriculum; metadata by agent (``None`` if none has any)."""
        drawn = {agent: c.sample_with_metadata(k) for agent, c in self.curricula.items()}
        out: list[tuple[Task, dict[str, Any] | None]] = []
        for j in range(k):
            task = {agent: drawn[agent][j][0] for agent in self.possible_agents}
            metadata = {
                agent: drawn[agent][j][1] for agent in self.possible_agents if drawn[agent][j][1] is not None
            }
            out.append((task, metadata or None))
        return out

    def sample(self, k: int = 1) -> list[Task]:
        """Samples ``k`` joint tasks ``{agent: task}``."""
        return [task for task, _ in self.sample_with_metadata(k)]

    def update_on_episode(
        self,
        episode_return: Any,
        length: int,
        task: Task,
        progress: Any = None,
        env_id: int | None = None,
    ) -> None:
        """Reports each agent's return on its own task to its own curriculum.

        Raises:
            ValueError: ``episode_return`` is not a dict by agent, or names an unknown agent.
        """
        returns = _per_agent(episode_return, type(self).__name__)
        unknown = [agent for agent in returns if agent not in self.curricula]
        if unknown:
            raise ValueError(f"agents {unknown} have no curriculum (agents: {self.possible_agents})")
        for agent in self.possible_agents:
            if agent in returns:
                self.curricula[agent].update_on_episode(
                    returns[agent], length, task[agent], _agent_value(progress, agent), env_id=env_id
                )

    def update_on_step_batch(self, batch: StepBatch, env_id: int | None = None) -> None:
        """Gives each agent's curriculum that needs step updates the agent's steps, on its own task."""
        for agent, steps in _split_batch(batch, self.possible_agents).items():
            curriculum = self.curricula[agent]
            if curriculum.requires_step_updates:
                own = [(task[agent], *rest) for task, *rest in steps]
                curriculum.update_on_step_batch(_batch(own), env_id=env_id)

    def update_task_progress(self, task: Task, progress: Any, env_id: int | None = None) -> None:
        """Reports progress (a number, or ``{agent: progress}``) to each agent's curriculum."""
        agents = list(progress) if isinstance(progress, Mapping) else self.possible_agents
        for agent in agents:
            self.curricula[agent].update_task_progress(
                task[agent], _agent_value(progress, agent), env_id=env_id
            )

    def custom_update(self, agent: str, *args: Any, **kwargs: Any) -> None:
        """Forwards learner-side data to ``agent``'s curriculum."""
        self.curricula[agent].custom_update(*args, **kwargs)

    def metrics(self, max_tasks: int = 10) -> dict[str, float]:
        """Each agent's curriculum metrics, keys prefixed with ``<agent>/``."""
        return {
            f"{agent}/{key}": value
            for agent, curriculum in self.curricula.items()
            for key, value in curriculum.metrics(max_tasks).items()
        }

    def state_dict(self) -> dict[str, Any]:
        """This wrapper's identity and each agent's curriculum state."""
        return {**super().state_dict(), "inner": {a: c.state_dict() for a, c in self.curricula.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores each agent's curriculum state."""
        for agent, curriculum in self.curricula.items():
            curriculum.load_state_dict(state["inner"][agent])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.curricula!r})"
