"""RLlib integration (new API stack): curricula for RLlib's env runners, metrics, and a PLR feeder.

The curriculum runs as a named Ray actor ([`make_ray_curriculum`][syllabus.core.ray_sync.make_ray_curriculum]); RLlib's
training env runners reach it through [`RaySyncWrapper`][syllabus.core.ray_sync.RaySyncWrapper], evaluation env
runners never do. One call sets it all up::

    curriculum = make_ray_curriculum(PrioritizedLevelReplay(task_space))
    config = configure_curriculum(PPOConfig().environment(...), make_env, curriculum, feed_plr=True)
    algo = config.build_algo()

Pieces, for custom setups:

* [`make_env_creator`][syllabus.integrations.rllib.make_env_creator] turns a task-env factory into an RLlib env creator that syncs training
  envs and gives evaluation envs a fixed task list (or their own default task).
* [`curriculum_env_config`][syllabus.integrations.rllib.curriculum_env_config] builds the ``env_config`` entry (key ``"syllabus"``) it reads.
* [`CurriculumCallback`][syllabus.integrations.rllib.CurriculumCallback] attaches to the curriculum when the algorithm is built (failing the
  build if it is missing), logs its metrics under ``result["curriculum"]`` after every
  ``train()`` (failing ``train()`` with the curriculum's error if it failed), refuses
  configurations that cannot work, and installs the [`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder].
* [`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder] is a learner connector piece: it sends each training batch, with the value
  estimates PPO itself computes, to the curriculum's ``custom_update``.

Only the wrapper returned by ``make_ray_curriculum`` owns the actor; the callback and the feeder
use [`attach_ray_curriculum`][syllabus.core.ray_sync.attach_ray_curriculum] handles, which never kill it.

Tested with ``ray[rllib]`` 2.60, gymnasium 1.2.2 and numpy 1.26. Importing this module imports
``ray.rllib``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import gymnasium as gym
import numpy as np

from syllabus.core.env_sync import SyncWrapper, Transport
from syllabus.core.errors import CurriculumConnectionError, CurriculumError
from syllabus.core.ray_sync import (
    DEFAULT_NAME,
    DEFAULT_TIMEOUT,
    RayCurriculumWrapper,
    RaySyncWrapper,
    attach_ray_curriculum,
)
from syllabus.core.task_interface import check_task_interface

try:
    from ray.rllib.callbacks.callbacks import RLlibCallback
    from ray.rllib.connectors.connector_v2 import ConnectorV2
except ImportError:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "syllabus.integrations.rllib needs RLlib: pip install 'syllabus-curriculum[rllib]'"
    ) from None

if TYPE_CHECKING:
    from ray.actor import ActorHandle
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
    from ray.rllib.core.learner.learner import Learner
    from ray.rllib.env.env_context import EnvContext

__all__ = [
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
    "make_env_creator",
]

SETTINGS_KEY = "syllabus"
"""Key of the Syllabus settings in RLlib's ``env_config``."""

logger = logging.getLogger(__name__)

_RECORDS_KEY = "syllabus_episode_records"
_STARVED_WARNING = 3
CHUNKS_KEY = "syllabus_chunks"
"""Key under which [`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder] leaves the chunks it sent in the learner connector's ``shared_data``."""

_FORK_FIX = (
    "RaySyncWrapper cannot run in a process forked from a Ray worker (RLlib's "
    'gym_env_vectorize_mode="async" forks env processes): Ray cannot be used there, so the curriculum '
    'actor cannot be reached. Use gym_env_vectorize_mode="sync" (the default) and scale out with '
    "num_env_runners; evaluation env runners may stay async, they never contact the curriculum."
)

# Set in a child process forked from a process in which Ray was initialized (e.g. a Ray worker).
_forked_from_ray = False


def _after_fork_in_child() -> None:
    global _forked_from_ray
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        _forked_from_ray = True


os.register_at_fork(after_in_child=_after_fork_in_child)


