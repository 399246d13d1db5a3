"""``learner=rllib_ppo``: RLlib PPO (new API stack) on RLlib env runners, with ``sync=ray``.

The run's Ray ([`syllabus.cli.ray_cluster`][syllabus.cli.ray_cluster]: a private local Ray, or the cluster at
``sync.address``) hosts the curriculum actor and RLlib's env runners. Each training env runner
builds its task envs wrapped in [`RaySyncWrapper`][syllabus.core.ray.env_wrapper.RaySyncWrapper], so every training episode
reaches the curriculum; evaluation env runners play the held-out tasks in turn and never touch
it; PLR gets PPO's own value estimates through the feeder of [`syllabus.integrations.rllib`][syllabus.integrations.rllib],
which sets all of this up ([`configure_curriculum`][syllabus.integrations.rllib.configure_curriculum]).

A checkpoint holds RLlib's checkpoint of the algorithm (``rllib/``: modules, optimizer, env
runner states) next to the curriculum and trainer state that every learner saves.
"""

from __future__ import annotations

import functools
import logging
import uuid
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from syllabus.cli.builders import make_task_env, takes_learner_updates, task_space_of
from syllabus.cli.callbacks import RunCallback
from syllabus.cli.env_factories import TaskInfoWrapper
from syllabus.cli.learners.base import Learner
from syllabus.cli.learners.entries import RLlibPPOConfig
from syllabus.cli.ray_cluster import connect_ray, curriculum_actor_name, curriculum_actor_options
from syllabus.cli.run_dir import CheckpointError, TrainerState
from syllabus.cli.schema import RunConfig

RLLIB_DIR = "rllib"
"""RLlib's checkpoint of the algorithm inside a checkpoint directory."""
MODULE_PATH = ("learner_group", "learner", "rl_module", "default_policy")
"""Where the policy's RLModule sits inside RLlib's checkpoint."""
EPISODES_KEY = ("syllabus", "episodes")
"""Metrics key under which env runners report finished training episodes to the driver."""

logger = logging.getLogger("syllabus.train")


class RLlibLearner(Learner):
    """RLlib PPO and its env runners, with the curriculum as a Ray actor on the driver's node.

    Args:
        run: The run's config.
        algo: The built (or restored) RLlib PPO algorithm.
        curriculum: The learner-side curriculum wrapper (``None`` without a curriculum).
        steps: Env steps trained before this session (resumed runs).
        closers: What [`close`][syllabus.cli.learners.rllib.RLlibLearner.close] calls, in reverse order (curriculum actor, Ray).
    """

    def __init__(self, run: RunConfig, algo: Any, curriculum: Any, steps: int, closers: list[Any]) -> None:
        self.run = run
        self.algo = algo
        self.curriculum = curriculum
        self._steps = steps
        self._closers = closers

    @classmethod
    def open(
        cls, run: RunConfig, curriculum: Any, checkpoint: Path | None, state: TrainerState
    ) -> RLlibLearner:
        """Starts (or joins) Ray, serves the curriculum as an actor and builds PPO's env runners."""

        closers: list[Any] = []
        try:
            disconnect = connect_ray(run.sync)
            if disconnect is not None:
                closers.append(disconnect)
            seed = run.seed + state.num_timesteps  # a resumed run does not replay its first episodes
            algo = ppo_config(run, curriculum, seed).build_algo()
            closers.append(algo.stop)  # stops the env runners, then the algorithm's curriculum actor
            wrapper = None
            if curriculum is not None:
                from syllabus.integrations.rllib import curriculum_of

                wrapper = curriculum_of(algo)
            if checkpoint is not None:
                algo.restore_from_path(str((checkpoint / RLLIB_DIR).resolve()))
                if (
                    wrapper is not None
                ):  # the run's curriculum.pkl, saved after RLlib's copy, is the one to resume
                    wrapper.load_state_dict(curriculum.state_dict())
                _push_weights_to_env_runners(algo)
                state.restore_rng()
        except BaseException:
            for close in reversed(closers):
                close()
            raise
        return cls(run, algo, wrapper, state.num_timesteps, closers)

    @property
    def num_timesteps(self) -> int:
        return self._steps

    def learn(self, total_timesteps: int, callback: RunCallback) -> None:
        """Runs ``algo.train()`` iterations until the budget is reached or ``callback`` asks to stop.

        Episodes finished in an iteration are logged at the step count after it; checkpoints are
        due between iterations, when the modules have trained on every step counted.
        """
        from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, EVALUATION_RESULTS, NUM_ENV_STEPS_SAMPLED

        callback.begin(self._steps)
        while self._steps < total_timesteps and not callback.stop.is_set():  # Ctrl-C while starting up
            result = self.algo.train()
            runners = result.get(ENV_RUNNER_RESULTS, {})
            self._steps += int(runners.get(NUM_ENV_STEPS_SAMPLED, 0))
            for env_id, task, episode_return, length in _nested(runners, EPISODES_KEY):
                callback.record_episode(self._steps, env_id, task, episode_return, length)
            evaluation = result.get(EVALUATION_RESULTS, {}).get(ENV_RUNNER_RESULTS)
            interval = self.run.learner.evaluation_interval
            if evaluation and interval and result.get("training_iteration", 0) % interval == 0:
                logger.info(
                    "evaluation at step %d: return %.2f over %s episodes",
                    self._steps,
                    evaluation.get("episode_return_mean", float("nan")),
                    evaluation.get("num_episodes", "?"),
                )
            if not callback.advance(self._steps):
                return
            callback.checkpoint_if_due()

    def save(self, directory: Path) -> None:
        self.algo.save_to_path(str((directory / RLLIB_DIR).resolve()))

    @classmethod
    def verify(cls, checkpoint: Path) -> None:
        path = checkpoint.joinpath(RLLIB_DIR, *MODULE_PATH)
        if not path.is_dir() or not any(path.iterdir()):
            raise CheckpointError(
                f"checkpoint {checkpoint} is incomplete: it has no RLlib policy (looked for {path}); delete that "
                "checkpoint directory to use an earlier one"
            )

    @classmethod
    def load_policy(cls, run: RunConfig, checkpoint: Path) -> RLlibPolicy:
        """The policy's RLModule from RLlib's checkpoint (no Ray, no env runners)."""
        from ray.rllib.core.rl_module import RLModule

        _set_torch_threads(run.learner)
        path = checkpoint.joinpath(RLLIB_DIR, *MODULE_PATH)
        if not path.is_dir():
            raise FileNotFoundError(f"{checkpoint} has no RLlib policy (looked for {path})")
        return RLlibPolicy(RLModule.from_checkpoint(str(path.resolve())))

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()


