"""Tests of RobustPPO: no gradient step on new-level (``"train": False``) episodes, PPO on the rest."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor
from timeouts import scaled

from syllabus.core import (
    Curriculum,
    DirectSyncWrapper,
    MultiProcessingSyncWrapper,
    TaskEnv,
    make_multiprocessing_curriculum,
)
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.integrations.sb3 import PLRCallback
from syllabus.integrations.sb3_robust_ppo import ReplayMaskRolloutBuffer, ReplayMaskVecEnv, RobustPPO
from syllabus.task_space import DiscreteTaskSpace

NUM_TASKS = 6


class ShortEpisodes(TaskEnv):
    """Episodes of task ``k`` last ``1 + k % 3`` steps (some a single step); the observation is the task."""

    def __init__(self, num_tasks: int = NUM_TASKS) -> None:
        super().__init__(DiscreteTaskSpace(num_tasks))
        self.observation_space = gym.spaces.Box(0.0, float(num_tasks), (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._task = 0
        self._left = 0

    def reset(self, *, seed=None, options=None, new_task=None):
        super().reset(seed=seed, options=options, new_task=new_task)
        self._left = 1 + self.task % 3
        return np.array([self.task], np.float32), {}

    def step(self, action):
        self._left -= 1
        return np.array([self.task], np.float32), float(action), self._left == 0, False, {}


class TrainOnEvenTasks(Curriculum):
    """Uniform over the tasks; a task is trained on (metadata ``"train"``) exactly when it is even."""

    def __init__(self, num_tasks: int = NUM_TASKS, train: bool | None = None) -> None:
        super().__init__(DiscreteTaskSpace(num_tasks), random_seed=0)
        self.train = train  # None: by parity; else the same for every task

    def task_distribution(self) -> np.ndarray:
        return np.full(self.num_tasks, 1.0 / self.num_tasks)

    def sample_with_metadata(self, k: int = 1) -> list[tuple[int, dict]]:
        return [
            (t, {"replay": keep, "train": keep})
            for t in self.sample(k)
            for keep in [t % 2 == 0 if self.train is None else self.train]
        ]


def _direct_venv(curriculum: Curriculum, n_envs: int = 2) -> VecMonitor:
    return VecMonitor(
        DummyVecEnv([lambda: DirectSyncWrapper(ShortEpisodes(curriculum.num_tasks), curriculum)] * n_envs)
    )


def _worker_env(task_queue, update_queue) -> gym.Env:
    return MultiProcessingSyncWrapper(ShortEpisodes(), task_queue, update_queue)


class BufferRecorder(BaseCallback):
    """Keeps each full rollout's train masks and tasks (the observations of ShortEpisodes)."""

    def __init__(self) -> None:
        super().__init__()
        self.masks: list[np.ndarray] = []
        self.tasks: list[np.ndarray] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.rollout_buffer
        self.masks.append(buffer.train_masks.copy())
        self.tasks.append(buffer.observations[..., 0].copy())


def _params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.policy.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _silent_logger() -> Logger:
    return Logger(folder=None, output_formats=[])


# ------------------------------------------------------------------ the replay mask
@pytest.mark.timeout(120)
def test_buffer_masks_follow_each_episodes_metadata_through_multiprocessing_sync():
    """Steps of odd tasks (metadata train=False) are masked out, 1-step episodes included, with
    SubprocVecEnv (whose reset_infos hold only the envs that just reset)."""
    wrapper, task_queue, update_queue = make_multiprocessing_curriculum(
        TrainOnEvenTasks(), timeout=scaled(30)
    )
    venv = SubprocVecEnv([lambda: _worker_env(task_queue, update_queue)] * 3)
    try:
        model = RobustPPO("MlpPolicy", venv, n_steps=40, batch_size=20, n_epochs=1, seed=0)
        recorder = BufferRecorder()
        model.learn(360, callback=recorder)
    finally:
        venv.close()
        wrapper.close()
    masks, tasks = np.concatenate(recorder.masks), np.concatenate(recorder.tasks)
    assert masks.shape == (120, 3)  # three rollouts of 40 steps
    np.testing.assert_array_equal(masks, tasks % 2 == 0)
    assert 0 < masks.mean() < 1