# --------------------------------------------------------------------------- settings
def curriculum_env_config(
    curriculum: RayCurriculumWrapper | str = DEFAULT_NAME,
    namespace: str | None = None,
    *,
    evaluation_tasks: Sequence[Any] | None = None,
    feed_plr: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    evaluation: bool = False,
) -> dict[str, Any]:
    """The ``env_config`` entry read by [`make_env_creator`][syllabus.integrations.rllib.make_env_creator], [`CurriculumCallback`][syllabus.integrations.rllib.CurriculumCallback] and the feeder.

    Merge it into the training ``env_config``; the evaluation ``env_config`` needs the same entry
    with ``evaluation=True`` ([`configure_curriculum`][syllabus.integrations.rllib.configure_curriculum] does both).

    Args:
        curriculum: The wrapper from ``make_ray_curriculum`` (its actor handle is passed to the envs,
            so they skip the lookup), or the actor's name.
        namespace: The actor's Ray namespace (ignored when ``curriculum`` is a wrapper).
        evaluation_tasks: Tasks evaluation envs cycle through; ``None``: each env's own default task.
        feed_plr: Install the [`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder] (the curriculum must have PLR's ``custom_update``).
        timeout: Seconds an env reset or a learner-side call may wait for the curriculum.
        evaluation: Whether this entry configures evaluation env runners.

    Returns:
        ``{"syllabus": {...}}``.
    """
    if timeout <= 0:
        raise ValueError(f"need timeout > 0, got timeout={timeout}")
    if isinstance(curriculum, RayCurriculumWrapper):
        name, namespace, actor = curriculum.name, curriculum.namespace, curriculum.actor
    elif isinstance(curriculum, str):
        name, actor = curriculum, None
    else:
        raise TypeError(
            f"curriculum must be the wrapper returned by make_ray_curriculum or the actor's name, got {curriculum!r}"
        )
    if evaluation_tasks is not None:
        evaluation_tasks = list(evaluation_tasks)
        if not evaluation_tasks:
            raise ValueError("evaluation_tasks must not be empty; pass None for each env's default task")
    return {
        SETTINGS_KEY: {
            "name": name,
            "namespace": namespace,
            "actor": actor,
            "evaluation": evaluation,
            "evaluation_tasks": evaluation_tasks,
            "feed_plr": feed_plr,
            "timeout": float(timeout),
        }
    }


def _settings(env_config: Any) -> dict[str, Any]:
    """The Syllabus settings in ``env_config``; defaults (the actor named "curriculum") when absent."""
    found = (env_config or {}).get(SETTINGS_KEY)
    return found if found is not None else curriculum_env_config()[SETTINGS_KEY]


def configure_curriculum(
    config: AlgorithmConfig,
    env_factory: Callable[[EnvContext], gym.Env],
    curriculum: RayCurriculumWrapper | str = DEFAULT_NAME,
    namespace: str | None = None,
    *,
    evaluation_tasks: Sequence[Any] | None = None,
    feed_plr: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    env_name: str | None = None,
) -> AlgorithmConfig:
    """Sets up an RLlib algorithm config to train with a curriculum served by ``make_ray_curriculum``.

    Registers [`make_env_creator`][syllabus.integrations.rllib.make_env_creator] of ``env_factory`` with Ray Tune's env registry as the
    config's env, adds the settings to the training
    and evaluation ``env_config`` (keeping what is there), and adds [`CurriculumCallback`][syllabus.integrations.rllib.CurriculumCallback].
    Later ``config.evaluation(...)`` calls keep the settings (RLlib merges overrides); dropping
    them (``evaluation_config=None``) or switching to async vectorization afterwards is refused
    when the algorithm is built.

    Args:
        config: The algorithm config (new API stack); changed in place and returned.
        env_factory: Builds one task env from RLlib's ``EnvContext`` (``worker_index``,
            ``num_workers``, your ``env_config``).
        curriculum: The wrapper from ``make_ray_curriculum``, or the actor's name.
        namespace: The actor's Ray namespace, when ``curriculum`` is a name.
        evaluation_tasks: Tasks evaluation envs cycle through; ``None``: each env's default task.
        feed_plr: Feed the curriculum's ``custom_update`` with each training batch ([`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder]).
        timeout: Seconds an env reset or a learner-side call may wait for the curriculum.
        env_name: Name the env creator is registered under; ``"syllabus-<actor name>"`` by default.

    Returns:
        ``config``.

    Raises:
        CurriculumConnectionError: ``config`` uses ``gym_env_vectorize_mode="async"``, or Ray is
            running and has no curriculum actor of that name (and namespace).
    """
    _check_vectorize_mode(config)
    settings = curriculum_env_config(
        curriculum, namespace, evaluation_tasks=evaluation_tasks, feed_plr=feed_plr, timeout=timeout
    )
    import ray

    if ray.is_initialized():
        _find(settings[SETTINGS_KEY])  # a misnamed actor fails here, in the caller's process
    from ray.tune.registry import register_env

    env_config = {**dict(config.env_config or {}), **settings}
    env_id = env_name or f"syllabus-{settings[SETTINGS_KEY]['name']}"
    register_env(env_id, make_env_creator(env_factory))
    config.environment(env=env_id, env_config=env_config)
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
    return config


