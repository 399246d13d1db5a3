"""RLlib as its users run it: Tune trials, checkpoints, their own callbacks, wrappers, async envs.

Real RLlib PPO and Tune on a private local Ray (tiny budgets). Ray workers and Tune trials import
this module by name (the tests directory is on their ``PYTHONPATH``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import ray
from ray import tune
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.tune.registry import register_env
from ray_fixtures import AUTH_TOKEN, local_ray
from timeouts import scaled

from syllabus.core import RaySyncWrapper, make_ray_curriculum
from syllabus.curricula import DomainRandomization
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.envs.cartpole import make_cartpole
from syllabus.integrations.rllib import CHECKPOINT_FILE, configure_curriculum, curriculum_of
from syllabus.task_space import DiscreteTaskSpace

ROOT = Path(__file__).resolve().parent.parent
TASKS = DiscreteTaskSpace([0.02, 0.05, 0.1, 0.15])
JOURNAL = "journal_dir"  # env_config key of the directory the journals below write to


@pytest.fixture(scope="module")
def ray_cluster():
    with local_ray():
        yield


@pytest.fixture(autouse=True)
def no_tune_sigint_handler(monkeypatch):
    """``Tuner.fit()`` installs a SIGINT handler and leaves it installed after it returns; Ctrl-C stays pytest's."""
    monkeypatch.setenv("TUNE_DISABLE_SIGINT_HANDLER", "1")


def make_env(env_context: Any) -> gym.Env:
    return make_cartpole(TASKS)


class Halved(gym.ObservationWrapper):
    """A plain gymnasium wrapper (its reset takes no ``new_task``), between the task env and the sync wrapper."""

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation / 2


def make_wrapped_env(env_context: Any) -> gym.Env:
    return Halved(make_cartpole(TASKS))


def ppo(num_env_runners: int = 0, envs: int = 2, batch: int = 200) -> PPOConfig:
    return (
        PPOConfig()
        .env_runners(num_env_runners=num_env_runners, num_envs_per_env_runner=envs)
        .training(train_batch_size_per_learner=batch, minibatch_size=batch, num_epochs=1)
        .debugging(seed=0)
    )


class JournalDR(DomainRandomization):
    """Domain randomization that appends every episode update to ``<dir>/curriculum.txt``, with its actor's name."""

    def __init__(self, task_space: Any, directory: str) -> None:
        super().__init__(task_space)
        self.directory = directory

    def update_on_episode(self, episode_return, length, task, progress=None, env_id=None) -> None:
        super().update_on_episode(episode_return, length, task, progress, env_id)
        name = ray.get_runtime_context().get_actor_name()
        with open(os.path.join(self.directory, "curriculum.txt"), "a") as journal:
            journal.write(f"{name}\t{task}\t{float(episode_return)}\t{int(length)}\n")


class EnvJournal(RLlibCallback):
    """Appends every training episode an env runner finishes to ``<dir>/envs.txt``, with its curriculum's name."""

    def on_episode_end(
        self, *, episode: Any, prev_episode_chunks: Any = None, env_runner: Any, env_index: int, **kwargs: Any
    ) -> None:
        chunks = [*(prev_episode_chunks or []), episode]
        task = chunks[0].get_infos(0)["task"]
        episode_return = float(sum(chunk.get_return() for chunk in chunks))
        length = int(episode.t)  # steps since the episode's reset (chunks overlap by their lookback)
        env = env_runner.env.unwrapped.envs[env_index]
        while not hasattr(env, "attached_to"):
            env = env.env
        directory = env_runner.config.env_config[JOURNAL]
        with open(os.path.join(directory, "envs.txt"), "a") as journal:
            journal.write(f"{env.attached_to[0]}\t{task}\t{episode_return}\t{length}\n")