class RLlibPolicy:
    """An RLlib RLModule acting in a single task env."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def act(self, obs: Any, *, deterministic: bool) -> Any:
        import torch

        with torch.no_grad():
            batch = torch.as_tensor(float_observation(np.asarray(obs))[None])
            out = self.module.forward_inference({"obs": batch})
        dist = self.module.get_inference_action_dist_cls().from_logits(out["action_dist_inputs"])
        if deterministic:
            dist = dist.to_deterministic()
        action = dist.sample()[0].numpy()
        return action.item() if action.shape == () else action


def _push_weights_to_env_runners(algo: Any) -> None:
    """Sets the learner's restored weights in every env runner, and waits until they have them.

    ``restore_from_path`` only queues that update (and env runners skip it when their weights'
    sequence number is not behind), so the first iteration after a resume could sample with the
    freshly initialized weights.
    """
    from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_RL_MODULE

    weights = algo.learner_group.get_state(
        components=[f"{COMPONENT_LEARNER}/{COMPONENT_RL_MODULE}"], inference_only=True
    )[COMPONENT_LEARNER][COMPONENT_RL_MODULE]
    # Without a sequence number, set_state always applies the weights.
    algo.env_runner_group.foreach_env_runner(lambda runner: runner.set_state({COMPONENT_RL_MODULE: weights}))


def _nested(results: dict[str, Any], key: tuple[str, ...]) -> list[Any]:
    """The list logged under ``key`` in an iteration's env runner results (empty when nothing was)."""
    value: Any = results
    for part in key:
        value = value.get(part) if isinstance(value, dict) else None
    return list(value) if isinstance(value, list) else []


def _set_torch_threads(cfg: RLlibPPOConfig) -> None:
    import torch

    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)


def envs_per_runner(run: RunConfig) -> int:
    """Envs in each env runner: ``learner.num_envs_per_env_runner``, else ``num_envs`` spread over the runners."""
    cfg = run.learner
    return cfg.num_envs_per_env_runner or run.num_envs // max(cfg.num_env_runners, 1)


