"""The Syllabus settings in RLlib's ``env_config``: built, read and checked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from syllabus.core.checks import check_count
from syllabus.core.curriculum import Curriculum
from syllabus.core.errors import CurriculumConnectionError, CurriculumError
from syllabus.integrations.rllib._ray import (
    DEFAULT_NAME,
    DEFAULT_PREFETCH,
    DEFAULT_TIMEOUT,
    RayCurriculumWrapper,
    cloudpickle,
)

if TYPE_CHECKING:
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

SETTINGS_KEY = "syllabus"
"""Key of the Syllabus settings in RLlib's ``env_config``."""

_ASYNC_FIX = (
    'gym_env_vectorize_mode="async" forks env processes from the env runner, where Ray cannot be used, so '
    'training envs cannot reach the curriculum. Use gym_env_vectorize_mode="sync" (the default) and scale out '
    "with num_env_runners; evaluation env runners may stay async, they never contact the curriculum."
)


def curriculum_env_config(
    curriculum: Curriculum | RayCurriculumWrapper | str = DEFAULT_NAME,
    namespace: str | None = None,
    *,
    name: str | None = None,
    actor_options: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
    evaluation_tasks: Sequence[Any] | None = None,
    feed_plr: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    prefetch: int = DEFAULT_PREFETCH,
    batch_size: int | None = None,
    evaluation: bool = False,
) -> dict[str, Any]:
    """The ``env_config`` entry read by [`make_env_creator`][syllabus.integrations.rllib.make_env_creator] and the callback.

    Merge it into the training ``env_config``; the evaluation ``env_config`` needs the same entry
    with ``evaluation=True`` ([`configure_curriculum`][syllabus.integrations.rllib.configure_curriculum]
    does both). The entry holds no Ray handle, so RLlib can pickle it into checkpoints.

    Args:
        curriculum: A [`Curriculum`][syllabus.core.curriculum.Curriculum]: each algorithm built from
            the config serves its own copy as a Ray actor (one per Tune trial). Or a running,
            shared curriculum actor: the wrapper from ``make_ray_curriculum``, or its name.
        namespace: The actor's Ray namespace (for a wrapper: its own).
        name: Name of each algorithm's own actor (with a ``Curriculum``); ``None``: derived from
            the Tune trial (or unique, outside Tune).
        actor_options: Ray actor options of each algorithm's own actor, or a picklable callable
            returning them when the actor starts.
        evaluation_tasks: Tasks evaluation envs cycle through; ``None``: each env's own default task.
        feed_plr: Install the [`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder] (the curriculum
            must have PLR's ``custom_update``).
        timeout: Seconds an env reset or a learner-side call may wait for the curriculum.
        prefetch: Tasks each training env keeps ready beyond the one its next reset takes.
        batch_size: Messages each training env sends per actor call (see
            [`RaySyncWrapper`][syllabus.core.RaySyncWrapper]); ``None``: ``min(prefetch, 8)``.
        evaluation: Whether this entry configures evaluation env runners.

    Returns:
        ``{"syllabus": {...}}``.

    Raises:
        TypeError: ``curriculum`` is none of the above.
        ValueError: A setting is out of range.
    """
    if timeout <= 0:
        raise ValueError(f"need timeout > 0, got timeout={timeout}")
    check_count("prefetch", prefetch, 0)
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValueError(f"batch_size must be an integer >= 1 or None, got {batch_size!r}")
    own: Curriculum | None = None
    if isinstance(curriculum, RayCurriculumWrapper):
        name, namespace = curriculum.name, curriculum.namespace
    elif isinstance(curriculum, str):
        name = curriculum
    elif isinstance(curriculum, Curriculum):
        own = curriculum
    else:
        raise TypeError(
            "curriculum must be a Curriculum (each algorithm serves its own), or a running curriculum actor: the "
            f"wrapper returned by make_ray_curriculum or the actor's name; got {curriculum!r}"
        )
    if own is None and actor_options is not None:
        raise ValueError(
            "actor_options configure each algorithm's own actor: pass a Curriculum, not a running actor"
        )
    if evaluation_tasks is not None:
        evaluation_tasks = list(evaluation_tasks)
        if not evaluation_tasks:
            raise ValueError("evaluation_tasks must not be empty; pass None for each env's default task")
    return {
        SETTINGS_KEY: {
            # Pickled here: Ray would hand a trial the curriculum's arrays read-only.
            "curriculum": None if own is None else cloudpickle.dumps(own),
            "name": name,
            "namespace": namespace,
            "actor_options": actor_options,
            "evaluation": evaluation,
            "evaluation_tasks": evaluation_tasks,
            "feed_plr": feed_plr,
            "timeout": float(timeout),
            "prefetch": prefetch,
            "batch_size": batch_size,
        }
    }


def settings_of(env_config: Any) -> dict[str, Any]:
    """The Syllabus settings in ``env_config``; defaults (the actor named "curriculum") when absent."""
    found = (env_config or {}).get(SETTINGS_KEY)
    return found if found is not None else curriculum_env_config()[SETTINGS_KEY]


def check_vectorize_mode(config: AlgorithmConfig) -> None:
    """Refuses ``gym_env_vectorize_mode="async"``: forked env processes cannot reach the curriculum."""
    if gym.VectorizeMode(config.gym_env_vectorize_mode) is gym.VectorizeMode.ASYNC:
        raise CurriculumConnectionError(_ASYNC_FIX)


def check_evaluation_settings(env_config: Any) -> None:
    """Refuses an evaluation ``env_config`` without the Syllabus evaluation settings."""
    if not settings_of(env_config)["evaluation"]:
        raise CurriculumError(
            "evaluation env runners would send their episodes to the curriculum: their env_config lacks the "
            "Syllabus evaluation settings. Call configure_curriculum after config.evaluation(...), or set "
            "evaluation_config['env_config'] with curriculum_env_config(..., evaluation=True)"
        )
