"""A curriculum that moves through a sequence of stages when stopping conditions hold."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from syllabus.core.checks import check_count, check_sample_count
from syllabus.core.curriculum import Curriculum, StepBatch, Task
from syllabus.curricula.constant import Constant
from syllabus.curricula.stop_conditions import Condition, parse_condition
from syllabus.task_space import TaskSpace, TaskSpaceError


class _UniformOverTasks(Curriculum):
    """Samples uniformly from a list of tasks of ``task_space``, returning the tasks as given."""

    def __init__(self, tasks: list[Task], task_space: TaskSpace, **kwargs: Any) -> None:
        super().__init__(task_space, **kwargs)
        if not tasks:
            raise ValueError("a stage given as a list of tasks needs at least one task, got []")
        for task in tasks:
            if not task_space.contains(task):
                raise TaskSpaceError(f"task {task!r} is not in the task space {task_space!r}")
        self.tasks = list(tasks)

    def task_distribution(self) -> np.ndarray | None:
        if self.num_tasks is None:
            return None
        dist = np.zeros(self.num_tasks)
        for task in self.tasks:
            dist[self.task_space.encode(task)] += 1.0 / len(self.tasks)
        return dist

    def sample(self, k: int = 1) -> list[Task]:
        k = check_sample_count(k)
        return [self.tasks[i] for i in self.rng.integers(len(self.tasks), size=k)]


@dataclass
class _Counts:
    """Episodes, steps and sampled tasks counted over some period."""

    episodes: int = 0
    steps: int = 0
    tasks: int = 0


class SequentialCurriculum(Curriculum):
    """Runs stage curricula one after another, advancing when a stopping condition holds.

    Each stage is a [`Curriculum`][syllabus.core.curriculum.Curriculum] over ``task_space`` (or over a
    task space whose tasks all belong to it), a ``list`` of tasks (sampled uniformly) or a single
    task (always sampled). ``stopping_conditions[i]`` moves from stage ``i`` to ``i + 1``; it is a
    [`Condition`][syllabus.curricula.stop_conditions.Condition] or a string such as ``"episodes>=100 &
    episode_return>0.8"`` (see [`syllabus.curricula.stop_conditions`][syllabus.curricula.stop_conditions] for the grammar and metrics).
    Conditions are checked after every episode update and every sample; the last stage is kept
    forever. A batch from [`sample`][syllabus.curricula.sequential.SequentialCurriculum.sample] comes from a single stage.

    The sync wrappers ask for [`sample_with_metadata`][syllabus.curricula.sequential.SequentialCurriculum.sample_with_metadata], [`update_on_step_batch`][syllabus.curricula.sequential.SequentialCurriculum.update_on_step_batch] and
    [`requires_step_updates`][syllabus.curricula.sequential.SequentialCurriculum.requires_step_updates], which go straight to the current stage (keeping its task metadata
    and batched step updates). A subclass overrides the hooks of any curriculum and the sync path
    calls them: an override of [`task_distribution`][syllabus.curricula.sequential.SequentialCurriculum.task_distribution] is what [`sample`][syllabus.curricula.sequential.SequentialCurriculum.sample] draws from, an
    override of [`sample`][syllabus.curricula.sequential.SequentialCurriculum.sample] is what [`sample_with_metadata`][syllabus.curricula.sequential.SequentialCurriculum.sample_with_metadata] returns (without stage metadata,
    unless it overrides [`sample_with_metadata`][syllabus.curricula.sequential.SequentialCurriculum.sample_with_metadata] too), an override of [`update_on_step`][syllabus.curricula.sequential.SequentialCurriculum.update_on_step] gets
    every step of [`update_on_step_batch`][syllabus.curricula.sequential.SequentialCurriculum.update_on_step_batch], and ``REQUIRES_STEP_UPDATES = True`` asks for step
    updates whatever the stages need. Overrides call ``super()`` to keep the stage bookkeeping
    (sample counts, stage updates).

    Args:
        stages: The stages, in order.
        task_space: The tasks of the environment.
        stopping_conditions: ``len(stages) - 1`` conditions.
        return_window: Number of latest episodes of a stage averaged into ``episode_return``.
        **kwargs: Arguments of [`Curriculum`][syllabus.core.curriculum.Curriculum].

    Raises:
        ValueError: No stages, a malformed condition, the wrong number of conditions, a stage
            whose tasks are not in ``task_space`` ([`TaskSpaceError`][syllabus.task_space.base.TaskSpaceError]) or a bad ``return_window``.
        TypeError: ``stopping_conditions`` is not a list of strings or conditions.
    """

    def __init__(
        self,
        stages: Sequence[Curriculum | list[Task] | Task],
        task_space: TaskSpace,
        stopping_conditions: Sequence[str | Condition],
        *,
        return_window: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(task_space, **kwargs)
        if not stages:
            raise ValueError("SequentialCurriculum needs at least one stage, got none")
        if isinstance(stopping_conditions, (str, Condition)):
            raise TypeError(
                f"stopping_conditions must be a list of conditions, got the single {stopping_conditions!r}; "
                "wrap it in a list"
            )
        if len(stopping_conditions) != len(stages) - 1:
            raise ValueError(
                f"{len(stages)} stages need {len(stages) - 1} stopping conditions "
                f"(one per transition), got {len(stopping_conditions)}: {list(stopping_conditions)!r}"
            )
        return_window = check_count("return_window", return_window, 1)
        self.stages = [self._make_stage(i, stage) for i, stage in enumerate(stages)]
        self.stopping_conditions = [
            c if isinstance(c, Condition) else parse_condition(c) for c in stopping_conditions
        ]
        self._stage_index = 0
        self._stage_counts = _Counts()
        self._total_counts = _Counts()
        self._returns: deque[float] = deque(maxlen=return_window)

    def _make_stage(self, index: int, stage: Curriculum | list[Task] | Task) -> Curriculum:
        try:
            if isinstance(stage, Curriculum):
                self._check_stage_space(stage.task_space)
                return stage
            if isinstance(stage, list):
                return _UniformOverTasks(stage, self.task_space, random_seed=int(self.rng.integers(2**62)))
            return Constant(stage, self.task_space)
        except ValueError as error:
            raise type(error)(f"stage {index}: {error}") from error

    def _check_stage_space(self, space: TaskSpace) -> None:
        if space == self.task_space or not space.is_enumerable:
            return
        outside = [task for task in space.tasks if not self.task_space.contains(task)]
        if outside:
            raise TaskSpaceError(
                f"the stage curriculum's tasks {outside!r} are not in the task space {self.task_space!r}"
            )

    # ----------------------------------------------------------------- stages
    @property
    def current_stage(self) -> int:
        """Index of the stage being sampled from."""
        return self._stage_index

    @property
    def _stage(self) -> Curriculum:
        return self.stages[self._stage_index]

    def stopping_metrics(self) -> dict[str, float]:
        """Current values of the metrics the stopping conditions test.

        ``episode_return`` is missing until the stage has finished an episode.
        """
        out: dict[str, float] = {name: float(n) for name, n in asdict(self._stage_counts).items()}
        out.update({f"total_{name}": float(n) for name, n in asdict(self._total_counts).items()})
        if self._returns:
            out["episode_return"] = float(np.mean(self._returns))
        return out

    def _advance_while_done(self) -> None:
        while self._stage_index < len(self.stopping_conditions):
            if not self.stopping_conditions[self._stage_index](self.stopping_metrics()):
                return
            self._stage_index += 1
            self._stage_counts = _Counts()
            self._returns.clear()

    # ---------------------------------------------------------------- sampling
    def _overrides(self, name: str) -> bool:
        """Whether a subclass overrides SequentialCurriculum's method ``name``."""
        return getattr(type(self), name) is not getattr(SequentialCurriculum, name)

    @property
    def requires_step_updates(self) -> bool:
        """Whether the class sets ``REQUIRES_STEP_UPDATES`` or any stage curriculum needs per-step results."""
        return self.REQUIRES_STEP_UPDATES or any(stage.requires_step_updates for stage in self.stages)

    def task_distribution(self) -> np.ndarray | None:
        """The current stage's distribution over the tasks of `task_space`, if defined."""
        stage_dist = self._stage.task_distribution()
        if stage_dist is None or self.num_tasks is None:
            return None
        stage_space = self._stage.task_space
        if stage_space == self.task_space:
            return stage_dist
        dist = np.zeros(self.num_tasks)
        for i, p in enumerate(stage_dist):
            dist[self.task_space.encode(stage_space.decode(i))] += p
        return dist

    def sample(self, k: int = 1) -> list[Task]:
        """Samples ``k`` tasks from the current stage (from [`task_distribution`][syllabus.curricula.sequential.SequentialCurriculum.task_distribution] if a subclass overrides it).

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        k = check_sample_count(k)
        if self._overrides("task_distribution"):
            tasks = super().sample(k)
        else:
            tasks = self._stage.sample(k)
        self._count_samples(k)
        return tasks

    def sample_with_metadata(self, k: int = 1) -> list[tuple[Task, dict[str, Any] | None]]:
        """Samples ``k`` tasks with the current stage's metadata; through [`sample`][syllabus.curricula.sequential.SequentialCurriculum.sample] (no metadata) if a
        subclass overrides [`sample`][syllabus.curricula.sequential.SequentialCurriculum.sample] or [`task_distribution`][syllabus.curricula.sequential.SequentialCurriculum.task_distribution].

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        if self._overrides("sample") or self._overrides("task_distribution"):
            return super().sample_with_metadata(k)
        tasks = self._stage.sample_with_metadata(k)
        self._count_samples(k)
        return tasks

    def _count_samples(self, k: int) -> None:
        self._stage_counts.tasks += k
        self._total_counts.tasks += k
        self._advance_while_done()

    # ----------------------------------------------------------------- updates
    def update_on_episode(
        self,
        episode_return: float,
        length: int,
        task: Task,
        progress: float | None = None,
        env_id: int | None = None,
    ) -> None:
        """Records the episode, forwards it to the current stage and advances if its condition holds.

        Args:
            episode_return: Undiscounted sum of the episode's rewards, as the env saw it.
            length: Number of steps the episode took.
            task: The task the data belongs to, as the task space decodes it (not its encoding).
            progress: Progress toward solving the task, 0 to 1, from ``info['task_completion']``; ``None`` when the env reports none.
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.
        """
        super().update_on_episode(episode_return, length, task, progress, env_id)
        self._stage.update_on_episode(episode_return, length, task, progress, env_id)
        for counts in (self._stage_counts, self._total_counts):
            counts.episodes += 1
            counts.steps += length
        self._returns.append(float(episode_return))
        self._advance_while_done()

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
        """Forwards the step to the current stage.

        Args:
            task: The task the data belongs to, as the task space decodes it (not its encoding).
            obs: Observation returned by this step.
            reward: Reward of this step.
            terminated: Whether the episode reached a terminal state at this step.
            truncated: Whether the episode was cut off (e.g. a time limit) at this step.
            info: The step's ``info`` dict.
            progress: Progress toward solving the task, 0 to 1, from ``info['task_completion']``; ``None`` when the env reports none.
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.
        """
        self._stage.update_on_step(task, obs, reward, terminated, truncated, info, progress, env_id)

    def update_on_step_batch(self, batch: StepBatch, env_id: int | None = None) -> None:
        """Forwards the steps to the current stage; step by step through [`update_on_step`][syllabus.curricula.sequential.SequentialCurriculum.update_on_step] if a
        subclass overrides it.

        Args:
            batch: Consecutive steps of one env, oldest first (one field per step value).
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.
        """
        if self._overrides("update_on_step"):
            super().update_on_step_batch(batch, env_id)
        else:
            self._stage.update_on_step_batch(batch, env_id)

    def update_task_progress(self, task: Task, progress: float, env_id: int | None = None) -> None:
        """Forwards the progress to the current stage.

        Args:
            task: The task the data belongs to, as the task space decodes it (not its encoding).
            progress: Progress toward solving the task, 0 to 1, from ``info['task_completion']``; ``None`` when the env reports none.
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.
        """
        self._stage.update_task_progress(task, progress, env_id)

    def custom_update(self, *args: Any, **kwargs: Any) -> None:
        """Forwards the learner update to the current stage.

        Args:
            args: Positional arguments of the curriculum's own update (e.g. PLR's rollout arrays).
            kwargs: Keyword arguments, passed on unchanged.
        """
        self._stage.custom_update(*args, **kwargs)

    # ------------------------------------------------------------ metrics, state
    def metrics(self, max_tasks: int = 10) -> dict[str, float]:
        """The base metrics and ``curriculum/stage``.

        Args:
            max_tasks: At most this many per-task entries (the most probable tasks) in the result.
        """
        return {**super().metrics(max_tasks), "curriculum/stage": float(self._stage_index)}

    def state_dict(self) -> dict[str, Any]:
        """The stage index, counters, recent returns and the state of every stage."""
        return {
            **super().state_dict(),
            "stage": self._stage_index,
            "stage_counts": asdict(self._stage_counts),
            "total_counts": asdict(self._total_counts),
            "return_window": self._returns.maxlen,
            "returns": list(self._returns),
            "stages": [stage.state_dict() for stage in self.stages],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a state saved by [`state_dict`][syllabus.curricula.sequential.SequentialCurriculum.state_dict] of a curriculum with the same stages.

        Args:
            state: A dict returned by ``state_dict()`` of the same kind of object.

        Raises:
            ValueError: The state has a different number of stages.
        """
        if len(state["stages"]) != len(self.stages):
            raise ValueError(
                f"the state has {len(state['stages'])} stages, this curriculum has {len(self.stages)}"
            )
        super().load_state_dict(state)
        self._stage_index = state["stage"]
        self._stage_counts = _Counts(**state["stage_counts"])
        self._total_counts = _Counts(**state["total_counts"])
        self._returns = deque(state["returns"], maxlen=state["return_window"])
        for stage, stage_state in zip(self.stages, state["stages"], strict=True):
            stage.load_state_dict(stage_state)
