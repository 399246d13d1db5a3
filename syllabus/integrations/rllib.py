"""RLlib integration (new API stack): curricula for RLlib's env runners, metrics, checkpoints and a PLR feeder.

One call sets it all up; by default each algorithm (each Tune trial) serves its own curriculum::

    config = configure_curriculum(PPOConfig().environment(...), make_env, PrioritizedLevelReplay(tasks), feed_plr=True)
    algo = config.build_algo()          # starts this algorithm's curriculum actor
    algo.save(path)                     # RLlib's checkpoint, with the curriculum's state
    algo.stop()                         # stops the envs, then the curriculum actor

Pieces, for custom setups:

* [`make_env_creator`][syllabus.integrations.rllib.make_env_creator] turns a task-env factory into
  an RLlib env creator: training envs wait for the curriculum the algorithm attaches them to,
  evaluation envs get a fixed task list (or their own default task).
* [`curriculum_env_config`][syllabus.integrations.rllib.curriculum_env_config] builds the
  ``env_config`` entry (key ``"syllabus"``) it reads.
* [`CurriculumCallback`][syllabus.integrations.rllib.CurriculumCallback] starts (or attaches to)
  the curriculum when the algorithm is built, attaches the training envs to it, writes its state
  into the algorithm's checkpoints and restores it from them, logs its metrics under
  ``result["curriculum"]``, stops it with the algorithm, and installs the PLR feeder.
* [`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder] is a learner connector piece: it sends each
  training batch, with the value estimates PPO itself computes, to the curriculum's ``custom_update``.

Tested with ``ray[rllib]`` 2.60, gymnasium 1.2.2 and numpy 1.26. Importing this module imports
``ray.rllib``.
"""

from __future__ import annotations

import logging
import pickle
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import gymnasium as gym
import numpy as np

from syllabus.core.curriculum import Curriculum
from syllabus.core.errors import CurriculumConnectionError, CurriculumError
from syllabus.core.ray_sync import (
    DEFAULT_NAME,
    DEFAULT_PREFETCH,
    DEFAULT_TIMEOUT,
    FORK_FIX,
    RayCurriculumWrapper,
    RaySyncWrapper,
    attach_ray_curriculum,
    forked_from_ray,
    make_ray_curriculum,
)
from syllabus.core.task_interface import task_reset

try:
    from ray import cloudpickle
    from ray.rllib.callbacks.callbacks import RLlibCallback
    from ray.rllib.connectors.connector_v2 import ConnectorV2
except ImportError:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "syllabus.integrations.rllib needs RLlib: pip install 'syllabus-curriculum[rllib]'"
    ) from None

if TYPE_CHECKING:
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
    from ray.rllib.core.learner.learner import Learner
    from ray.rllib.env.env_context import EnvContext

__all__ = [
    "CHECKPOINT_FILE",
    "CHUNKS_KEY",
    "SETTINGS_KEY",
    "CurriculumCallback",
    "EpisodeChunk",
    "EvaluationTasks",
    "PLRFeeder",
    "Rollout",
    "RolloutPacker",
    "configure_curriculum",
    "curriculum_env_config",
    "curriculum_of",
    "make_env_creator",
]

SETTINGS_KEY = "syllabus"
"""Key of the Syllabus settings in RLlib's ``env_config``."""
CHECKPOINT_FILE = "syllabus_curriculum.pkl"
"""The curriculum's ``state_dict()``, pickled, inside an algorithm's checkpoint directory."""

logger = logging.getLogger(__name__)

_RECORDS_KEY = "syllabus_episode_records"
_STARVED_WARNING = 3
CHUNKS_KEY = "syllabus_chunks"
"""Key under which [`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder] leaves the chunks it sent in the learner connector's ``shared_data``."""

