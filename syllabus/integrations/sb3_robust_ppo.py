"""Robust PLR for Stable-Baselines3: PPO that takes no gradient step on new (evaluation) levels.

Robust PLR (Jiang et al., "Replay-Guided Adversarial Environment Design", NeurIPS 2021) trains the
agent only on replayed levels; episodes of new levels are played only to score them. The curriculum
([`PrioritizedLevelReplay`][syllabus.curricula.plr.plr.PrioritizedLevelReplay] with ``robust=True``) marks each sampled
task with ``{"train": False}`` for a new level, and the sync wrappers put that metadata in the
episode's reset ``info["task_metadata"]``. [`RobustPPO`][syllabus.integrations.sb3_robust_ppo.RobustPPO] reads it:

* [`ReplayMaskVecEnv`][syllabus.integrations.sb3_robust_ppo.ReplayMaskVecEnv] (wrapped around the training env by [`RobustPPO`][syllabus.integrations.sb3_robust_ppo.RobustPPO]) tracks, per env,
  whether its current episode is trained on, and the mask of the step just taken;
* [`ReplayMaskRolloutBuffer`][syllabus.integrations.sb3_robust_ppo.ReplayMaskRolloutBuffer] stores that mask for every step and yields minibatches of the
  masked-in steps only, so the policy loss, value loss, entropy term and advantage normalization of
  `stable_baselines3.PPO.train` see only those steps;
* [`RobustPPO.train`][syllabus.integrations.sb3_robust_ppo.RobustPPO.train] skips the update entirely (parameters and optimizer state untouched)
  when a rollout has no masked-in step.

The masked-out steps still reach the curriculum (e.g. through
[`PLRCallback`][syllabus.integrations.sb3.PLRCallback]): Robust PLR scores new levels from them.

Importing this module imports Stable-Baselines3 and torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import GymEnv, RolloutBufferSamples
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from syllabus.curricula.plr import replay_mask

# The arrays RolloutBuffer.get() flattens from (n_steps, n_envs, ...) to (n_envs * n_steps, ...).
_SAMPLED_ARRAYS = ("observations", "actions", "values", "log_probs", "advantages", "returns")


class ReplayMaskVecEnv(VecEnvWrapper):
    """Tracks which envs' current episodes are trained on, from their reset ``info["task_metadata"]``.

    The mask of an episode is read once, when the episode starts (at [`reset`][syllabus.integrations.sb3_robust_ppo.ReplayMaskVecEnv.reset] for every env, after
    a step for the envs that just reset), with [`replay_mask`][syllabus.curricula.plr.plr.replay_mask]: episodes
    without metadata are trained on. Reset infos are read from the innermost vector env
    (``venv.unwrapped.reset_infos``), where SB3 vector envs and [`RayVecEnv`][syllabus.integrations.ray_vec_env.RayVecEnv] keep them.

    Args:
        venv: The SB3 vector env of the training envs (its reset infos carry ``task_metadata``).

    Attributes:
        episode_masks: Per env, whether its current episode is trained on.
        step_masks: Per env, whether the step just taken (the last [`step_wait`][syllabus.integrations.sb3_robust_ppo.ReplayMaskVecEnv.step_wait]) is trained on.
    """

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self.episode_masks = np.ones(self.num_envs, dtype=bool)
        self.step_masks = np.ones(self.num_envs, dtype=bool)

    def reset(self) -> VecEnvObs:
        """Resets every env and reads the mask of every new episode."""
        obs = self.venv.reset()
        self.episode_masks = self._read_masks(range(self.num_envs))
        return obs

    def step_wait(self) -> VecEnvStepReturn:
        """Steps; records the step's masks, then reads the masks of the episodes that just started."""
        obs, rewards, dones, infos = self.venv.step_wait()
        self.step_masks = self.episode_masks.copy()
        restarted = np.flatnonzero(dones)
        if restarted.size:
            self.episode_masks[restarted] = self._read_masks(restarted.tolist())
        return obs, rewards, dones, infos

    def _read_masks(self, indices: Iterable[int]) -> np.ndarray:
        reset_infos = self.venv.unwrapped.reset_infos
        return replay_mask([reset_infos[i].get("task_metadata") for i in indices])


