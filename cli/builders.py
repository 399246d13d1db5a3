"""From a validated config to objects: task envs, the curriculum, the vector env and the learner.

The chain is config -> task env factory -> sync wrapper -> vector env -> learner. The sync backend
decides the vector env and the wrapper in one place, :func:`open_environments`.
"""

from __future__ import annotations

import importlib
import logging
import math
import multiprocessing
import os
import secrets
import signal
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym

from cli.schema import (
    CartPoleEnvConfig,
    ConfigError,
    MiniGridEnvConfig,
    ProcgenEnvConfig,
    RaySyncConfig,
    RunConfig,
    SB3PPOConfig,
)
from syllabus.core import (
    Curriculum,
    MultiProcessingSyncWrapper,
    RaySyncWrapper,
    make_multiprocessing_curriculum,
    make_ray_curriculum,
)
from syllabus.core.direct_sync import DirectSyncWrapper
from syllabus.task_space import DiscreteTaskSpace, TaskSpace

EXTRAS = {"procgen": "procgen", "minigrid": "minigrid"}
RAY_CLIENT_PORT = 10001
PROBE_TIMEOUT = 10.0  # seconds to wait for a TCP answer from sync.address (Ray itself retries for minutes)

logger = logging.getLogger("syllabus.train")


class MissingDependencyError(RuntimeError):
    """An optional dependency of the chosen config is not installed; the message names the extra."""


# ------------------------------------------------------------------------- tasks


def task_space_of(env_cfg: Any, *, evaluation: bool = False) -> TaskSpace:
    """The task space of an env config (its held-out tasks with ``evaluation=True``), without building the env."""
    if isinstance(env_cfg, CartPoleEnvConfig):
        tasks = env_cfg.eval_tasks if evaluation and env_cfg.eval_tasks else env_cfg.tasks
        return DiscreteTaskSpace([float(t) for t in tasks])
    if isinstance(env_cfg, ProcgenEnvConfig):
        level_task_space = _import_env("procgen", "level_task_space")
        return level_task_space(*_procgen_levels(env_cfg, evaluation))
    if isinstance(env_cfg, MiniGridEnvConfig):
        if evaluation and env_cfg.eval_tasks:
            return DiscreteTaskSpace(list(env_cfg.eval_tasks))
        return DiscreteTaskSpace(list(env_cfg.env_ids if env_cfg.env_ids else env_cfg.seeds))
    raise ConfigError(f"no task space for env config {env_cfg!r}")


def _procgen_levels(env_cfg: ProcgenEnvConfig, evaluation: bool) -> tuple[int, int]:
    if evaluation:
        return env_cfg.start_level + env_cfg.num_levels, env_cfg.eval_num_levels
    return env_cfg.start_level, env_cfg.num_levels


def make_task_env(env_cfg: Any, *, evaluation: bool = False) -> gym.Env:
    """Builds the task env of ``env_cfg`` (over its held-out tasks with ``evaluation=True``)."""
    if isinstance(env_cfg, CartPoleEnvConfig):
        from syllabus.envs.cartpole import make_cartpole

        return make_cartpole(task_space_of(env_cfg, evaluation=evaluation))
    if isinstance(env_cfg, ProcgenEnvConfig):
        make_procgen = _import_env("procgen", "make_procgen")
        first, count = _procgen_levels(env_cfg, evaluation)
        return make_procgen(
            game=env_cfg.game,
            num_levels=count,
            start_level=first,
            distribution_mode=env_cfg.distribution_mode,
        )
    if isinstance(env_cfg, MiniGridEnvConfig):
        make_minigrid = _import_env("minigrid", "make_minigrid")
        if evaluation and env_cfg.eval_tasks:
            if env_cfg.env_ids:
                return make_minigrid(env_ids=list(env_cfg.eval_tasks))
            return make_minigrid(env_id=env_cfg.env_id, seeds=list(env_cfg.eval_tasks))
        return make_minigrid(env_ids=env_cfg.env_ids, env_id=env_cfg.env_id, seeds=env_cfg.seeds)
    raise ConfigError(f"cannot build an env from {env_cfg!r}")


def _import_env(name: str, attribute: str) -> Any:
    """``attribute`` of ``syllabus.envs.<name>``, after checking that the env's package imports."""
    try:
        module = importlib.import_module(f"syllabus.envs.{name}")
        getattr(module, f"import_{name}")()
    except ImportError as exc:
        hint = (
            ""
            if "pip install" in str(exc)
            else f'; install it with: pip install "syllabus-rl[{EXTRAS[name]}]"'
        )
        raise MissingDependencyError(f"env={name} needs an optional dependency: {exc}{hint}") from None
    return getattr(module, attribute)


