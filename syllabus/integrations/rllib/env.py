"""The env side: the env creator, the training env's slot for its curriculum, and evaluation tasks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from syllabus.core.errors import CurriculumConnectionError, CurriculumError
from syllabus.core.task_interface import task_reset
from syllabus.integrations.rllib._ray import DEFAULT_PREFETCH, FORK_FIX, RaySyncWrapper, forked_from_ray
from syllabus.integrations.rllib.settings import settings_of

if TYPE_CHECKING:
    from ray.rllib.env.env_context import EnvContext

_NOT_ATTACHED = (
    "this training env was never attached to a curriculum: CurriculumCallback did not run when the algorithm "
    "was built. A later config.callbacks(MyCallback) replaces the callbacks configure_curriculum added; pass "
    "them together instead: config.callbacks([MyCallback, CurriculumCallback])"
)


class EvaluationTasks(gym.Wrapper):
    """Resets a task env into tasks from a fixed list, in turn; never contacts the curriculum.

    The task is put in ``info["task"]`` like the sync wrappers do.

    Args:
        env: A task env, a TaskWrapper, or gymnasium wrappers above either.
        tasks: The tasks to cycle through.
        offset: Index of the first task (e.g. the env runner's index, so runners start apart).
    """

    def __init__(self, env: gym.Env, tasks: Sequence[Any], offset: int = 0) -> None:
        self._reset_into = task_reset(env)
        if not tasks:
            raise ValueError("tasks must not be empty")
        super().__init__(env)
        self.tasks = list(tasks)
        self._next = offset % len(self.tasks)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None, new_task: Any = None):
        """Resets into the next task of the list, or into ``new_task`` when given.

        Args:
            seed: Seed for the env's random generator, as in ``gymnasium.Env.reset``.
            options: Extra reset options, as in ``gymnasium.Env.reset``.
            new_task: Must be ``None``: the next task comes from the fixed list.
        """
        if new_task is None:
            new_task = self.tasks[self._next]
            self._next = (self._next + 1) % len(self.tasks)
        obs, info = self._reset_into(new_task, seed, options)
        info["task"] = new_task
        return obs, info


class _CurriculumSlot(gym.Wrapper):
    """A training env waiting for its algorithm to attach it to a curriculum actor.

    [`CurriculumCallback`][syllabus.integrations.rllib.CurriculumCallback] attaches every training
    env of the algorithm once its curriculum runs; from then on this wrapper holds a
    [`RaySyncWrapper`][syllabus.core.RaySyncWrapper] around the task env. A reset before
    that raises with the reason.
    """

    def __init__(self, env: gym.Env, settings: dict[str, Any]) -> None:
        task_reset(env)  # refuse an env tasks cannot reach now, in the env creator
        super().__init__(env)
        self._settings = settings
        self.attached_to: tuple[str, str | None] | None = None

    def attach(self, name: str, namespace: str | None) -> None:
        """Syncs the env with the curriculum actor ``name``; a repeated call with the same actor does nothing."""
        if self.attached_to == (name, namespace):
            return
        if self.attached_to is not None:
            raise CurriculumError(
                f"this env is already attached to the curriculum actor {self.attached_to[0]!r}"
            )
        settings = self._settings
        self.env = RaySyncWrapper(
            self.env,
            name,
            namespace,
            timeout=settings["timeout"],
            prefetch=settings.get("prefetch", DEFAULT_PREFETCH),
            batch_size=settings.get("batch_size"),
        )
        self.attached_to = (name, namespace)

    def reset(self, **kwargs: Any) -> Any:
        """Resets through the sync wrapper; raises [`CurriculumConnectionError`][syllabus.core.errors.CurriculumConnectionError] before it is attached."""
        if self.attached_to is None:
            raise CurriculumConnectionError(FORK_FIX if forked_from_ray() else _NOT_ATTACHED)
        return self.env.reset(**kwargs)


class _EnvCreator:
    """RLlib env creator (picklable): the task env from the factory, for training or evaluation."""

    def __init__(self, env_factory: Callable[[EnvContext], gym.Env]) -> None:
        self.env_factory = env_factory

    def __call__(self, env_context: EnvContext) -> gym.Env:
        settings = settings_of(env_context)
        env = self.env_factory(env_context)
        if settings["evaluation"]:
            tasks = settings["evaluation_tasks"]
            offset = getattr(env_context, "worker_index", 0)
            return env if tasks is None else EvaluationTasks(env, tasks, offset=offset)
        return _CurriculumSlot(env, settings)


def make_env_creator(env_factory: Callable[[EnvContext], gym.Env]) -> Callable[[EnvContext], gym.Env]:
    """An RLlib env creator whose training envs sync with the algorithm's curriculum.

    Use it as ``config.environment(env=...)`` through
    [`configure_curriculum`][syllabus.integrations.rllib.configure_curriculum], or register it
    (``ray.tune.registry.register_env(name, creator)``) for a setup of your own, with
    [`CurriculumCallback`][syllabus.integrations.rllib.CurriculumCallback] in the callbacks.

    The settings come from ``env_config["syllabus"]``
    ([`curriculum_env_config`][syllabus.integrations.rllib.curriculum_env_config]). Each training
    env waits for the callback to attach it to the algorithm's curriculum (a reset before that
    raises, saying why), then resets into the curriculum's tasks through a
    [`RaySyncWrapper`][syllabus.core.RaySyncWrapper]. On evaluation env runners (settings
    with ``evaluation=True``) the env never contacts the curriculum: it cycles through
    ``evaluation_tasks`` ([`EvaluationTasks`][syllabus.integrations.rllib.EvaluationTasks]), or
    keeps its own default task. The factory's env may be a task env, a TaskWrapper, or gymnasium
    wrappers above either (e.g. an observation wrapper).

    Args:
        env_factory: Builds one task env from RLlib's ``EnvContext``.

    Returns:
        The env creator.
    """
    return _EnvCreator(env_factory)


class AttachEnvs:
    """Runs on an env runner: attaches its training envs (sync vectorization) to the curriculum actor."""

    def __init__(self, name: str, namespace: str | None) -> None:
        self.name = name
        self.namespace = namespace

    def __call__(self, env_runner: Any) -> int:
        vector_env = getattr(env_runner, "env", None)
        if vector_env is None:
            return 0
        attached = 0
        for env in getattr(vector_env.unwrapped, "envs", ()):
            while isinstance(env, gym.Wrapper):
                if isinstance(env, _CurriculumSlot):
                    env.attach(self.name, self.namespace)
                    attached += 1
                    break
                env = env.env
        return attached
