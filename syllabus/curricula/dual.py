"""Two curricula over one tuple of tasks: an environment curriculum and an opponent curriculum."""

from __future__ import annotations

from typing import Any

import numpy as np

from syllabus.core.curriculum import Curriculum, StepBatch, Task
from syllabus.core.errors import CurriculumError
from syllabus.task_space import TupleTaskSpace


class DualCurriculumWrapper(Curriculum):
    """Runs an environment curriculum and an agent (opponent) curriculum together; tasks are ``(env_task, agent_task)`` pairs.

    E.g. [`PrioritizedLevelReplay`][syllabus.curricula.PrioritizedLevelReplay] over levels with
    [`PrioritizedFictitiousSelfPlay`][syllabus.curricula.PrioritizedFictitiousSelfPlay] over
    opponents. The task space is ``TupleTaskSpace([env_curriculum.task_space,
    agent_curriculum.task_space])``; the environment declares the same space and takes both parts
    at reset. Each sample draws one task from each curriculum (independently); every update goes
    to both, each receiving its own part of the task (step updates only to the curricula that
    require them). ``custom_update`` goes to the environment curriculum unchanged (e.g. PLR's
    value scores: pass it the encoded *environment* tasks), and ``add_agent`` to the agent curriculum.

    Task metadata reaches the env as ``{"env": ..., "agent": ...}`` when either curriculum gives some.

    Args:
        env_curriculum: The curriculum over the environment's own tasks (levels, parameters).
        agent_curriculum: The curriculum over opponents (or other agent tasks).
        **kwargs: Arguments of [`Curriculum`][syllabus.core.Curriculum] (``random_seed``, ``record_stats``).
    """

    def __init__(self, env_curriculum: Curriculum, agent_curriculum: Curriculum, **kwargs: Any) -> None:
        for name, curriculum in (("env_curriculum", env_curriculum), ("agent_curriculum", agent_curriculum)):
            if not isinstance(curriculum, Curriculum):
                raise TypeError(f"{name} must be a syllabus Curriculum, got {curriculum!r}")
        super().__init__(TupleTaskSpace([env_curriculum.task_space, agent_curriculum.task_space]), **kwargs)
        self.env_curriculum = env_curriculum
        self.agent_curriculum = agent_curriculum

    @property
    def requires_step_updates(self) -> bool:
        """Whether either curriculum needs step updates."""
        return self.env_curriculum.requires_step_updates or self.agent_curriculum.requires_step_updates

    # ------------------------------------------------------------------ sampling
    def sample(self, k: int = 1) -> list[Task]:
        """Samples ``k`` pairs ``(env_task, agent_task)``."""
        return [task for task, _ in self.sample_with_metadata(k)]

    def sample_with_metadata(self, k: int = 1) -> list[tuple[Task, dict[str, Any] | None]]:
        """Samples ``k`` pairs, each with both curricula's metadata (``None`` when neither has any)."""
        env_tasks = self.env_curriculum.sample_with_metadata(k)
        agent_tasks = self.agent_curriculum.sample_with_metadata(k)
        out: list[tuple[Task, dict[str, Any] | None]] = []
        for (env_task, env_meta), (agent_task, agent_meta) in zip(env_tasks, agent_tasks, strict=True):
            meta = None if env_meta is None and agent_meta is None else {"env": env_meta, "agent": agent_meta}
            out.append(((env_task, agent_task), meta))
        return out

    def task_distribution(self) -> np.ndarray | None:
        """``None``: the pair's distribution is the product of the two curricula's (see each one's)."""
        return None

    # ------------------------------------------------------------------ updates
    def _split(self, task: Task) -> tuple[Task, Task]:
        if not isinstance(task, (tuple, list)) or len(task) != 2:
            raise ValueError(f"{type(self).__name__} tasks are (env_task, agent_task) pairs, got {task!r}")
        return task[0], task[1]

    def update_on_episode(
        self,
        episode_return: float,
        length: int,
        task: Task,
        progress: float | None = None,
        env_id: int | None = None,
    ) -> None:
        """Sends the episode to both curricula, each with its part of the task."""
        super().update_on_episode(episode_return, length, task, progress, env_id)
        env_task, agent_task = self._split(task)
        self.env_curriculum.update_on_episode(episode_return, length, env_task, progress, env_id=env_id)
        self.agent_curriculum.update_on_episode(episode_return, length, agent_task, progress, env_id=env_id)

    def update_on_step_batch(self, batch: StepBatch, env_id: int | None = None) -> None:
        """Sends the steps to each curriculum that requires step updates, with its part of the tasks."""
        parts = [self._split(task) for task in batch.tasks]
        for index, curriculum in enumerate((self.env_curriculum, self.agent_curriculum)):
            if curriculum.requires_step_updates:
                curriculum.update_on_step_batch(batch._replace(tasks=[part[index] for part in parts]), env_id)

    def update_on_step(
        self,
        task: Task,
        obs: Any,
        reward: float,
        terminated: bool,
        truncated: bool,
        info: dict,
        progress: float | None = None,
        env_id: int | None = None,
    ) -> None:
        """Sends the step to each curriculum that requires step updates, with its part of the task."""
        for part, curriculum in zip(
            self._split(task), (self.env_curriculum, self.agent_curriculum), strict=True
        ):
            if curriculum.requires_step_updates:
                curriculum.update_on_step(
                    part, obs, reward, terminated, truncated, info, progress, env_id=env_id
                )

    def update_task_progress(self, task: Task, progress: float, env_id: int | None = None) -> None:
        """Sends the progress to both curricula, each with its part of the task."""
        env_task, agent_task = self._split(task)
        self.env_curriculum.update_task_progress(env_task, progress, env_id=env_id)
        self.agent_curriculum.update_task_progress(agent_task, progress, env_id=env_id)

    def custom_update(self, *args: Any, **kwargs: Any) -> None:
        """Forwards learner-side data to the environment curriculum (e.g. PLR's value scores)."""
        self.env_curriculum.custom_update(*args, **kwargs)

    def add_agent(self, agent: Any) -> int:
        """Adds a snapshot to the agent curriculum's pool and returns its id.

        Raises:
            CurriculumError: The agent curriculum has no ``add_agent`` (it is not a self-play curriculum).
        """
        add = getattr(self.agent_curriculum, "add_agent", None)
        if add is None:
            raise CurriculumError(f"{type(self.agent_curriculum).__name__} takes no snapshots (add_agent)")
        return add(agent)

    # ------------------------------------------------------------------ logging and state
    def metrics(self, max_tasks: int = 10) -> dict[str, float]:
        """Both curricula's metrics, under ``curriculum/env/`` and ``curriculum/agent/``."""
        out: dict[str, float] = {}
        for prefix, curriculum in (("env", self.env_curriculum), ("agent", self.agent_curriculum)):
            for key, value in curriculum.metrics(max_tasks).items():
                out[f"curriculum/{prefix}/{key.removeprefix('curriculum/')}"] = value
        if self.stat_recorder is not None:
            out.update(self.stat_recorder.metrics(max_tasks))
        return out

    def state_dict(self) -> dict[str, Any]:
        """The base state plus both curricula's states."""
        state = super().state_dict()
        state["env_curriculum"] = self.env_curriculum.state_dict()
        state["agent_curriculum"] = self.agent_curriculum.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores both curricula (each checks its own state)."""
        super().load_state_dict(state)
        self.env_curriculum.load_state_dict(state["env_curriculum"])
        self.agent_curriculum.load_state_dict(state["agent_curriculum"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_curriculum!r}, {self.agent_curriculum!r})"