def ppo_config(run: RunConfig, curriculum: Any, seed: int) -> Any:
    """The RLlib ``PPOConfig`` of ``run``; the algorithm serves ``curriculum`` (a Curriculum) as its own actor.

    With a curriculum, [`syllabus.integrations.rllib.configure_curriculum`][syllabus.integrations.rllib.configure_curriculum] sets up the envs
    (training envs synced, evaluation envs on the held-out tasks), the curriculum callback (which
    starts the actor, named ``sync.curriculum_name`` or uniquely, placed as ``sync.curriculum_node``
    says, and puts its state into RLlib's checkpoints) and, for PLR, the feeder of PPO's value estimates.
    """
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from syllabus.cli.learners.rllib_callbacks import EpisodeReporter

    cfg = run.learner
    _set_torch_threads(cfg)
    config = (
        PPOConfig()
        .env_runners(
            num_env_runners=cfg.num_env_runners,
            num_envs_per_env_runner=envs_per_runner(run),
            num_cpus_per_env_runner=cfg.num_cpus_per_env_runner,
        )
        .training(
            train_batch_size=cfg.train_batch_size,
            minibatch_size=cfg.minibatch_size,
            num_epochs=cfg.num_epochs,
            lr=cfg.lr,
            gamma=cfg.gamma,
            lambda_=cfg.gae_lambda,
            clip_param=cfg.clip_param,
            entropy_coeff=cfg.entropy_coeff,
            vf_loss_coeff=cfg.vf_loss_coeff,
            vf_clip_param=cfg.vf_clip_param,
            grad_clip=cfg.grad_clip,
        )
        .rl_module(model_config=DefaultModelConfig(**cfg.model))
        .callbacks([EpisodeReporter])
        .debugging(seed=seed, log_level="ERROR")
    )
    if cfg.evaluation_interval:
        config = config.evaluation(
            evaluation_interval=cfg.evaluation_interval,
            evaluation_duration=cfg.evaluation_duration,
            evaluation_duration_unit="episodes",
            evaluation_num_env_runners=cfg.evaluation_num_env_runners,
            evaluation_config={"explore": False},
        )
    evaluation_tasks = task_space_of(run.env, evaluation=True).tasks
    if curriculum is None:
        return _without_curriculum(config, run.env, evaluation_tasks)
    from syllabus.integrations.rllib import configure_curriculum

    return configure_curriculum(
        config,
        TaskEnvFactory(run.env),
        curriculum,
        run.sync.namespace,
        name=curriculum_actor_name(run.sync),
        actor_options=functools.partial(curriculum_actor_options, run.sync),
        evaluation_tasks=evaluation_tasks,
        feed_plr=takes_learner_updates(run),
        timeout=run.sync.timeout,
        prefetch=cfg.prefetch,
        batch_size=cfg.batch_size,
    )


def float_observation(obs: np.ndarray) -> np.ndarray:
    """What RLlib's models read: uint8 observations as float32, images (3-d) scaled to [0, 1] like SB3 does."""
    if obs.dtype != np.uint8:
        return obs
    return obs.astype(np.float32) / 255.0 if obs.ndim == 3 else obs.astype(np.float32)


class FloatObservations(gym.ObservationWrapper):
    """Gives RLlib's models float32 observations ([`float_observation`][syllabus.cli.learners.rllib.float_observation]) instead of uint8 ones."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.observation_space
        assert isinstance(space, gym.spaces.Box) and space.dtype == np.uint8
        high = 1.0 if len(space.shape) == 3 else float(np.max(space.high))
        self.observation_space = gym.spaces.Box(0.0, high, space.shape, np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return float_observation(observation)


class TaskEnvFactory:
    """Builds the run's task env for RLlib: over the held-out tasks in evaluation env runners."""

    def __init__(self, env_cfg: Any) -> None:
        self.env_cfg = env_cfg

    def __call__(self, env_context: Any) -> gym.Env:
        from syllabus.integrations.rllib import SETTINGS_KEY

        evaluation = bool(
            (env_context.get(SETTINGS_KEY) or {}).get("evaluation") or env_context.get("evaluation")
        )
        env = make_task_env(self.env_cfg, evaluation=evaluation)
        space = env.observation_space
        if isinstance(space, gym.spaces.Box) and space.dtype == np.uint8:
            return FloatObservations(env)
        return env


class PlainEnvCreator:
    """RLlib env creator of ``curriculum=none``: the task env reporting its task, held-out tasks in evaluation."""

    def __init__(self, env_cfg: Any, evaluation_tasks: list[Any]) -> None:
        self.factory = TaskEnvFactory(env_cfg)
        self.evaluation_tasks = evaluation_tasks

    def __call__(self, env_context: Any) -> gym.Env:
        from syllabus.integrations.rllib import EvaluationTasks

        env = self.factory(env_context)
        if env_context.get("evaluation"):
            return EvaluationTasks(env, self.evaluation_tasks, offset=getattr(env_context, "worker_index", 0))
        return TaskInfoWrapper(env)


def _without_curriculum(config: Any, env_cfg: Any, evaluation_tasks: list[Any]) -> Any:
    from ray.tune.registry import register_env

    env_name = f"syllabus-{uuid.uuid4().hex[:12]}"  # registered for this Ray job only
    register_env(env_name, PlainEnvCreator(env_cfg, evaluation_tasks))
    config.environment(env=env_name, env_config={"evaluation": False})
    if config.evaluation_interval:
        config.evaluation(
            evaluation_config={**dict(config.evaluation_config or {}), "env_config": {"evaluation": True}}
        )
    return config