_ASYNC_FIX = (
    'gym_env_vectorize_mode="async" forks env processes from the env runner, where Ray cannot be used, so '
    'training envs cannot reach the curriculum. Use gym_env_vectorize_mode="sync" (the default) and scale out '
    "with num_env_runners; evaluation env runners may stay async, they never contact the curriculum."
)
_NOT_ATTACHED = (
    "this training env was never attached to a curriculum: CurriculumCallback did not run when the algorithm "
    "was built. A later config.callbacks(MyCallback) replaces the callbacks configure_curriculum added; pass "
    "them together instead: config.callbacks([MyCallback, CurriculumCallback])"
)


# --------------------------------------------------------------------------- settings
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
            [`RaySyncWrapper`][syllabus.core.ray_sync.RaySyncWrapper]); ``None``: ``min(prefetch, 8)``.
        evaluation: Whether this entry configures evaluation env runners.

    Returns:
        ``{"syllabus": {...}}``.

    Raises:
        TypeError: ``curriculum`` is none of the above.
        ValueError: A setting is out of range.
    """
    if timeout <= 0:
        raise ValueError(f"need timeout > 0, got timeout={timeout}")
    if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
        raise ValueError(f"prefetch must be an integer >= 0, got {prefetch!r}")
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


def _settings(env_config: Any) -> dict[str, Any]:
    """The Syllabus settings in ``env_config``; defaults (the actor named "curriculum") when absent."""
    found = (env_config or {}).get(SETTINGS_KEY)
    return found if found is not None else curriculum_env_config()[SETTINGS_KEY]


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
    _check_vectorize_mode(config)
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
    if _ensure_curriculum_callback not in guards:
        config.callbacks(on_algorithm_init=[*guards, _ensure_curriculum_callback])
    return config


def _check_vectorize_mode(config: AlgorithmConfig) -> None:
    if gym.VectorizeMode(config.gym_env_vectorize_mode) is gym.VectorizeMode.ASYNC:
        raise CurriculumConnectionError(_ASYNC_FIX)


def _env_class(creator: Callable[[EnvContext], gym.Env]) -> type:
    """``creator`` as a class: RLlib takes a class as ``config.env`` and pickles it with the config.

    A registered env name would not be known in a fresh process that loads a checkpoint.
    """

    class SyllabusEnv:
        def __new__(cls, env_context: EnvContext) -> Any:
            return creator(env_context)

    return SyllabusEnv


# -------------------------------------------------------------------------- env side
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
    [`RaySyncWrapper`][syllabus.core.ray_sync.RaySyncWrapper] around the task env. A reset before
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
        settings = _settings(env_context)
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
    [`RaySyncWrapper`][syllabus.core.ray_sync.RaySyncWrapper]. On evaluation env runners (settings
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


class _Attach:
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


# --------------------------------------------------------------------------- callback
class CurriculumCallback(RLlibCallback):
    """Connects an RLlib algorithm to its curriculum; added by [`configure_curriculum`][syllabus.integrations.rllib.configure_curriculum].

    * When the algorithm is built (``on_algorithm_init``): starts the algorithm's own curriculum
      actor (settings with a ``Curriculum``; named after the Tune trial) or attaches to the shared
      one (a handle that never kills it; in a Tune trial with a warning that trials share it);
      attaches the training envs to it; refuses ``gym_env_vectorize_mode="async"``, evaluation
      env runners without the evaluation settings, and the PLR feeder with more than one learner;
      installs the [`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder] when ``feed_plr`` is set;
      and hooks the algorithm so that its checkpoints (``algo.save()``, ``save_to_path``, Tune's)
      carry the curriculum's state ([`CHECKPOINT_FILE`][syllabus.integrations.rllib.CHECKPOINT_FILE]),
      restoring them (``algo.restore()``, ``restore_from_path``, ``Algorithm.from_checkpoint``,
      Tune's trial restore) restores it, and ``algo.stop()`` stops its own actor after the envs.
    * After every ``train()`` (``on_train_result``): puts the curriculum's metrics in
      ``result["curriculum"]``; if the curriculum failed while serving envs, ``train()`` raises its error.
    * When env runners are recreated after a failure: attaches their envs.
    * When an env is created in an evaluation env runner: refuses it unless its settings say
      ``evaluation=True``, so evaluation episodes never reach the curriculum.

    Attributes:
        curriculum: The algorithm's handle on its curriculum (set when the algorithm is built).
    """

    def __init__(self) -> None:
        super().__init__()
        self.curriculum: RayCurriculumWrapper | None = None
        self._actor: tuple[str, str | None] | None = None

    def on_algorithm_init(self, *, algorithm: Algorithm, metrics_logger: Any = None, **kwargs: Any) -> None:
        """Starts or attaches to the curriculum, attaches the envs, checks the configuration, installs the feeder.

        Args:
            algorithm: The RLlib algorithm being built.
            metrics_logger: RLlib's metrics logger (unused).
            kwargs: Keyword arguments, passed on unchanged.
        """
        config, learner_group = algorithm.config, algorithm.learner_group
        if config is None or learner_group is None:
            raise CurriculumError("CurriculumCallback needs RLlib's new API stack (EnvRunners and Learners)")
        settings = _settings(config.env_config)
        _check_vectorize_mode(config)
        evaluation_config = getattr(algorithm, "evaluation_config", None)
        if evaluation_config is not None and config.evaluation_interval:
            _check_evaluation_settings(evaluation_config.env_config)
        if settings["feed_plr"] and config.num_learners > 1:
            raise CurriculumError(
                f"the PLR feeder needs one learner to see every training episode in order, got "
                f"num_learners={config.num_learners}: use num_learners=0 or 1"
            )
        self.curriculum = _start_or_attach(algorithm, settings)
        try:
            name, namespace = self.curriculum.name, self.curriculum.namespace
            self._actor = (name, namespace)
            _hook_checkpoints_and_stop(algorithm, self.curriculum)
            if algorithm.env_runner_group is not None:
                algorithm.env_runner_group.foreach_env_runner(_Attach(name, namespace), local_env_runner=True)
            if settings["feed_plr"]:
                num_lanes = max(config.num_env_runners, 1) * config.num_envs_per_env_runner
                learner_group.foreach_learner(
                    _FeederInstaller(name, namespace, settings["timeout"], num_lanes)
                )
        except BaseException:
            self.curriculum.close()
            raise

    def on_env_runners_recreated(
        self,
        *,
        algorithm: Algorithm,
        env_runner_group: Any,
        env_runner_indices: list[int],
        is_evaluation: bool,
        **kwargs: Any,
    ) -> None:
        """Attaches the training envs of recreated env runners to the curriculum."""
        if not is_evaluation and self._actor is not None:
            env_runner_group.foreach_env_runner(
                _Attach(*self._actor), remote_worker_ids=env_runner_indices, local_env_runner=False
            )

    def on_train_result(
        self, *, algorithm: Algorithm, metrics_logger: Any = None, result: dict, **kwargs: Any
    ) -> None:
        """Adds the curriculum's metrics to ``result["curriculum"]``; raises the curriculum's error if it failed.

        Args:
            algorithm: The RLlib algorithm.
            metrics_logger: RLlib's metrics logger (unused).
            result: The training iteration's result dict, extended in place.
            kwargs: Keyword arguments, passed on unchanged.
        """
        if self.curriculum is not None:
            result["curriculum"] = self.curriculum.log_metrics()

    def on_environment_created(
        self, *, env_runner: Any, metrics_logger: Any = None, env: Any, env_context: Any, **kwargs: Any
    ) -> None:
        """Refuses a curriculum-synced env in an evaluation env runner.

        Args:
            env_runner: The env runner that built the env.
            metrics_logger: RLlib's metrics logger (unused).
            env: The env (vector env) just created.
            env_context: RLlib's env context of that env.
            kwargs: Keyword arguments, passed on unchanged.
        """
        if env_runner.config.in_evaluation:
            _check_evaluation_settings(env_context)


def _ensure_curriculum_callback(*, algorithm: Algorithm, metrics_logger: Any = None, **kwargs: Any) -> None:
    """``on_algorithm_init`` guard added by configure_curriculum: puts back a CurriculumCallback that a
    later ``config.callbacks(...)`` replaced (RLlib keeps function callbacks apart from callback classes)."""
    callbacks = algorithm.callbacks
    if any(isinstance(callback, CurriculumCallback) for callback in callbacks):
        return
    logger.warning(
        "config.callbacks(...) replaced the CurriculumCallback that configure_curriculum added; Syllabus adds "
        "it back for the algorithm (not for env runners, where it guards evaluation envs). Pass both to avoid "
        "this: config.callbacks([YourCallback, CurriculumCallback])"
    )
    callback = CurriculumCallback()
    callbacks.append(callback)
    callback.on_algorithm_init(algorithm=algorithm, metrics_logger=metrics_logger)


def curriculum_of(algorithm: Algorithm) -> RayCurriculumWrapper:
    """The curriculum of an algorithm built from a config set up by [`configure_curriculum`][syllabus.integrations.rllib.configure_curriculum].

    Use it like the curriculum (e.g. ``curriculum_of(algo).scores``); the algorithm owns it when
    it serves its own: ``algo.stop()`` stops it.

    Raises:
        CurriculumError: The algorithm has no [`CurriculumCallback`][syllabus.integrations.rllib.CurriculumCallback].
    """
    for callback in algorithm.callbacks or []:
        if isinstance(callback, CurriculumCallback) and callback.curriculum is not None:
            return callback.curriculum
    raise CurriculumError(
        "this algorithm has no curriculum: build it from a config set up by configure_curriculum"
    )


def _trial_of(algorithm: Algorithm) -> str | None:
    """The Tune trial running ``algorithm`` (its directory name, which holds the trial id), ``None`` outside Tune.

    RLlib drops Tune's trial info when it turns the trial's config into an ``AlgorithmConfig``
    (``algorithm.trial_id`` stays ``"default"``); the trial's storage context keeps its directory.
    """
    trial = getattr(algorithm, "trial_id", "default")
    if trial not in (None, "default"):
        return str(trial)
    storage = getattr(algorithm, "_storage", None)  # set by Tune only
    return getattr(storage, "trial_dir_name", None) or None


def _start_or_attach(algorithm: Algorithm, settings: dict[str, Any]) -> RayCurriculumWrapper:
    trial = _trial_of(algorithm)
    in_trial = trial is not None
    if settings["curriculum"] is None:
        curriculum = attach_ray_curriculum(
            settings["name"], settings["namespace"], timeout=settings["timeout"]
        )
        if in_trial:
            logger.warning(
                "Tune trial %s trains with the shared curriculum actor %r: every trial configured with it feeds "
                "one curriculum. Pass the Curriculum itself to configure_curriculum for one curriculum per trial.",
                trial,
                settings["name"],
            )
        return curriculum
    suffix = uuid.uuid4().hex[:8]
    name = settings["name"] or (
        f"syllabus-curriculum-{trial}-{suffix}" if in_trial else f"syllabus-curriculum-{suffix}"
    )
    options = settings["actor_options"]
    return make_ray_curriculum(
        pickle.loads(settings["curriculum"]),
        name,
        settings["namespace"],
        timeout=settings["timeout"],
        actor_options=options() if callable(options) else options,
    )


def _hook_checkpoints_and_stop(algorithm: Algorithm, curriculum: RayCurriculumWrapper) -> None:
    """Makes the algorithm's checkpoints carry the curriculum's state, and its cleanup close the curriculum.

    RLlib offers callbacks for neither saving nor stopping, so the algorithm's own methods are
    wrapped (on this instance only): every save path (``save``, ``save_to_path``, Tune) ends in
    ``save_to_path``, every restore path (``restore``, ``from_checkpoint``, Tune) in
    ``restore_from_path``, and ``stop`` in ``cleanup``.
    """
    save, restore, cleanup = algorithm.save_to_path, algorithm.restore_from_path, algorithm.cleanup

    def save_to_path(path: Any = None, **kwargs: Any) -> str:
        written = save(path, **kwargs)
        if _local(kwargs.get("filesystem")):
            Path(written, CHECKPOINT_FILE).write_bytes(pickle.dumps(curriculum.state_dict()))
        return written

    def restore_from_path(path: Any, **kwargs: Any) -> None:
        restore(path, **kwargs)
        saved = Path(path, CHECKPOINT_FILE)
        if kwargs.get("component") is None and _local(kwargs.get("filesystem")) and saved.is_file():
            curriculum.load_state_dict(pickle.loads(saved.read_bytes()))

    def stop_curriculum() -> None:
        try:
            cleanup()  # stops the env runners first: their envs' close() sends their last updates
        finally:
            curriculum.close()

    algorithm.save_to_path = save_to_path  # type: ignore[method-assign]
    algorithm.restore_from_path = restore_from_path  # type: ignore[method-assign]
    algorithm.cleanup = stop_curriculum  # type: ignore[method-assign]


def _local(filesystem: Any) -> bool:
    """Whether a checkpoint path given with ``filesystem`` (pyarrow's, or ``None``) is a local path."""
    return filesystem is None or type(filesystem).__name__ == "LocalFileSystem"


def _check_evaluation_settings(env_config: Any) -> None:
    if not _settings(env_config)["evaluation"]:
        raise CurriculumError(
            "evaluation env runners would send their episodes to the curriculum: their env_config lacks the "
            "Syllabus evaluation settings. Call configure_curriculum after config.evaluation(...), or set "
            "evaluation_config['env_config'] with curriculum_env_config(..., evaluation=True)"
        )


class _FeederInstaller:
    """Runs on each learner: adds the PLR feeder's two pieces around the learner connector pipeline."""

    def __init__(self, name: str, namespace: str | None, timeout: float, num_lanes: int) -> None:
        self.name = name
        self.namespace = namespace
        self.timeout = timeout
        self.num_lanes = num_lanes

    def __call__(self, learner: Learner, _: Any = None) -> None:
        curriculum = attach_ray_curriculum(self.name, self.namespace, timeout=self.timeout)
        feeder = PLRFeeder(curriculum, self.num_lanes)
        pipeline = learner._learner_connector  # noqa: SLF001 - RLlib offers no public accessor
        if pipeline is None:
            raise CurriculumError(
                f"{type(learner).__name__} has no learner connector pipeline to feed PLR from"
            )
        pipeline.prepend(feeder.recorder)
        pipeline.append(feeder)


# ------------------------------------------------------------------------ PLR feeding
@dataclass
class EpisodeChunk:
    """One training episode chunk as the PLR feeder sees it.

    Args:
        episode_id: RLlib's episode id; the chunks of one episode share it.
        first: Whether the chunk starts its episode.
        task: Task index the episode runs.
        rewards: Rewards of the chunk's steps.
        values: Value predictions of the chunk's observations (one more than rewards when truncated).
        terminated: Whether the episode ended in a terminal state at the chunk's end.
        truncated: Whether the episode was cut off at the chunk's end.

    Attributes:
        episode_id: RLlib's episode id; the chunks of one episode share it.
        first: Whether the chunk starts the episode.
        task: Encoded task: from the reset info for a first chunk; for a later chunk ``-1`` until
            the [`RolloutPacker`][syllabus.integrations.rllib.RolloutPacker] fills in its episode's task.
        rewards: Rewards of the chunk's ``n`` steps.
        values: ``V(s_0) .. V(s_n)``: the value estimates of the chunk's observations, the last
            one of the observation after its last step (the bootstrap).
        terminated: The episode terminated at the chunk's last step.
        truncated: The episode was truncated (time limit) at the chunk's last step.
    """

    episode_id: str
    first: bool
    task: int
    rewards: np.ndarray
    values: np.ndarray
    terminated: bool
    truncated: bool

    def __len__(self) -> int:
        return len(self.rewards)


class Rollout(NamedTuple):
    """Arrays for ``PrioritizedLevelReplay.custom_update``, shaped ``(num_steps, num_lanes)``."""

    tasks: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    values: np.ndarray
    next_values: np.ndarray


class _Lane:
    def __init__(self) -> None:
        self.tasks: list[np.ndarray] = []
        self.rewards: list[np.ndarray] = []
        self.dones: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.length = 0
        self.open_id: str | None = None  # episode whose next chunk continues this lane
        self.open_task = -1
        self.bootstrap = 0.0  # V after the last step held, when the lane ends in an open episode

    def add(self, chunk: EpisodeChunk, task: int, gamma: float) -> None:
        chunk.task = task
        n = len(chunk)
        rewards = np.array(chunk.rewards, dtype=np.float64)
        dones = np.zeros(n, dtype=bool)
        if chunk.terminated or chunk.truncated:
            dones[-1] = True
            if chunk.truncated and not chunk.terminated:
                rewards[-1] += gamma * float(chunk.values[n])  # time limit: bootstrap, as SB3 does
            self.open_id = None
        else:
            self.open_id, self.open_task, self.bootstrap = chunk.episode_id, task, float(chunk.values[n])
        self.tasks.append(np.full(n, task, dtype=np.int64))
        self.rewards.append(rewards)
        self.dones.append(dones)
        self.values.append(np.asarray(chunk.values[:n], dtype=np.float64))
        self.length += n

    def end_lost_episode(self, gamma: float) -> None:
        """The open episode's env is gone (e.g. its env runner restarted): end it as truncated."""
        if self.length:
            self.dones[-1][-1] = True
            self.rewards[-1][-1] += gamma * self.bootstrap
        self.open_id = None

    def take(self, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        tasks, rewards, dones, values = (
            np.concatenate(part) for part in (self.tasks, self.rewards, self.dones, self.values)
        )
        if length < self.length:
            next_value = float(values[length])
        else:
            next_value = self.bootstrap if self.open_id is not None else 0.0
        rest = slice(length, None)
        self.tasks, self.rewards, self.dones, self.values = (
            [tasks[rest]],
            [rewards[rest]],
            [dones[rest]],
            [values[rest]],
        )
        self.length -= length
        return tasks[:length], rewards[:length], dones[:length], values[:length], next_value


class RolloutPacker:
    """Lays out RLlib episode chunks as fixed-width rollouts for ``custom_update``.

    PLR scores rollouts shaped ``(num_steps, num_envs)`` and carries an episode that is still
    running at a rollout's end over to the same column of the next rollout. RLlib hands over
    episode chunks of varying lengths instead. The packer keeps ``num_lanes`` columns ("lanes"):

    * a chunk continuing an episode goes to the lane of that episode, right after its earlier steps;
    * an episode's first chunk goes to a lane with no running episode, the one holding fewest steps;
    * each [`pop`][syllabus.integrations.rllib.RolloutPacker.pop] returns the first ``L`` steps of every lane, ``L`` the fewest any lane
      holds; the rest waits for the next rollout, so every step is sent exactly once, in order.

    Within a lane, ``dones`` mark episode ends; a time-limit truncation is a done whose reward
    gets ``gamma * V(final observation)`` added (PLR's documented convention), a termination a
    done with bootstrap 0. ``next_values`` is the value after each lane's last step sent.
    A running episode whose next chunk does not come with the next batch (its env runner was
    restarted) is ended as truncated.

    Args:
        num_lanes: Columns; at least the number of envs sampling at once.
        gamma: PLR's discount factor, for the truncation bootstrap.
    """

    def __init__(self, num_lanes: int, gamma: float) -> None:
        if num_lanes < 1:
            raise ValueError(f"num_lanes must be >= 1, got {num_lanes}")
        self.num_lanes = num_lanes
        self.gamma = gamma
        self.lanes = [_Lane() for _ in range(num_lanes)]
        self.dropped_steps = 0

    @property
    def held_steps(self) -> int:
        """Steps received and not yet returned by [`pop`][syllabus.integrations.rllib.RolloutPacker.pop]."""
        return sum(lane.length for lane in self.lanes)

    def add(self, chunks: Sequence[EpisodeChunk]) -> None:
        """Adds one training batch's chunks (any order; the chunks of one episode in time order).

        Args:
            chunks: The episode chunks of one training batch.

        Raises:
            CurriculumError: More episodes run at once than there are lanes.
        """
        by_episode: dict[str, list[EpisodeChunk]] = defaultdict(list)
        for chunk in chunks:
            by_episode[chunk.episode_id].append(chunk)
        # Continuations first: they may end episodes and free lanes for new ones.
        for lane in self.lanes:
            if lane.open_id is None:
                continue
            if lane.open_id in by_episode:
                for chunk in by_episode.pop(lane.open_id):
                    lane.add(chunk, lane.open_task, self.gamma)
            else:
                lane.end_lost_episode(self.gamma)
        for episode in by_episode.values():
            if not episode[0].first:
                self.dropped_steps += sum(len(chunk) for chunk in episode)  # started before the feeder
                continue
            free = [lane for lane in self.lanes if lane.open_id is None]
            if not free:
                raise CurriculumError(
                    f"more training episodes run at once than the PLR feeder's {self.num_lanes} lanes; "
                    "num_lanes must be at least num_env_runners (or 1) x num_envs_per_env_runner"
                )
            lane = min(free, key=lambda candidate: candidate.length)
            for chunk in episode:
                lane.add(chunk, episode[0].task, self.gamma)

    def pop(self) -> Rollout | None:
        """The next rollout: the first ``L`` steps held in every lane; ``None`` while a lane is empty."""
        length = min(lane.length for lane in self.lanes)
        if length == 0:
            return None
        columns = [lane.take(length) for lane in self.lanes]
        tasks, rewards, dones, values, next_values = zip(*columns, strict=True)
        return Rollout(
            np.stack(tasks, axis=1),
            np.stack(rewards, axis=1),
            np.stack(dones, axis=1),
            np.stack(values, axis=1),
            np.array(next_values, dtype=np.float64),
        )


class _EpisodeRecorder(ConnectorV2):
    """First learner connector piece of the feeder: notes each episode chunk before PPO extends it by one step."""

    def __init__(self, encode: Callable[[Any], int]) -> None:
        super().__init__()
        self._encode = encode

    def __call__(self, *, episodes: list, batch: dict, shared_data: dict | None = None, **kwargs: Any) -> Any:
        records = []
        for episode in episodes:
            if not hasattr(episode, "get_rewards"):
                raise CurriculumError("the PLR feeder supports single-agent episodes only")
            first = episode.t_started == 0
            task = -1
            if first:
                info = episode.get_infos(0)
                if "task" not in info:
                    raise CurriculumError(
                        "a training episode has no 'task' in its reset info: build the env with "
                        "make_env_creator (or configure_curriculum) so it is synced with the curriculum"
                    )
                task = self._encode(info["task"])
            records.append(
                (
                    episode.id_,
                    first,
                    task,
                    np.asarray(episode.get_rewards(), dtype=np.float64),
                    bool(episode.is_terminated),
                    bool(episode.is_truncated),
                )
            )
        if shared_data is not None:
            shared_data[_RECORDS_KEY] = records
        return batch


class PLRFeeder(ConnectorV2):
    """Learner connector piece that sends each training batch to the curriculum's ``custom_update``.

    It runs last in PPO's learner connector pipeline, after the generalized advantage estimation,
    and computes the value estimates ``V(s_t)`` (and the bootstrap ``V`` after each chunk) with
    the learner's module on the very batch PPO's advantage estimation used, before the update:
    the same values PPO computed. Its `recorder` runs first in the pipeline and notes each
    chunk's id, task (from the reset ``info["task"]``), rewards, and whether it terminated or was
    truncated, before PPO appends its bootstrap step. The chunks are laid out by a
    [`RolloutPacker`][syllabus.integrations.rllib.RolloutPacker] and each rollout goes to ``custom_update(tasks, rewards, dones, values,
    next_values)``. The chunks sent are left in ``shared_data["syllabus_chunks"]``.

    Installed by [`CurriculumCallback`][syllabus.integrations.rllib.CurriculumCallback] when the settings say ``feed_plr=True``; single-agent,
    one learner, value-based PLR strategies.

    Args:
        curriculum: A handle on the curriculum (e.g. [`attach_ray_curriculum`][syllabus.core.ray_sync.attach_ray_curriculum]).
        num_lanes: Columns of each rollout; at least the number of envs sampling at once.
    """

    def __init__(self, curriculum: Any, num_lanes: int) -> None:
        super().__init__()
        from syllabus.curricula.plr.scoring import POLICY_STRATEGIES

        strategy = getattr(curriculum, "strategy", None)
        if strategy in POLICY_STRATEGIES:
            raise CurriculumError(
                f"the PLR feeder sends value estimates only; strategy {strategy!r} needs action "
                "distributions: use a value strategy such as 'value_l1'"
            )
        self.curriculum = curriculum
        self.packer = RolloutPacker(num_lanes, float(curriculum.gamma))
        self.recorder = _EpisodeRecorder(curriculum.task_space.encode)
        self._starved = 0  # training batches in a row with no rollout sent

    def __call__(
        self, *, rl_module: Any, batch: dict, episodes: list, shared_data: dict | None = None, **kwargs: Any
    ) -> Any:
        import torch
        from ray.rllib.core import DEFAULT_MODULE_ID
        from ray.rllib.utils.numpy import convert_to_numpy
        from ray.rllib.utils.postprocessing.zero_padding import unpad_data_if_necessary

        records = (shared_data or {}).get(_RECORDS_KEY)
        if records is None:
            raise CurriculumError(
                "the PLR feeder's recorder did not run first in the learner connector pipeline"
            )
        lengths = [len(episode) for episode in episodes]  # each extended by PPO's bootstrap step
        with torch.no_grad():
            values = rl_module[DEFAULT_MODULE_ID].compute_values(batch[DEFAULT_MODULE_ID])
        values = np.asarray(
            unpad_data_if_necessary(lengths, np.asarray(convert_to_numpy(values))), dtype=np.float64
        )
        ends = np.cumsum(lengths)
        chunks = [
            EpisodeChunk(
                episode_id, first, task, rewards, values[end - len(rewards) - 1 : end], terminated, truncated
            )
            for (episode_id, first, task, rewards, terminated, truncated), end in zip(
                records, ends, strict=True
            )
        ]
        self.packer.add(chunks)
        rollout = self.packer.pop()
        if rollout is not None:
            self.curriculum.custom_update(*rollout)
            self._starved = 0
        else:
            self._starved += 1
            if self._starved == _STARVED_WARNING:
                empty = sum(lane.length == 0 for lane in self.packer.lanes)
                logger.warning(
                    "the PLR feeder sent nothing for %d training batches: %d of its %d lanes got no episodes. "
                    "Fewer envs sample than num_env_runners x num_envs_per_env_runner (failed env runners?)",
                    self._starved,
                    empty,
                    self.packer.num_lanes,
                )
        if shared_data is not None:
            shared_data[CHUNKS_KEY] = chunks
        return batch