def read_journal(path: Path) -> dict[str, Counter]:
    by_curriculum: dict[str, Counter] = {}
    for line in path.read_text().splitlines():
        name, *episode = line.split("\t")
        by_curriculum.setdefault(name, Counter())[tuple(episode)] += 1
    return by_curriculum


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.usefixtures("ray_cluster")
def test_two_concurrent_tune_trials_each_feed_only_their_own_curriculum(tmp_path):
    config = ppo(batch=200).environment(env_config={JOURNAL: str(tmp_path)})
    configure_curriculum(config, make_env, JournalDR(TASKS, str(tmp_path)), batch_size=1)
    config.callbacks(callbacks_class=[*config.callbacks_class, EnvJournal])
    tuner = tune.Tuner(
        "PPO",
        param_space=config,
        tune_config=tune.TuneConfig(num_samples=2, max_concurrent_trials=2),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path / "tune"),
            stop={"training_iteration": 2},
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=True),
            verbose=0,
        ),
    )
    results = tuner.fit()
    assert not results.errors, results.errors
    envs, curricula = read_journal(tmp_path / "envs.txt"), read_journal(tmp_path / "curriculum.txt")
    trial_ids = sorted(result.metrics["trial_id"] for result in results)
    assert len(envs) == 2 and all(sum(episodes.values()) > 0 for episodes in envs.values())
    # One curriculum per trial, named after it, that got exactly the episodes of that trial's envs.
    assert sorted(trial for trial in trial_ids for name in envs if trial in name) == trial_ids
    for name, episodes in envs.items():
        received = curricula.get(name, Counter())
        assert received == episodes, (
            name,
            "env only:",
            episodes - received,
            "curriculum only:",
            received - episodes,
        )
    assert set(curricula) == set(envs)
    for result in results:  # Tune's checkpoints carry the curriculum's state
        assert (Path(result.checkpoint.path) / CHECKPOINT_FILE).is_file()


def scores(algo: Any) -> np.ndarray:
    return np.array(curriculum_of(algo).scores, dtype=np.float64)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.usefixtures("ray_cluster")
def test_checkpoints_restore_the_curriculum_in_this_process_and_a_fresh_one(tmp_path):
    plr = PrioritizedLevelReplay(TASKS, random_seed=0)
    config = configure_curriculum(ppo(num_env_runners=1), make_env, plr, feed_plr=True)
    algo = config.build_algo()
    try:
        for _ in range(2):
            algo.train()
        saved = scores(algo)
        path = algo.save(str(tmp_path / "checkpoint")).checkpoint.path
        algo.train()
        assert not np.array_equal(scores(algo), saved, equal_nan=True)  # training moved the scores on
        algo.restore(path)
        np.testing.assert_array_equal(scores(algo), saved)
    finally:
        algo.stop()
    assert np.isfinite(saved).any()
    fresh = f"""
import ray
from ray.rllib.algorithms.algorithm import Algorithm
from syllabus.integrations.rllib import curriculum_of
ray.init(num_cpus=2, include_dashboard=False, logging_level="error")
algo = Algorithm.from_checkpoint({path!r})
print("SCORES", list(curriculum_of(algo).scores))
algo.train()
algo.stop()
ray.shutdown()
"""
    env = {**os.environ, "RAY_AUTH_TOKEN": AUTH_TOKEN}
    done = subprocess.run(
        [sys.executable, "-c", fresh], capture_output=True, text=True, timeout=scaled(400), env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("SCORES")]
    np.testing.assert_array_equal(np.array(eval(line[len("SCORES") :]), dtype=np.float64), saved)  # noqa: S307


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.usefixtures("ray_cluster")
def test_user_callback_after_configure_and_an_observation_wrapper_below_the_sync_wrapper(caplog, tmp_path):
    config = ppo().environment(env_config={JOURNAL: str(tmp_path)})
    configure_curriculum(
        config, make_wrapped_env, PrioritizedLevelReplay(TASKS, random_seed=0), feed_plr=True
    )
    config.callbacks(EnvJournal)  # replaces the callback class configure_curriculum added
    with caplog.at_level(logging.WARNING, logger="syllabus.integrations.rllib"):
        algo = config.build_algo()
    try:
        assert "replaced the CurriculumCallback" in caplog.text
        for _ in range(2):
            result = algo.train()
        assert "curriculum/task_entropy" in result["curriculum"]
        assert np.isfinite(scores(algo)).any()  # the PLR feeder ran: custom_update scored tasks
    finally:
        algo.stop()
    (episodes,) = read_journal(tmp_path / "envs.txt").values()
    assert {float(task) for task, _, _ in episodes} <= set(TASKS.tasks)  # tasks reached the task env


