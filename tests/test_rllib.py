"""RLlib integration on a real local Ray with real RLlib PPO (tiny budgets).

One Ray session serves the whole module. Ray workers import this module by name (the tests
directory is on their ``PYTHONPATH``), so the curricula, envs and callbacks below run there too.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import ray
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.utils.postprocessing.value_predictions import compute_value_targets
from ray.tune.registry import register_env
from ray_fixtures import AUTH_TOKEN, local_ray
from timeouts import scaled

from syllabus.core import (
    CurriculumConnectionError,
    CurriculumError,
    RaySyncWrapper,
    attach_ray_curriculum,
    make_ray_curriculum,
)
from syllabus.curricula import DomainRandomization
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.envs.cartpole import CartPoleTaskWrapper, make_cartpole
from syllabus.integrations.rllib import (
    CHUNKS_KEY,
    CurriculumCallback,
    PLRFeeder,
    configure_curriculum,
    curriculum_env_config,
    make_env_creator,
)
from syllabus.task_space import DiscreteTaskSpace

ROOT = Path(__file__).resolve().parent.parent
TASKS = DiscreteTaskSpace([0.02, 0.05, 0.1, 0.15])
EVAL_TASK = 0.05
GAMMA, LAMBDA = 0.99, 0.95


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray for every test of the module that needs one."""
    with local_ray():
        yield


def make_env(env_context: Any) -> gym.Env:
    return make_cartpole(TASKS)


def make_short_env(env_context: Any) -> gym.Env:
    """CartPole with a 12-step time limit: many episodes end truncated."""
    return CartPoleTaskWrapper(gym.make("CartPole-v1", max_episode_steps=12), TASKS)


class RecordingPLR(PrioritizedLevelReplay):
    """PLR that also keeps every episode update and every custom_update's arrays."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.episodes: list[tuple[float, float, int]] = []
        self.rollouts: list[tuple[np.ndarray, ...]] = []

    def update_on_episode(self, episode_return, length, task, progress=None, env_id=None) -> None:
        super().update_on_episode(episode_return, length, task, progress, env_id)
        self.episodes.append((task, float(episode_return), int(length)))

    def custom_update(self, tasks, rewards, dones, values, next_values, **kwargs: Any) -> None:
        super().custom_update(tasks, rewards, dones, values, next_values, **kwargs)
        self.rollouts.append(tuple(np.array(a) for a in (tasks, rewards, dones, values, next_values)))


class FailingDR(DomainRandomization):
    """Raises on its third episode update."""

    def __init__(self, task_space: Any) -> None:
        super().__init__(task_space)
        self.count = 0

    def update_on_episode(self, *args: Any, **kwargs: Any) -> None:
        self.count += 1
        if self.count == 3:
            raise RuntimeError("curriculum exploded on purpose")


@ray.remote(num_cpus=0)
class Ledger:
    """What RLlib's env runners saw: every completed episode (evaluation flag, task, return, length)."""

    def __init__(self) -> None:
        self.episodes: list[tuple[bool, float, float, int]] = []

    def add(self, episode: tuple[bool, float, float, int]) -> None:
        self.episodes.append(episode)

    def get(self) -> list[tuple[bool, float, float, int]]:
        return self.episodes


class LedgerCallback(RLlibCallback):
    """Reports each episode RLlib completes to the ``ledger`` actor, with the task of its reset info."""

    def __init__(self) -> None:
        super().__init__()
        self.running: dict[str, list] = {}

    def on_episode_start(self, *, episode: Any, **kwargs: Any) -> None:
        self.running[episode.id_] = [episode.get_infos(0)["task"], 0.0]

    def on_episode_step(self, *, episode: Any, **kwargs: Any) -> None:
        self.running[episode.id_][1] += float(episode.get_rewards(-1))

    def on_episode_end(self, *, episode: Any, env_runner: Any, **kwargs: Any) -> None:
        task, episode_return = self.running.pop(episode.id_)
        ledger = ray.get_actor("ledger")
        ray.get(ledger.add.remote((bool(env_runner.config.in_evaluation), task, episode_return, episode.t)))


SEEN: list[dict[str, Any]] = []  # what FeedSpy saw, learner by learner call (the learner runs in the driver)


class FeedSpy(ConnectorV2):
    """Runs after the PLR feeder: keeps the chunks it sent and PPO's value targets of the batch."""

    def __call__(self, *, batch: dict, episodes: list, shared_data: dict | None = None, **kwargs: Any) -> Any:
        targets = np.asarray(
            batch[DEFAULT_MODULE_ID][Postprocessing.VALUE_TARGETS].cpu().numpy(), dtype=np.float64
        )
        SEEN.append({"chunks": list(shared_data[CHUNKS_KEY]), "targets": targets})
        return batch