def _check_vectorize_mode(config: AlgorithmConfig) -> None:
    if gym.VectorizeMode(config.gym_env_vectorize_mode) is gym.VectorizeMode.ASYNC:
        raise CurriculumConnectionError(_FORK_FIX)


# -------------------------------------------------------------------------- env side
class EvaluationTasks(gym.Wrapper):
    """Resets a task env into tasks from a fixed list, in turn; never contacts the curriculum.

    The task is put in ``info["task"]`` like the sync wrappers do.

    Args:
        env: A task env (``reset(new_task=...)``), or wrapped in a TaskWrapper directly beneath.
        tasks: The tasks to cycle through.
        offset: Index of the first task (e.g. the env runner's index, so runners start apart).
    """

    def __init__(self, env: gym.Env, tasks: Sequence[Any], offset: int = 0) -> None:
        check_task_interface(env)
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
        env: Any = self.env  # a task env: its reset takes new_task
        obs, info = env.reset(seed=seed, options=options, new_task=new_task)
        info["task"] = new_task
        return obs, info


class _RefuseForked:
    """The transport of a sync wrapper built in a process forked from a Ray worker: refuses to connect."""

    def __call__(self) -> Transport:
        raise CurriculumConnectionError(_FORK_FIX)


class _EnvCreator:
    """RLlib env creator (picklable): the task env from the factory, synced or in evaluation mode."""

    def __init__(self, env_factory: Callable[[EnvContext], gym.Env]) -> None:
        self.env_factory = env_factory

    def __call__(self, env_context: EnvContext) -> gym.Env:
        settings = _settings(env_context)
        env = self.env_factory(env_context)
        if settings["evaluation"]:
            tasks = settings["evaluation_tasks"]
            offset = getattr(env_context, "worker_index", 0)
            return env if tasks is None else EvaluationTasks(env, tasks, offset=offset)
        if _forked_from_ray:
            # Fail at the first reset, where the vector env reports errors to its parent.
            return SyncWrapper(env, _RefuseForked(), timeout=settings["timeout"])
        actor = settings["actor"] if settings["actor"] is not None else _find(settings)
        return RaySyncWrapper(
            env, settings["name"], settings["namespace"], actor=actor, timeout=settings["timeout"]
        )


def _find(settings: dict[str, Any]) -> ActorHandle:
    """Looks the curriculum actor up now, so a missing one fails the env runner's construction."""
    import ray

    name, namespace = settings["name"], settings["namespace"]
    label = f"{name!r}" if namespace is None else f"{name!r} (namespace {namespace!r})"
    if not ray.is_initialized():
        raise CurriculumConnectionError(
            f"Ray is not initialized in this process, so the curriculum actor {label} cannot be found"
        )
    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError:
        raise CurriculumConnectionError(
            f"no curriculum actor named {label} in this Ray cluster: create it with "
            f"make_ray_curriculum(curriculum, name={name!r}) before building the algorithm, and pass the "
            "same name (and namespace) to configure_curriculum"
        ) from None