def test_env_wrapper_reads_the_mask_of_each_new_episode():
    venv = ReplayMaskVecEnv(_direct_venv(TrainOnEvenTasks(), n_envs=4))
    obs = venv.reset()
    np.testing.assert_array_equal(venv.episode_masks, obs[:, 0] % 2 == 0)
    for _ in range(10):
        before = venv.episode_masks.copy()
        obs, _, dones, _ = venv.step(np.zeros(4, dtype=np.int64))
        np.testing.assert_array_equal(venv.step_masks, before)
        np.testing.assert_array_equal(venv.episode_masks[dones], obs[dones, 0] % 2 == 0)
    venv.close()


# -------------------------------------------------------------------- the updates
def test_a_rollout_of_only_new_levels_leaves_parameters_and_optimizer_state_unchanged():
    model = RobustPPO(
        "MlpPolicy", _direct_venv(TrainOnEvenTasks(train=True)), n_steps=16, batch_size=8, seed=0
    )
    model.learn(32)  # trains: the optimizer now has moments and a step count
    assert model.policy.optimizer.state
    params, optimizer = _params(model), copy.deepcopy(model.policy.optimizer.state_dict())

    model.set_env(_direct_venv(TrainOnEvenTasks(train=False)))
    model.learn(32)  # resets the env: every episode of this rollout is a new level

    assert not model.rollout_buffer.train_masks.any()
    assert model.logger.name_to_value["train/kept_fraction"] == 0.0
    assert _same(_params(model), params)
    after = model.policy.optimizer.state_dict()
    assert after["param_groups"] == optimizer["param_groups"]
    for key, state in optimizer["state"].items():
        for name, value in state.items():
            assert torch.equal(after["state"][key][name], value), (key, name)


def _fill(buffer, data: dict[str, np.ndarray]) -> None:
    buffer.reset()
    for name, value in data.items():
        setattr(buffer, name, value.astype(getattr(buffer, name).dtype).reshape(getattr(buffer, name).shape))
    buffer.pos, buffer.full = buffer.buffer_size, True


def _rollout(rng: np.random.Generator, n_steps: int, n_envs: int) -> dict[str, np.ndarray]:
    shape = (n_steps, n_envs)
    return {
        "observations": rng.normal(size=(*shape, 4)),
        "actions": rng.integers(0, 2, size=(*shape, 1)),
        "values": rng.normal(size=shape),
        "log_probs": np.log(rng.uniform(0.3, 0.7, size=shape)),
        "advantages": rng.normal(size=shape),
        "returns": rng.normal(size=shape),
    }


def _trained(model, data: dict[str, np.ndarray], train_masks: np.ndarray | None = None) -> PPO:
    _fill(model.rollout_buffer, data)
    if train_masks is not None:
        model.rollout_buffer.train_masks = train_masks
    model.set_logger(_silent_logger())
    model.train()
    return model