class SpyCallback(RLlibCallback):
    def on_algorithm_init(self, *, algorithm: Any, **kwargs: Any) -> None:
        algorithm.learner_group.foreach_learner(lambda learner: learner._learner_connector.append(FeedSpy()))


def ppo_config(num_env_runners: int, envs_per_runner: int, batch: int, **evaluation: Any) -> PPOConfig:
    config = (
        PPOConfig()
        .env_runners(
            num_env_runners=num_env_runners,
            num_envs_per_env_runner=envs_per_runner,
            rollout_fragment_length=batch // max(num_env_runners, 1) // envs_per_runner,
        )
        .training(
            train_batch_size_per_learner=batch,
            minibatch_size=batch,
            num_epochs=1,
            gamma=GAMMA,
            lambda_=LAMBDA,
        )
        .debugging(seed=0)
    )
    if evaluation:
        config.evaluation(**evaluation)
    return config


def plr(**kwargs: Any) -> PrioritizedLevelReplay:
    return RecordingPLR(TASKS, gamma=GAMMA, gae_lambda=0.9, random_seed=0, **kwargs)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("ray_cluster")
def test_training_episodes_reach_the_curriculum_once_and_evaluation_episodes_never():
    ledger = Ledger.options(name="ledger").remote()
    curriculum = make_ray_curriculum(plr(), name="exactly-once")
    config = ppo_config(
        2,
        2,
        256,
        evaluation_interval=1,
        evaluation_duration=3,
        evaluation_duration_unit="episodes",
        evaluation_num_env_runners=0,
    )
    configure_curriculum(config, make_env, curriculum, evaluation_tasks=[EVAL_TASK], feed_plr=True)
    config.callbacks(
        callbacks_class=[*config.callbacks_class, LedgerCallback, SpyCallback]
    )  # spy after feeder
    SEEN.clear()
    algo = config.build_algo()
    try:
        for _ in range(2):
            result = algo.train()
        assert "curriculum/task_entropy" in result["curriculum"]
        held = feeder_of(algo).packer.held_steps
    finally:
        algo.stop()  # closes the envs: their close() waits until the curriculum applied their updates
    try:
        seen = ray.get(ledger.get.remote())
        state = curriculum.snapshot()
        training = Counter((task, ret, length) for evaluation, task, ret, length in seen if not evaluation)
        evaluated = [(task, length) for evaluation, task, _, length in seen if evaluation]
        assert sum(training.values()) > 0 and len(evaluated) >= 3
        assert {task for task, _ in evaluated} == {EVAL_TASK}
        assert Counter(state.episodes) == training  # each training episode once, none of the evaluation
        check_feed(state.rollouts, lanes=4, held=held)
    finally:
        curriculum.close()
        ray.kill(ledger)


def feeder_of(algo: Any) -> PLRFeeder:
    (feeder,) = [
        c for c in algo.learner_group._learner._learner_connector.connectors if isinstance(c, PLRFeeder)
    ]
    return feeder