def check_env_config(env_cfg: Any) -> None:
    """Checks what the schema's types cannot (e.g. that MiniGrid gets one kind of task list) and that
    the env's optional package is installed."""
    for name in EXTRAS:
        if getattr(env_cfg, "name", None) == name:
            _import_env(name, f"import_{name}")
    if isinstance(env_cfg, MiniGridEnvConfig):
        if bool(env_cfg.env_ids) == bool(env_cfg.seeds):
            raise ConfigError(
                "env (minigrid): give either env.env_ids (a list of env ids) or env.env_id with env.seeds, "
                f"got env_ids={env_cfg.env_ids!r}, seeds={env_cfg.seeds!r}"
            )
        if env_cfg.seeds and not env_cfg.env_id:
            raise ConfigError(
                "env (minigrid): env.seeds needs env.env_id (the env whose seeds are the tasks)"
            )
    if isinstance(env_cfg, ProcgenEnvConfig):
        for key in ("num_levels", "eval_num_levels"):
            if getattr(env_cfg, key) < 1:
                raise ConfigError(f"env.{key} must be >= 1, got {getattr(env_cfg, key)}")
        if env_cfg.start_level < 0:
            raise ConfigError(f"env.start_level must be >= 0, got {env_cfg.start_level}")
    if isinstance(env_cfg, CartPoleEnvConfig) and not env_cfg.tasks:
        raise ConfigError("env.tasks must list at least one initial-state half-width, got []")


# -------------------------------------------------------------------- curriculum


def make_curriculum(run: RunConfig, task_space: TaskSpace) -> Curriculum | None:
    """Builds the curriculum of ``run`` (``None`` for ``curriculum=none``), seeded with ``run.seed``."""
    from syllabus.curricula import (
        Constant,
        DomainRandomization,
        Learnability,
        LearningProgress,
        PrioritizedLevelReplay,
        SequentialCurriculum,
    )

    cfg = run.curriculum
    common = {"random_seed": run.seed, "record_stats": True}
    n = task_space.num_tasks
    try:
        if cfg.name == "none":
            return None
        if cfg.name == "constant":
            if not 0 <= cfg.task_index < n:
                raise ConfigError(
                    f"curriculum.task_index must be in [0, {n - 1}] (the env's tasks), got {cfg.task_index}"
                )
            return Constant(task_space.decode(cfg.task_index), task_space, **common)
        if cfg.name == "dr":
            return DomainRandomization(task_space, **common)
        if cfg.name == "sequential":
            return SequentialCurriculum(
                _prefix_stages(cfg.stage_fractions, task_space),
                task_space,
                list(cfg.stopping_conditions),
                return_window=cfg.return_window,
                **common,
            )
        if cfg.name in ("plr", "robust_plr"):
            params = {k: v for k, v in vars(cfg).items() if k != "name"}
            return PrioritizedLevelReplay(task_space, **params, **common)
        if cfg.name == "lp":
            return LearningProgress(
                task_space,
                ema_alpha=cfg.ema_alpha,
                p_theta=cfg.p_theta,
                eps=cfg.eps,
                success_threshold=cfg.success_threshold,
                **common,
            )
        if cfg.name == "learnability":
            return Learnability(
                task_space,
                top_k=cfg.top_k,
                eps=cfg.eps,
                ema_alpha=cfg.ema_alpha,
                success_threshold=cfg.success_threshold,
                **common,
            )
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"curriculum ({cfg.name}): {exc}") from None
    raise ConfigError(f"curriculum.name: no builder for {cfg.name!r}")


def _prefix_stages(fractions: list[float], task_space: TaskSpace) -> list[list[Any]]:
    n = task_space.num_tasks
    stages = []
    for i, fraction in enumerate(fractions):
        if not 0.0 < fraction <= 1.0:
            raise ConfigError(f"curriculum.stage_fractions[{i}] must be in (0, 1], got {fraction}")
        stages.append([task_space.decode(j) for j in range(math.ceil(fraction * n))])
    return stages


def takes_learner_updates(run: RunConfig) -> bool:
    """Whether the curriculum learns from the learner's rollouts (value predictions), i.e. PLR."""
    return run.curriculum.name in ("plr", "robust_plr")


# ---------------------------------------------------------------------- env side


class TaskInfoWrapper(gym.Wrapper):
    """Puts the env's current task in the reset ``info["task"]`` when no sync wrapper does (``curriculum=none``)."""

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        info["task"] = self.env.get_wrapper_attr("task")
        return obs, info