def test_masked_update_equals_ppo_on_only_the_kept_steps():
    """Losses, entropy and advantage normalization over the kept steps: the same update and logged
    losses as PPO given a buffer that holds only those steps."""
    rng = np.random.default_rng(0)
    n_steps, n_envs = 12, 2
    data = _rollout(rng, n_steps, n_envs)
    masks = rng.random((n_steps, n_envs)) < 0.5
    kept = {name: value[masks][:, None] for name, value in data.items()}  # (n_kept, 1 env, ...)
    n_kept = int(masks.sum())
    assert 0 < n_kept < n_steps * n_envs

    def make(cls, n_steps, n_envs, batch_size):
        env = DummyVecEnv([lambda: gym.make("CartPole-v1")] * n_envs)
        return cls("MlpPolicy", env, n_steps=n_steps, batch_size=batch_size, n_epochs=3, seed=0)

    robust = make(RobustPPO, n_steps, n_envs, batch_size=n_steps * n_envs)
    on_kept = make(PPO, n_kept, 1, batch_size=n_kept)
    on_all = make(PPO, n_steps, n_envs, batch_size=n_steps * n_envs)
    start = robust.policy.state_dict()
    for model in (on_kept, on_all):
        model.policy.load_state_dict(start)

    _trained(robust, data, masks)
    _trained(on_kept, kept)
    _trained(on_all, data)

    for a, b in zip(_params(robust), _params(on_kept), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for key in ("train/policy_gradient_loss", "train/value_loss", "train/entropy_loss", "train/approx_kl"):
        assert robust.logger.name_to_value[key] == pytest.approx(on_kept.logger.name_to_value[key], rel=1e-5)
    assert robust.logger.name_to_value["train/kept_fraction"] == pytest.approx(n_kept / (n_steps * n_envs))
    assert not _same(_params(robust), _params(on_all))  # the masked-out steps did matter


def test_minibatches_hold_only_kept_steps_and_are_never_larger_than_batch_size():
    rng = np.random.default_rng(1)
    space = gym.spaces.Box(-1, 1, (4,), np.float32)
    buffer = ReplayMaskRolloutBuffer(16, space, gym.spaces.Discrete(2), n_envs=4)
    data = _rollout(rng, 16, 4)
    data["observations"] = np.arange(64, dtype=np.float32).reshape(16, 4, 1).repeat(4, axis=2)  # step ids
    _fill(buffer, data)
    buffer.train_masks = rng.random((16, 4)) < 0.6
    batches = [batch.observations[:, 0].long().tolist() for batch in buffer.get(batch_size=10)]
    expected = np.arange(64).reshape(16, 4)[buffer.train_masks]
    assert sorted(i for batch in batches for i in batch) == sorted(expected.tolist())
    assert len(batches) == -(-len(expected) // 10)
    assert max(map(len, batches)) <= 10 and max(map(len, batches)) - min(map(len, batches)) <= 1


def test_without_metadata_robust_ppo_trains_exactly_like_ppo():
    def learned(cls):
        model = cls(
            "MlpPolicy", DummyVecEnv([lambda: gym.make("CartPole-v1")] * 2), n_steps=32, batch_size=16, seed=3
        )
        return model.learn(128)

    robust, ppo = learned(RobustPPO), learned(PPO)
    assert robust.rollout_buffer.train_masks.all()
    assert _same(_params(robust), _params(ppo))


def test_mixed_rollouts_of_robust_plr_train_and_still_score_new_levels():
    plr = PrioritizedLevelReplay(
        DiscreteTaskSpace(50), robust=True, replay_schedule="fixed", rho=0.0, replay_prob=0.5, random_seed=0
    )
    model = RobustPPO("MlpPolicy", _direct_venv(plr, n_envs=4), n_steps=32, batch_size=32, seed=0)
    params = _params(model)
    model.learn(256, callback=PLRCallback(plr))
    masks = model.rollout_buffer.train_masks
    assert 0 < masks.mean() < 1, masks.mean()  # replayed and new levels in one rollout
    assert not _same(_params(model), params)
    assert np.isfinite(plr.scores).sum() > 1  # new levels were scored from the masked-out steps


def test_save_and_load_keep_the_masking(tmp_path):
    model = RobustPPO("MlpPolicy", _direct_venv(TrainOnEvenTasks()), n_steps=16, batch_size=8, seed=0)
    model.save(tmp_path / "model.zip")
    loaded = RobustPPO.load(tmp_path / "model.zip", env=_direct_venv(TrainOnEvenTasks()))
    assert isinstance(loaded.rollout_buffer, ReplayMaskRolloutBuffer)
    loaded.learn(16)
    assert not loaded.rollout_buffer.train_masks.all()


def test_other_rollout_buffers_and_dict_observations_are_rejected():
    with pytest.raises(TypeError, match="ReplayMaskRolloutBuffer"):
        RobustPPO("MlpPolicy", "CartPole-v1", rollout_buffer_class=RolloutBuffer)
    env = gym.wrappers.TransformObservation(
        gym.make("CartPole-v1"),
        lambda obs: {"state": obs},
        gym.spaces.Dict({"state": gym.make("CartPole-v1").observation_space}),
    )
    with pytest.raises(TypeError, match="Dict observation"):
        RobustPPO("MultiInputPolicy", env)


@pytest.mark.parametrize(("curriculum", "expected"), [("robust_plr", RobustPPO), ("plr", PPO), ("dr", PPO)])
def test_the_runner_uses_robust_ppo_exactly_for_robust_plr(curriculum, expected):
    from hydra import compose, initialize_config_dir
    from syllabus.cli.hydra_app import CONFIG_DIR
    from syllabus.cli.learners.sb3 import make_ppo
    from syllabus.cli.schema import validate

    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        run = validate(compose("train", overrides=[f"curriculum={curriculum}", "num_envs=1"]))
    model = make_ppo(run, DummyVecEnv([lambda: gym.make("CartPole-v1")]))
    assert type(model) is expected