def check_feed(rollouts: list[tuple[np.ndarray, ...]], lanes: int, held: int) -> None:
    """Every step of every training chunk is sent once (or still held), with PPO's values and its task."""
    assert rollouts and all(r[0].shape[1] == lanes for r in rollouts)
    chunks = [chunk for seen in SEEN for chunk in seen["chunks"]]
    for seen in SEEN:  # the values sent are those PPO's advantage estimation used
        offset = 0
        for chunk in seen["chunks"]:
            n = len(chunk)
            expected = compute_value_targets(
                values=chunk.values,
                rewards=np.append(chunk.rewards, 0.0),
                terminateds=np.array([False] * (n - 1) + [chunk.terminated, False], dtype=np.float32),
                truncateds=np.array([False] * (n - 1) + [not chunk.terminated, False], dtype=np.float32),
                gamma=GAMMA,
                lambda_=LAMBDA,
            )
            np.testing.assert_allclose(
                seen["targets"][offset : offset + n], expected[:n], rtol=1e-5, atol=1e-5
            )  # real steps only: the appended bootstrap step is masked out of PPO's loss
            offset += n + 1
    sent_values = np.concatenate([r[3].T.ravel() for r in rollouts])
    chunk_values = np.concatenate([c.values[:-1] for c in chunks])
    assert Counter(sent_values.tolist()) <= Counter(chunk_values.astype(np.float64).tolist())
    assert len(sent_values) + held == len(chunk_values)
    # Each step sits in a lane with the task of its episode.
    position = {
        v: (i, c.task) for i, c in enumerate(chunks) for v in c.values[:-1].astype(np.float64).tolist()
    }
    for tasks, _, _, values, _ in rollouts:
        for lane in range(lanes):
            for t, v in zip(tasks[:, lane].tolist(), values[:, lane].tolist(), strict=True):
                assert position[v][1] == t


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("ray_cluster")
def test_plr_feeder_scores_equal_custom_update_by_hand():
    curriculum = make_ray_curriculum(plr(), name="by-hand")
    config = configure_curriculum(ppo_config(0, 1, 128), make_short_env, curriculum, feed_plr=True)
    config.callbacks(callbacks_class=[*config.callbacks_class, SpyCallback])
    SEEN.clear()
    algo = config.build_algo()
    try:
        for _ in range(3):
            algo.train()
    finally:
        algo.stop()
    try:
        state = curriculum.snapshot()
        by_hand = plr()
        assert len(state.rollouts) == len(SEEN) == 3
        for (tasks, rewards, dones, values, next_values), seen in zip(state.rollouts, SEEN, strict=True):
            # One env: the rollout is its chunks in time order (the continued episode first), one column.
            chunks = [c for c in seen["chunks"] if not c.first] + [c for c in seen["chunks"] if c.first]
            expected_rewards, expected_dones = [], []
            for chunk in chunks:
                r = np.array(chunk.rewards, dtype=np.float64)
                d = np.zeros(len(chunk), dtype=bool)
                d[-1] = chunk.terminated or chunk.truncated
                if chunk.truncated and not chunk.terminated:
                    r[-1] += GAMMA * chunk.values[-1]
                expected_rewards.append(r)
                expected_dones.append(d)
            last = chunks[-1]
            expected_next = 0.0 if last.terminated or last.truncated else last.values[-1]
            columns = (
                np.concatenate([np.full(len(c), c.task) for c in chunks]),
                np.concatenate(expected_rewards),
                np.concatenate(expected_dones),
                np.concatenate([c.values[:-1] for c in chunks]).astype(np.float64),
            )
            for sent, expected in zip((tasks, rewards, dones, values), columns, strict=True):
                np.testing.assert_allclose(sent[:, 0], expected)
            np.testing.assert_allclose(next_values, [expected_next])
            by_hand.custom_update(*(column[:, None] for column in columns), np.array([expected_next]))
        chunks = [c for seen in SEEN for c in seen["chunks"]]
        assert any(not c.first for c in chunks) and any(c.truncated and not c.terminated for c in chunks)
        np.testing.assert_array_equal(state.scores, by_hand.scores)
        assert np.isfinite(state.scores).any()
    finally:
        curriculum.close()


def test_every_public_name_imports_from_the_package():
    import syllabus.integrations.rllib as rllib

    exported: dict[str, Any] = {}
    exec("from syllabus.integrations.rllib import *", exported)
    assert set(rllib.__all__) <= exported.keys()
    assert exported["CurriculumCallback"] is CurriculumCallback
    assert (exported["SETTINGS_KEY"], exported["CHECKPOINT_FILE"], exported["CHUNKS_KEY"]) == (
        "syllabus",
        "syllabus_curriculum.pkl",
        "syllabus_chunks",
    )
    with pytest.raises(AttributeError, match="has no attribute 'settings_of'"):
        rllib.settings_of  # noqa: B018 - a helper of the package's modules, not exported


def test_feeder_refuses_policy_strategies():
    with pytest.raises(CurriculumError, match="value strategy"):
        PLRFeeder(PrioritizedLevelReplay(TASKS, strategy="policy_entropy"), 1)


@ray.remote(num_cpus=0)
def attach_and_drop(name: str) -> int:
    handle = attach_ray_curriculum(name)
    count = handle.num_tasks
    handle.close()
    del handle
    gc.collect()
    return count


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.usefixtures("ray_cluster")
def test_attach_handle_never_kills_the_actor():
    owner = make_ray_curriculum(DomainRandomization(TASKS), name="attached")
    try:
        assert ray.get(attach_and_drop.remote("attached"), timeout=scaled(60)) == 4  # in another process
        handle = attach_ray_curriculum("attached")
        assert not handle.owner and owner.owner
        handle.close()
        del handle
        gc.collect()
        assert len(owner.sample(3)) == 3  # the actor is still serving
    finally:
        owner.close()
    with pytest.raises(CurriculumConnectionError, match="no curriculum actor named 'attached'"):
        attach_ray_curriculum("attached")


