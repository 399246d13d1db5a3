"""[`configure_curriculum`][syllabus.integrations.rllib.configure_curriculum]: one call sets up an algorithm config."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from syllabus.core.curriculum import Curriculum
from syllabus.integrations.rllib._ray import (
    DEFAULT_PREFETCH,
    DEFAULT_TIMEOUT,
    RayCurriculumWrapper,
    attach_ray_curriculum,
)
from syllabus.integrations.rllib.callback import CurriculumCallback, ensure_curriculum_callback
from syllabus.integrations.rllib.env import make_env_creator
from syllabus.integrations.rllib.settings import SETTINGS_KEY, check_vectorize_mode, curriculum_env_config

if TYPE_CHECKING:
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
    from ray.rllib.env.env_context import EnvContext


def configure_curriculum(
    config: AlgorithmConfig,
    env_factory: Callable[[EnvContext], gym.Env],
    curriculum: Curriculum | RayCurriculumWrapper | str,
    namespace: str | None = None,
    *,
    name: str | None = None,
    actor_options: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
    evaluation_tasks: Sequence[Any] | None = None,
    feed_plr: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    prefetch: int = DEFAULT_PREFETCH,
    batch_size: int | None = None,
) -> AlgorithmConfig:
    """Sets up an RLlib algorithm config to train with a curriculum.

    Makes [`make_env_creator`][syllabus.integrations.rllib.make_env_creator] of ``env_factory``
    the config's env (as a class, which RLlib pickles with the config, so checkpoints load in
    any process), adds the settings to the training and evaluation ``env_config`` (keeping what
    is there), and adds [`CurriculumCallback`][syllabus.integrations.rllib.CurriculumCallback]
    to the callbacks, plus a guard that restores it if a later ``config.callbacks(...)`` call
    replaces it. Later ``config.evaluation(...)`` calls keep the settings (RLlib merges
    overrides); dropping them (``evaluation_config=None``) or switching to async vectorization
    afterwards is refused when the algorithm is built.

    Args:
        config: The algorithm config (new API stack); changed in place and returned.
        env_factory: Builds one task env from RLlib's ``EnvContext`` (``worker_index``,
            ``num_workers``, your ``env_config``); picklable.
        curriculum: A [`Curriculum`][syllabus.core.curriculum.Curriculum]: every algorithm built
            from this config (every Tune trial) starts its own copy as a Ray actor and stops it
            with the algorithm. Or a running curriculum actor shared by every algorithm built from
            the config (the wrapper from ``make_ray_curriculum``, or its name): Tune trials then
            feed one curriculum, and each says so in a warning.
        namespace: The shared actor's Ray namespace, or the namespace of each algorithm's own actor.
        name: Name of each algorithm's own actor; ``None``: derived from the Tune trial's id (or
            unique outside Tune).
        actor_options: Ray actor options of each algorithm's own actor (or a picklable callable
            returning them in the algorithm's process); by default it reserves no CPU and runs on
            the algorithm's node.
        evaluation_tasks: Tasks evaluation envs cycle through; ``None``: each env's default task.
        feed_plr: Feed the curriculum's ``custom_update`` with each training batch
            ([`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder]).
        timeout: Seconds an env reset or a learner-side call may wait for the curriculum.
        prefetch: Tasks each training env keeps ready beyond the one its next reset takes: tasks
            are sampled this many episodes before they are played.
        batch_size: Messages each training env sends to the curriculum per actor call; ``None``:
            ``min(prefetch, 8)``. The curriculum sees an episode up to ``batch_size - 1`` episodes
            of that env late; 1 sends every episode at once, at more CPU per episode.

    Returns:
        ``config``.

    Raises:
        CurriculumConnectionError: ``config`` uses ``gym_env_vectorize_mode="async"``, or Ray is
            running and has no shared curriculum actor of that name (and namespace).
    """
    check_vectorize_mode(config)
    settings = curriculum_env_config(
        curriculum,
        namespace,
        name=name,
        actor_options=actor_options,
        evaluation_tasks=evaluation_tasks,
        feed_plr=feed_plr,
        timeout=timeout,
        prefetch=prefetch,
        batch_size=batch_size,
    )
    import ray

    shared = settings[SETTINGS_KEY]["curriculum"] is None
    if shared and ray.is_initialized():  # a misnamed actor fails here, in the caller's process
        attach_ray_curriculum(
            settings[SETTINGS_KEY]["name"], settings[SETTINGS_KEY]["namespace"], timeout=timeout
        )
    env_config = {**dict(config.env_config or {}), **settings}
    config.environment(env=_env_class(make_env_creator(env_factory)), env_config=env_config)
    existing = config.evaluation_config
    if existing is not None and not isinstance(existing, dict):
        raise TypeError(
            "configure_curriculum needs config.evaluation_config to be a dict of overrides (or None), "
            f"got {type(existing).__name__}"
        )
    overrides: dict[str, Any] = dict(existing or {})
    evaluation_settings = {**settings[SETTINGS_KEY], "evaluation": True}
    overrides["env_config"] = {
        **dict(overrides.get("env_config", env_config)),
        SETTINGS_KEY: evaluation_settings,
    }
    config.evaluation(evaluation_config=overrides)
    callbacks = (
        list(config.callbacks_class) if isinstance(config.callbacks_class, list) else [config.callbacks_class]
    )
    if not any(isinstance(c, type) and issubclass(c, CurriculumCallback) for c in callbacks):
        config.callbacks(callbacks_class=[*callbacks, CurriculumCallback])
    found = config.callbacks_on_algorithm_init
    guards: list[Any] = list(found) if isinstance(found, list) else [] if found is None else [found]
    if ensure_curriculum_callback not in guards:
        config.callbacks(on_algorithm_init=[*guards, ensure_curriculum_callback])
    return config


def _env_class(creator: Callable[[EnvContext], gym.Env]) -> type:
    """``creator`` as a class: RLlib takes a class as ``config.env`` and pickles it with the config.

    A registered env name would not be known in a fresh process that loads a checkpoint.
    """

    class SyllabusEnv:
        def __new__(cls, env_context: EnvContext) -> Any:
            return creator(env_context)

    return SyllabusEnv