def _worker_env(env_cfg: Any, task_queue: Any, update_queue: Any) -> gym.Env:
    """Env factory run in each SubprocVecEnv worker; the learner alone handles Ctrl-C and closes workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    env = make_task_env(env_cfg)
    if task_queue is None:
        return TaskInfoWrapper(env)
    return MultiProcessingSyncWrapper(env, task_queue, update_queue)


def _direct_env(env_cfg: Any, curriculum: Curriculum | None) -> gym.Env:
    """Env factory of ``sync=none``: the curriculum is called in this process."""
    env = make_task_env(env_cfg)
    return TaskInfoWrapper(env) if curriculum is None else DirectSyncWrapper(env, curriculum)


def _ray_env(
    env_cfg: Any, actor: Any, curriculum_name: str, namespace: str | None, timeout: float
) -> gym.Env:
    """Env factory of ``sync=ray``, run in each RayVecEnv actor; ``actor`` is the curriculum's (or None)."""
    env = make_task_env(env_cfg)
    if actor is None:
        return TaskInfoWrapper(env)
    return RaySyncWrapper(env, curriculum_name, namespace, actor=actor, timeout=timeout)


def check_sync_config(sync: Any) -> None:
    """Checks that the sync backend's optional package is installed (Ray for ``sync=ray``) and that
    something answers at ``sync.address`` (``auto`` is left to Ray)."""
    if not isinstance(sync, RaySyncConfig):
        return
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f'sync=ray needs an optional dependency: {exc}; install it with: pip install "syllabus-rl[ray]"'
        ) from None
    if sync.address in (None, "auto"):
        return
    host, _, port = sync.address.removeprefix("ray://").partition(":")
    try:
        socket.create_connection((host, int(port or RAY_CLIENT_PORT)), timeout=PROBE_TIMEOUT).close()
    except OSError as exc:
        raise ConfigError(
            f"sync.address={sync.address!r}: nothing answers at {host}:{port or RAY_CLIENT_PORT} within "
            f"{PROBE_TIMEOUT:g} s ({exc}); start a Ray cluster there (`ray start --head`) or use "
            "sync.address=null for a local Ray"
        ) from None


def connect_ray(sync: RaySyncConfig) -> Callable[[], None] | None:
    """Starts a local Ray (``sync.address: null``) or joins the cluster at ``sync.address``.

    Reuses a Ray this process already initialized (e.g. a launcher's). A local Ray gets an auth token
    in the environment unless the user has one, so Ray writes none under the home directory.

    Returns:
        ``ray.shutdown`` (stops a local Ray; only disconnects from a cluster), or ``None`` when Ray was
        already initialized and stays as it was.

    Raises:
        ConfigError: No Ray cluster answers at ``sync.address``.
    """
    import ray

    if ray.is_initialized():
        logger.info("using the Ray this process is already connected to; sync.address is not used")
        return None
    if sync.address is None:
        if os.environ.get("RAY_AUTH_MODE", "token").lower() == "token" and not (
            os.environ.get("RAY_AUTH_TOKEN")
            or os.environ.get("RAY_AUTH_TOKEN_PATH")
            or (Path.home() / ".ray" / "auth_token").exists()
        ):
            os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(16)  # Ray caches it: kept for the process
        ray.init(num_cpus=sync.num_cpus, include_dashboard=False, logging_level=logging.WARNING)
        return ray.shutdown
    try:
        ray.init(address=sync.address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0].rstrip(".")
        if exc.__cause__ is not None:  # e.g. Ray's AuthenticationError, which says what to set
            reason += f" ({str(exc.__cause__).strip().splitlines()[0]})"
        raise ConfigError(
            f"sync.address={sync.address!r}: cannot join a Ray cluster there: {reason}. Start one (`ray start "
            "--head`), or use sync.address=null for a local Ray"
        ) from None
    return ray.shutdown