def raw_sync_wrapper(env_context: Any) -> gym.Env:
    return RaySyncWrapper(make_env(env_context))


@ray.remote(num_cpus=0)
def reset_async_vector_env(raw: bool) -> str:
    creator = raw_sync_wrapper if raw else make_env_creator(make_env)
    envs = gym.vector.AsyncVectorEnv([lambda: creator({})], context="fork")
    try:
        envs.reset()
    except Exception as exc:  # noqa: BLE001 - the test checks type and message
        return f"{type(exc).__name__}: {exc}"
    finally:
        envs.close(terminate=True)
    return "no error"


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.usefixtures("ray_cluster")
def test_env_forked_from_a_ray_worker_fails_fast():
    curriculum = make_ray_curriculum(DomainRandomization(TASKS))  # default name: the env finds it
    try:
        for raw in (False, True):  # through the integration, and RaySyncWrapper itself
            outcome = ray.get(reset_async_vector_env.remote(raw), timeout=scaled(60))
            assert outcome.startswith("CurriculumConnectionError"), outcome
            assert 'gym_env_vectorize_mode="sync"' in outcome and "forked from a Ray" in outcome
        config = PPOConfig().env_runners(gym_env_vectorize_mode="async")
        with pytest.raises(CurriculumConnectionError, match='gym_env_vectorize_mode="async" forks'):
            configure_curriculum(config, make_env, curriculum)
    finally:
        curriculum.close()


def caused_by(error: BaseException, kind: type, text: str) -> bool:
    """Whether ``error`` or an exception it was raised from is a ``kind`` whose message contains ``text``."""
    while error is not None:
        if isinstance(error, kind) and text in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("ray_cluster")
def test_misnamed_actor_fails_configure_or_build_with_our_message():
    curriculum = make_ray_curriculum(DomainRandomization(TASKS), name="real-name")
    try:
        with pytest.raises(CurriculumConnectionError, match="no curriculum actor named 'wrong-name'"):
            configure_curriculum(ppo_config(0, 1, 64), make_env, "wrong-name")
        # Configured by hand, without the check: the env runner's env creator fails the build.
        register_env("by-hand", make_env_creator(make_env))
        config = ppo_config(0, 1, 64).environment("by-hand", env_config=curriculum_env_config("wrong-name"))
        config.callbacks(CurriculumCallback)
        with pytest.raises(CurriculumConnectionError, match="no curriculum actor named 'wrong-name'"):
            config.build_algo()
    finally:
        curriculum.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("ray_cluster")
def test_evaluation_env_runners_without_evaluation_settings_are_refused():
    curriculum = make_ray_curriculum(DomainRandomization(TASKS), name="refused")
    try:
        config = configure_curriculum(ppo_config(0, 1, 64), make_env, curriculum)
        config.evaluation(evaluation_config={"explore": False})  # RLlib merges overrides: settings kept
        assert config.evaluation_config["env_config"]["syllabus"]["evaluation"]
        # Dropping the evaluation overrides afterwards drops the evaluation settings.
        config.evaluation(evaluation_interval=1, evaluation_num_env_runners=0, evaluation_config=None)
        with pytest.raises(CurriculumError, match="evaluation env runners would send their episodes"):
            config.build_algo()
    finally:
        curriculum.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("ray_cluster")
def test_curriculum_error_fails_train():
    curriculum = make_ray_curriculum(FailingDR(TASKS), name="failing")
    config = configure_curriculum(ppo_config(0, 1, 128), make_env, curriculum)
    algo = config.build_algo()
    try:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - RLlib wraps env errors in RuntimeError
            for _ in range(5):
                algo.train()
        assert caused_by(raised.value, CurriculumError, "curriculum exploded on purpose")
    finally:
        algo.stop()
        curriculum.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_example_runs():
    env = {**os.environ, "RAY_AUTH_TOKEN": AUTH_TOKEN}
    result = subprocess.run(
        [sys.executable, "examples/rllib_plr.py", "--iterations", "2", "--batch-size", "256"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(280),
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines if line.startswith("iteration")] == [
        ["iteration", "1"],
        ["iteration", "2"],
    ]
    assert any(line.startswith("curriculum: {'curriculum/task_entropy'") for line in lines)
    (scores,) = [line for line in lines if line.startswith("PLR scores:")]
    assert len(scores.split(",")) == 5