def make_env_creator(env_factory: Callable[[EnvContext], gym.Env]) -> Callable[[EnvContext], gym.Env]:
    """An RLlib env creator that connects training envs to the curriculum.

    Register it (``ray.tune.registry.register_env(name, creator)``) and pass the name to
    ``config.environment(env=name)``.

    The settings come from ``env_config["syllabus"]`` ([`curriculum_env_config`][syllabus.integrations.rllib.curriculum_env_config]; absent: the
    actor named ``"curriculum"`` in the job's namespace). On training env runners each env is
    wrapped in [`RaySyncWrapper`][syllabus.core.ray_sync.RaySyncWrapper]; the actor is looked up when the env is
    built, so a missing actor fails the env runner (and the algorithm's build). On evaluation env
    runners (settings with ``evaluation=True``) the env never contacts the curriculum: it cycles
    through ``evaluation_tasks`` ([`EvaluationTasks`][syllabus.integrations.rllib.EvaluationTasks]), or keeps its own default task.

    In a process forked from a Ray worker (``gym_env_vectorize_mode="async"``) the training env
    raises [`CurriculumConnectionError`][syllabus.core.errors.CurriculumConnectionError] at its first reset, with the fix.

    Args:
        env_factory: Builds one task env from RLlib's ``EnvContext``.

    Returns:
        The env creator.
    """
    return _EnvCreator(env_factory)


# --------------------------------------------------------------------------- callback
class CurriculumCallback(RLlibCallback):
    """Connects an RLlib algorithm to its curriculum; added by [`configure_curriculum`][syllabus.integrations.rllib.configure_curriculum].

    * When the algorithm is built (``on_algorithm_init``): attaches to the curriculum actor
      ([`attach_ray_curriculum`][syllabus.core.ray_sync.attach_ray_curriculum], a handle that never kills it), so a missing
      or misnamed actor fails the build; refuses ``gym_env_vectorize_mode="async"``, evaluation
      env runners without the evaluation settings, and the PLR feeder with more than one learner;
      installs the [`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder] on the learner when ``feed_plr`` is set.
    * After every ``train()`` (``on_train_result``): puts the curriculum's metrics in
      ``result["curriculum"]``; if the curriculum failed while serving envs, ``train()`` raises
      its error.
    * When an env is created in an evaluation env runner: refuses it unless its settings say
      ``evaluation=True``, so evaluation episodes never reach the curriculum.
    """

    def __init__(self) -> None:
        super().__init__()
        self.curriculum: RayCurriculumWrapper | None = None

    def on_algorithm_init(self, *, algorithm: Algorithm, metrics_logger: Any = None, **kwargs: Any) -> None:
        """Attaches to the curriculum, checks the configuration and installs the PLR feeder.

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
        self.curriculum = attach_ray_curriculum(
            settings["name"], settings["namespace"], timeout=settings["timeout"]
        )
        if settings["feed_plr"]:
            if config.num_learners > 1:
                raise CurriculumError(
                    f"the PLR feeder needs one learner to see every training episode in order, got "
                    f"num_learners={config.num_learners}: use num_learners=0 or 1"
                )
            num_lanes = max(config.num_env_runners, 1) * config.num_envs_per_env_runner
            learner_group.foreach_learner(_FeederInstaller(settings, num_lanes))

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


def _check_evaluation_settings(env_config: Any) -> None:
    if not _settings(env_config)["evaluation"]:
        raise CurriculumError(
            "evaluation env runners would send their episodes to the curriculum: their env_config lacks the "
            "Syllabus evaluation settings. Call configure_curriculum after config.evaluation(...), or set "
            "evaluation_config['env_config'] with curriculum_env_config(..., evaluation=True)"
        )


class _FeederInstaller:
    """Runs on each learner: adds the PLR feeder's two pieces around the learner connector pipeline."""

    def __init__(self, settings: dict[str, Any], num_lanes: int) -> None:
        self.settings = settings
        self.num_lanes = num_lanes

    def __call__(self, learner: Learner, _: Any = None) -> None:
        curriculum = attach_ray_curriculum(
            self.settings["name"], self.settings["namespace"], timeout=self.settings["timeout"]
        )
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