class ReplayMaskRolloutBuffer(RolloutBuffer):
    """A `RolloutBuffer` whose minibatches hold only the steps the learner trains on.

    `train_masks` records, at every [`add`][syllabus.integrations.sb3_robust_ppo.ReplayMaskRolloutBuffer.add], the masks given by `step_masks` (all
    steps are kept while it is ``None``). [`get`][syllabus.integrations.sb3_robust_ppo.ReplayMaskRolloutBuffer.get] shuffles the kept steps and splits them into
    ``ceil(n_kept / batch_size)`` minibatches of near-equal size (none larger than ``batch_size``, none
    left with a single step as SB3's fixed-size split can); it yields nothing when no step is kept.

    Attributes:
        train_masks: ``(buffer_size, n_envs)`` booleans, true for the steps trained on.
        step_masks: Returns, at each [`add`][syllabus.integrations.sb3_robust_ppo.ReplayMaskRolloutBuffer.add], the masks of the step being added (one per env);
            set by [`RobustPPO`][syllabus.integrations.sb3_robust_ppo.RobustPPO].
    """

    train_masks: np.ndarray
    step_masks: Callable[[], np.ndarray] | None = None

    def reset(self) -> None:
        """Empties the buffer; every step is kept until [`add`][syllabus.integrations.sb3_robust_ppo.ReplayMaskRolloutBuffer.add] says otherwise."""
        super().reset()
        self.train_masks = np.ones((self.buffer_size, self.n_envs), dtype=bool)

    def add(self, *args: Any, **kwargs: Any) -> None:
        """Adds one step of every env (as `RolloutBuffer.add`) with its replay masks.

        Args:
            args: The arguments of SB3's ``RolloutBuffer.add``.
            kwargs: The keyword arguments of SB3's ``RolloutBuffer.add``.
        """
        if self.step_masks is not None:
            self.train_masks[self.pos] = self.step_masks()
        super().add(*args, **kwargs)

    @property
    def kept_fraction(self) -> float:
        """Fraction of the buffer's steps that are trained on."""
        return float(self.train_masks.mean())

    def get(self, batch_size: int | None = None) -> Generator[RolloutBufferSamples, None, None]:
        """Yields shuffled minibatches of the kept steps (all kept steps in one when ``batch_size`` is None).

        Args:
            batch_size: Minibatch size; all kept steps in one batch when ``None``.
        """
        assert self.full, "the rollout buffer is read before it is full"
        if not self.generator_ready:
            for name in _SAMPLED_ARRAYS:
                setattr(self, name, self.swap_and_flatten(getattr(self, name)))
            self.generator_ready = True
        kept = np.flatnonzero(self.swap_and_flatten(self.train_masks))  # env-major, as the arrays above
        if kept.size == 0:
            return
        order = np.random.permutation(kept)
        n_batches = math.ceil(kept.size / (batch_size or kept.size))
        for batch in np.array_split(order, n_batches):
            yield self._get_samples(batch)


class RobustPPO(PPO):
    """PPO for Robust PLR: policy loss, value loss, entropy and advantage normalization use only the
    steps of episodes whose reset ``info["task_metadata"]`` says ``"train": True`` (or has none).

    Takes the arguments of `stable_baselines3.PPO`. The training env is wrapped in a
    [`ReplayMaskVecEnv`][syllabus.integrations.sb3_robust_ppo.ReplayMaskVecEnv] and the rollouts go to a [`ReplayMaskRolloutBuffer`][syllabus.integrations.sb3_robust_ppo.ReplayMaskRolloutBuffer]. Each epoch
    makes ``ceil(n_kept / batch_size)`` gradient steps over the kept steps; a rollout without kept
    steps makes none and leaves the optimizer untouched. Without task metadata every step is kept and
    the updates are PPO's (identical when ``n_steps * n_envs`` is a multiple of ``batch_size``).
    ``train/kept_fraction`` logs the fraction of each rollout trained on. Dict observation spaces
    are not supported.

    Load a saved model with ``RobustPPO.load`` (``PPO.load`` gives a plain PPO).

    Args:
        policy: The SB3 policy (name or class), as for ``PPO``.
        env: The training vector env; it is wrapped in a replay-mask vector env.
        rollout_buffer_class: Must be ``None`` or the replay-mask rollout buffer: only it drops the masked steps.
        kwargs: Every other ``PPO`` argument.
    """

    rollout_buffer: ReplayMaskRolloutBuffer

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        *,
        rollout_buffer_class: type[RolloutBuffer] | None = None,
        **kwargs: Any,
    ) -> None:
        if rollout_buffer_class is not None and not issubclass(rollout_buffer_class, ReplayMaskRolloutBuffer):
            raise TypeError(
                f"RobustPPO needs a ReplayMaskRolloutBuffer, got rollout_buffer_class={rollout_buffer_class!r}"
            )
        super().__init__(
            policy, env, rollout_buffer_class=rollout_buffer_class or ReplayMaskRolloutBuffer, **kwargs
        )

    @staticmethod
    def _wrap_env(env: GymEnv, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        """PPO's env wrapping, plus a [`ReplayMaskVecEnv`][syllabus.integrations.sb3_robust_ppo.ReplayMaskVecEnv] on top."""
        venv = PPO._wrap_env(env, verbose, monitor_wrapper)
        return venv if isinstance(venv, ReplayMaskVecEnv) else ReplayMaskVecEnv(venv)

    def _setup_model(self) -> None:
        if isinstance(self.observation_space, spaces.Dict):
            raise TypeError("RobustPPO does not support Dict observation spaces")
        super()._setup_model()
        self.rollout_buffer.step_masks = self._step_masks

    def _step_masks(self) -> np.ndarray:
        """The masks of the step just taken in the training env."""
        assert isinstance(self.env, ReplayMaskVecEnv), "RobustPPO's env is wrapped by _wrap_env"
        return self.env.step_masks

    def train(self) -> None:
        """PPO's update on the kept steps of the rollout; nothing at all when none is kept."""
        self.logger.record("train/kept_fraction", self.rollout_buffer.kept_fraction)
        if self.rollout_buffer.train_masks.any():
            super().train()