@dataclass
class Environments:
    """The vector env of a run and the learner-side curriculum (the object to update, save and log).

    Close it (or use ``with``) to close the envs, then the curriculum's sync machinery.
    """

    venv: Any
    curriculum: Any
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Closes everything that was opened, in reverse order; idempotent."""
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> Environments:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def start_worker_server(run: RunConfig) -> None:
    """Starts the forkserver of ``sync=multiprocessing`` now, with SB3's worker and this module imported.

    Workers then fork ready-made instead of each importing torch (seconds per worker), and the
    server's imports overlap with the learner's own.
    """
    if run.sync.name != "multiprocessing":
        return
    if multiprocessing.get_start_method(allow_none=True) not in (None, "fork", "forkserver", "spawn"):
        # A launcher's worker (joblib's loky) sets its own default context, which env workers, started
        # from here, cannot resolve; they use the standard one the config names.
        multiprocessing.set_start_method(run.sync.start_method, force=True)
    if run.sync.start_method == "forkserver":
        from multiprocessing import forkserver

        multiprocessing.set_forkserver_preload(
            ["cli", "stable_baselines3.common.vec_env.subproc_vec_env", __name__]
        )
        forkserver.ensure_running()


def open_environments(run: RunConfig, curriculum: Curriculum | None) -> Environments:
    """Builds the vector env for ``run.sync`` with every env synced to ``curriculum``.

    ``sync=multiprocessing``: SB3 ``SubprocVecEnv`` with :class:`MultiProcessingSyncWrapper` envs;
    ``sync=ray``: :class:`RayVecEnv` of :class:`RaySyncWrapper` envs, the curriculum a Ray actor
    (:func:`connect_ray` first); ``sync=none``: SB3 ``DummyVecEnv`` with :class:`DirectSyncWrapper`
    envs (deterministic). The vector env is wrapped in ``VecMonitor`` for episode statistics.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    envs = Environments(venv=None, curriculum=curriculum)
    try:
        if run.sync.name == "multiprocessing":
            start_worker_server(run)
            task_queue = update_queue = None
            if curriculum is not None:
                wrapper, task_queue, update_queue = make_multiprocessing_curriculum(
                    curriculum, timeout=run.sync.timeout
                )
                envs.curriculum = wrapper
                envs._closers.append(wrapper.close)
            factory = partial(_worker_env, run.env, task_queue, update_queue)
            venv = SubprocVecEnv([factory] * run.num_envs, start_method=run.sync.start_method)
        elif run.sync.name == "ray":
            disconnect = connect_ray(run.sync)
            if disconnect is not None:
                envs._closers.append(disconnect)
            from syllabus.integrations.ray_vec_env import RayVecEnv

            name = run.sync.curriculum_name or f"syllabus-curriculum-{uuid.uuid4().hex[:12]}"
            actor = None
            if curriculum is not None:
                wrapper = make_ray_curriculum(curriculum, name, run.sync.namespace, timeout=run.sync.timeout)
                envs.curriculum, actor = wrapper, wrapper.actor
                envs._closers.append(wrapper.close)
            factory = partial(_ray_env, run.env, actor, name, run.sync.namespace, run.sync.timeout)
            venv = RayVecEnv([factory] * run.num_envs, num_cpus=run.sync.env_num_cpus)
        elif run.sync.name == "none":
            venv = DummyVecEnv([partial(_direct_env, run.env, curriculum)] * run.num_envs)
        else:
            raise ConfigError(f"sync.name: no builder for sync backend {run.sync.name!r}")
        envs._closers.append(venv.close)
        envs.venv = VecMonitor(venv)
    except BaseException:
        envs.close()
        raise
    return envs


# ----------------------------------------------------------------------- learner


def make_learner(run: RunConfig, venv: Any) -> Any:
    """Builds the SB3 PPO learner of ``run`` on ``venv``, seeded with ``run.seed``."""
    from stable_baselines3 import PPO

    cfg = run.learner
    if not isinstance(cfg, SB3PPOConfig):
        raise ConfigError(f"learner.name: no builder for {cfg.name!r}")
    set_torch_threads(cfg)
    return PPO(policy_for(cfg, venv.observation_space), venv, **ppo_kwargs(run), seed=run.seed, verbose=0)


def set_torch_threads(cfg: SB3PPOConfig) -> None:
    """Applies ``learner.num_threads`` (0: torch's default)."""
    import torch

    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)


def ppo_kwargs(run: RunConfig) -> dict[str, Any]:
    """Keyword arguments of SB3 ``PPO`` from the learner config (minibatch size from ``n_minibatches``)."""
    cfg = run.learner
    return {
        "learning_rate": cfg.learning_rate,
        "n_steps": cfg.n_steps,
        "batch_size": cfg.n_steps * run.num_envs // cfg.n_minibatches,
        "n_epochs": cfg.n_epochs,
        "gamma": cfg.gamma,
        "gae_lambda": cfg.gae_lambda,
        "clip_range": cfg.clip_range,
        "ent_coef": cfg.ent_coef,
        "vf_coef": cfg.vf_coef,
        "max_grad_norm": cfg.max_grad_norm,
        "normalize_advantage": cfg.normalize_advantage,
        "policy_kwargs": dict(cfg.policy_kwargs) or None,
        "device": cfg.device,
    }


def policy_for(cfg: SB3PPOConfig, observation_space: gym.Space) -> str:
    """The SB3 policy name: ``CnnPolicy`` for image observations when ``policy: auto``, else ``MlpPolicy``."""
    if cfg.policy != "auto":
        return cfg.policy
    from stable_baselines3.common.preprocessing import is_image_space

    return "CnnPolicy" if is_image_space(observation_space, check_channels=False) else "MlpPolicy"


def learner_callbacks(run: RunConfig, curriculum: Any) -> list[Any]:
    """SB3 callbacks the curriculum needs: the PLR callback feeds PLR value predictions."""
    if curriculum is None or not takes_learner_updates(run):
        return []
    from syllabus.integrations.sb3 import PLRCallback

    return [PLRCallback(curriculum)]