def raw_two_lines(env_context: Any) -> gym.Env:
    return RaySyncWrapper(make_cartpole(TASKS))  # the documented pattern, without the integration


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("ray_cluster")
def test_raw_sync_wrapper_with_async_vectorization_fails_fast():
    curriculum = make_ray_curriculum(DomainRandomization(TASKS))  # default name: RaySyncWrapper finds it
    register_env("raw-two-lines", raw_two_lines)
    config = ppo().environment("raw-two-lines").env_runners(gym_env_vectorize_mode="async")
    algo = config.build_algo()
    try:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - RLlib wraps env errors
            algo.train()
        chain, error = [], raised.value
        while error is not None:
            chain.append(str(error))
            error = error.__cause__ or error.__context__
        assert any("forked from a Ray driver or worker" in text for text in chain), chain
    finally:
        algo.stop()
        curriculum.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_tune_example_runs():
    env = {**os.environ, "RAY_AUTH_TOKEN": AUTH_TOKEN}
    result = subprocess.run(
        [sys.executable, "examples/rllib_tune.py", "--iterations", "1", "--batch-size", "200"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(600),
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("trial ")]
    assert len(lines) == 2 and all("checkpoint True" in line for line in lines)


def test_example_module_builds_its_config_without_ray():
    spec = importlib.util.spec_from_file_location("rllib_tune", ROOT / "examples" / "rllib_tune.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.ppo_config(200)
    settings = config.env_config["syllabus"]
    assert isinstance(settings["curriculum"], bytes) and settings["name"] is None
    assert "ActorHandle" not in repr(config.to_dict())


class CountingDR(DomainRandomization):
    """Domain randomization whose state counts the episode updates it got."""

    def __init__(self, task_space: Any) -> None:
        super().__init__(task_space)
        self.episodes = 0

    def update_on_episode(self, *args: Any, **kwargs: Any) -> None:
        super().update_on_episode(*args, **kwargs)
        self.episodes += 1

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "episodes": self.episodes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.episodes = state["episodes"]


class FailOnce(RLlibCallback):
    """Fails the trial's second iteration once (a marker file remembers it), so Tune restores the trial."""

    def on_train_result(self, *, algorithm: Any, result: dict, **kwargs: Any) -> None:
        marker = Path(algorithm.config.env_config[JOURNAL]) / "failed"
        if result["training_iteration"] == 2 and not marker.exists():
            marker.touch()
            raise RuntimeError("trial fails once on purpose")


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.usefixtures("ray_cluster")
def test_tune_trial_restore_restores_the_curriculum(tmp_path):
    config = ppo(batch=200).environment(env_config={JOURNAL: str(tmp_path)})
    configure_curriculum(config, make_env, CountingDR(TASKS), batch_size=1)
    config.callbacks(callbacks_class=[*config.callbacks_class, FailOnce])
    tuner = tune.Tuner(
        "PPO",
        param_space=config,
        run_config=tune.RunConfig(
            storage_path=str(tmp_path / "tune"),
            stop={"training_iteration": 3},
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1, checkpoint_at_end=True),
            failure_config=tune.FailureConfig(max_failures=1),
            verbose=0,
        ),
    )
    (result,) = tuner.fit()
    assert result.error is None and (tmp_path / "failed").exists()  # it failed once, and was restored
    trial_dir = Path(result.path)
    counts = {
        path.parent.name: pickle.loads(path.read_bytes())["episodes"]
        for path in trial_dir.glob(f"checkpoint_*/{CHECKPOINT_FILE}")
    }
    first, last = counts[min(counts)], counts[max(counts)]
    lifetime = int(result.metrics["env_runners"]["num_episodes_lifetime"])  # RLlib restores its count too
    assert first > 0
    # The restored trial's curriculum went on from the checkpoint: it holds the episodes from before the
    # failure too (a fresh curriculum would hold lifetime - first). A few updates may still be in flight.
    assert last > lifetime - first and last <= lifetime
