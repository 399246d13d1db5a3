"""The [`Curriculum`][syllabus.core.curriculum.Curriculum] base class: the API every curriculum implements."""

from __future__ import annotations

import functools
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from syllabus.core.checks import check_episode, check_sample_count
from syllabus.core.errors import CurriculumError
from syllabus.core.stat_recorder import StatRecorder
from syllabus.task_space import TaskSpace

Task = Any


class StepBatch(NamedTuple):
    """Per-step results of one environment, in step order, as sent to step-update curricula."""

    tasks: Sequence[Task]
    obs: Sequence[Any]
    rewards: Sequence[float]
    terminated: Sequence[bool]
    truncated: Sequence[bool]
    infos: Sequence[dict]
    progress: Sequence[float | None]


class Curriculum:
    """Base class of all curricula.

    A curriculum samples tasks from a [`TaskSpace`][syllabus.task_space.base.TaskSpace] and learns from
    updates: episode results (always sent by the sync wrappers), per-step results (only to
    curricula whose [`requires_step_updates`][syllabus.core.curriculum.Curriculum.requires_step_updates] is true) and learner-side data through
    [`custom_update`][syllabus.core.curriculum.Curriculum.custom_update].

    Subclasses implement [`task_distribution`][syllabus.core.curriculum.Curriculum.task_distribution] (enumerable task spaces) or override
    [`sample`][syllabus.core.curriculum.Curriculum.sample], and override the update methods they learn from, calling ``super()`` in
    [`update_on_episode`][syllabus.core.curriculum.Curriculum.update_on_episode] so that statistics are recorded.

    Args:
        task_space: The tasks to choose from.
        random_seed: Seed of the curriculum's own random generator (global numpy state is never used).
        record_stats: Keep per-task return/length statistics in `stat_recorder`.
    """

    REQUIRES_STEP_UPDATES = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Makes every ``load_state_dict`` check the state's curriculum class and task space first."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("load_state_dict")
        if own is not None and not getattr(own, "_checks_state", False):
            setattr(cls, "load_state_dict", _checking_state(own))  # noqa: B010 - a plain assignment fails mypy

    def __init__(
        self, task_space: TaskSpace, *, random_seed: int | None = None, record_stats: bool = False
    ) -> None:
        if not isinstance(task_space, TaskSpace):
            raise TypeError(f"task_space must be a syllabus TaskSpace, got {task_space!r}")
        self.task_space = task_space
        self.rng = np.random.default_rng(random_seed)
        self.stat_recorder = StatRecorder(task_space) if record_stats else None

    # ----------------------------------------------------------------- sampling
    @property
    def requires_step_updates(self) -> bool:
        """Whether environments must send per-step results (batched) to this curriculum."""
        return self.REQUIRES_STEP_UPDATES

    @property
    def num_tasks(self) -> int | None:
        """Number of tasks in the task space, ``None`` when it is not enumerable."""
        return self.task_space.num_tasks

    def task_distribution(self) -> np.ndarray | None:
        """Probabilities of sampling each encoded task, or ``None`` when not defined (e.g. Box spaces)."""
        return None

    def sample(self, k: int = 1) -> list[Task]:
        """Samples ``k`` tasks.

        The default draws from [`task_distribution`][syllabus.core.curriculum.Curriculum.task_distribution]; curricula without one override this.

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        k = check_sample_count(k)
        dist = self.task_distribution()
        if dist is None:
            raise NotImplementedError(f"{type(self).__name__} must implement sample() or task_distribution()")
        indices = self.rng.choice(len(dist), size=k, p=dist)
        return [self.task_space.decode(int(i)) for i in indices]

    def sample_with_metadata(self, k: int = 1) -> list[tuple[Task, dict[str, Any] | None]]:
        """Samples ``k`` tasks, each with optional metadata that reaches the env's ``info``.

        Args:
            k: Number of tasks to return; 0 gives an empty list.
        """
        return [(task, None) for task in self.sample(k)]

    # ------------------------------------------------------------------ updates
    def update_on_episode(
        self,
        episode_return: float,
        length: int,
        task: Task,
        progress: float | None = None,
        env_id: int | None = None,
    ) -> None:
        """Learns from one finished episode; the base class checks the values and records statistics.

        Args:
            episode_return: Undiscounted sum of the episode's rewards, as the env saw it.
            length: Number of steps the episode took.
            task: The task the data belongs to, as the task space decodes it (not its encoding).
            progress: Progress toward solving the task, 0 to 1, from ``info['task_completion']``; ``None`` when the env reports none.
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.

        Raises:
            ValueError: ``episode_return`` is not a finite number or ``length`` not an integer >= 0.
        """
        check_episode(episode_return, length)
        if self.stat_recorder is not None:
            self.stat_recorder.record(episode_return, length, task)

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
        """Learns from one environment step (only called when [`requires_step_updates`][syllabus.core.curriculum.Curriculum.requires_step_updates]).

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

    def update_on_step_batch(self, batch: StepBatch, env_id: int | None = None) -> None:
        """Learns from consecutive steps of one environment; the default calls [`update_on_step`][syllabus.core.curriculum.Curriculum.update_on_step].

        Args:
            batch: Consecutive steps of one env, oldest first (one field per step value).
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.
        """
        for task, obs, reward, terminated, truncated, info, progress in zip(*batch, strict=True):
            self.update_on_step(task, obs, reward, terminated, truncated, info, progress, env_id=env_id)

    def update_task_progress(self, task: Task, progress: float, env_id: int | None = None) -> None:
        """Learns from progress toward ``task`` (0 to 1) reported outside an episode update.

        Args:
            task: The task the data belongs to, as the task space decodes it (not its encoding).
            progress: Progress toward solving the task, 0 to 1, from ``info['task_completion']``; ``None`` when the env reports none.
            env_id: Index of the env the data comes from (assigned by the sync backend); ``None`` outside a synced env.
        """

    def custom_update(self, *args: Any, **kwargs: Any) -> None:
        """Learns from learner-side data (e.g. value predictions); not taken by every curriculum.

        Args:
            args: Positional arguments of the curriculum's own update (e.g. PLR's rollout arrays).
            kwargs: Keyword arguments, passed on unchanged.
        """
        raise CurriculumError(
            f"{type(self).__name__} takes no learner updates (custom_update); "
            "curricula such as PrioritizedLevelReplay do"
        )

    # ------------------------------------------------------------------ helpers
    def normalize(self, value: float | np.ndarray, task: Task) -> float | np.ndarray:
        """Standardizes a return by the statistics of ``task`` (needs ``record_stats=True``).

        Args:
            value: A return (or array of returns) to standardize.
            task: Task whose recorded return statistics are used.
        """
        if self.stat_recorder is None:
            raise CurriculumError(
                f"{type(self).__name__} was built without record_stats=True; normalize() needs it"
            )
        return self.stat_recorder.normalize(value, task)

    def metrics(self, max_tasks: int = 10) -> dict[str, float]:
        """Scalar metrics: entropy and top probabilities of the task distribution, and statistics.

        Args:
            max_tasks: At most this many per-task entries (the most probable tasks) in the result.
        """
        out: dict[str, float] = {}
        dist = self.task_distribution()
        if dist is not None and len(dist) > 0:
            nonzero = dist[dist > 0]
            out["curriculum/task_entropy"] = float(-(nonzero * np.log(nonzero)).sum())
            for i in np.argsort(-dist, kind="stable")[:max_tasks]:
                out[f"curriculum/task_{self.task_space.decode(int(i))}_prob"] = float(dist[i])
        if self.stat_recorder is not None:
            out.update(self.stat_recorder.metrics(max_tasks))
        return out

    def log_metrics(
        self, writer: Any = None, step: int | None = None, max_tasks: int = 10
    ) -> dict[str, float]:
        """Logs [`metrics`][syllabus.core.curriculum.Curriculum.metrics] to a TensorBoard-style writer (``add_scalar``) or a dict, and returns them.

        Args:
            writer: Where to log: an object with ``add_scalar(tag, value, step)`` (e.g. TensorBoard's ``SummaryWriter``), a dict to update, or ``None`` to only return the metrics.
            step: Global step to log the metrics at (the writer's x axis).
            max_tasks: At most this many per-task entries (the most probable tasks) in the result.
        """
        out = self.metrics(max_tasks)
        if isinstance(writer, MutableMapping):
            writer.update(out)
        elif writer is not None:
            if not callable(getattr(writer, "add_scalar", None)):
                raise TypeError(f"writer must have add_scalar(tag, value, step) or be a dict, got {writer!r}")
            for tag, value in out.items():
                writer.add_scalar(tag, value, step)
        return out

    # -------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """The curriculum's state: its class, task space, random generator and statistics, and
        what subclasses add. Picklable; [`load_state_dict`][syllabus.core.curriculum.Curriculum.load_state_dict] checks the class and task space."""
        return {
            "curriculum": type(self).__name__,
            "task_space": self.task_space,
            "rng": self.rng.bit_generator.state,
            "stats": self.stat_recorder.state_dict() if self.stat_recorder is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a state produced by [`state_dict`][syllabus.core.curriculum.Curriculum.state_dict] of the same kind of curriculum.

        Args:
            state: A dict returned by ``state_dict()`` of the same kind of object.

        Raises:
            TypeError: ``state`` is not a dict.
            ValueError: The state is of another curriculum class or another task space (the
                message says what differs).
        """
        self.check_state_dict(state)
        self.rng.bit_generator.state = state["rng"]
        if self.stat_recorder is not None and state.get("stats") is not None:
            self.stat_recorder.load_state_dict(state["stats"])

    def check_state_dict(self, state: Any) -> None:
        """Checks that ``state`` comes from [`state_dict`][syllabus.core.curriculum.Curriculum.state_dict] of this class over the same task space.

        Called by every ``load_state_dict`` (of subclasses too) before it reads the state.

        Args:
            state: A dict returned by ``state_dict()`` of the same kind of object.

        Raises:
            TypeError: ``state`` is not a dict.
            ValueError: The state is of another curriculum class or another task space.
        """
        name = type(self).__name__
        if not isinstance(state, dict):
            raise TypeError(
                f"{name}.load_state_dict needs the dict from state_dict(), got {type(state).__name__}"
            )
        if "curriculum" not in state or "task_space" not in state:
            raise ValueError(
                f"{name}.load_state_dict: the state has no 'curriculum' and 'task_space' entries, so it was not "
                "made by Curriculum.state_dict()"
            )
        if state["curriculum"] != name:
            raise ValueError(
                f"{name}.load_state_dict: the state is of a {state['curriculum']}, this curriculum is a {name}"
            )
        theirs, ours = state["task_space"], self.task_space
        if theirs != ours:
            raise ValueError(
                f"{name}.load_state_dict: the state is over {_describe(theirs)}, this curriculum over "
                f"{_describe(ours)}"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.task_space!r})"


def _checking_state(load: Callable[[Any, dict[str, Any]], None]) -> Callable[[Any, dict[str, Any]], None]:
    """``load`` preceded by [`Curriculum.check_state_dict`][syllabus.core.curriculum.Curriculum.check_state_dict]."""

    @functools.wraps(load)
    def load_state_dict(self: Curriculum, state: dict[str, Any]) -> None:
        self.check_state_dict(state)
        load(self, state)

    load_state_dict._checks_state = True  # type: ignore[attr-defined]
    return load_state_dict


def _describe(space: Any) -> str:
    """A task space's kind and size, for messages."""
    if not isinstance(space, TaskSpace):
        return repr(space)
    size = "not enumerable" if space.num_tasks is None else f"{space.num_tasks} tasks"
    return f"a {type(space).__name__} with {size}: {space!r}"
