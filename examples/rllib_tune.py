"""Two concurrent Tune trials of RLlib PPO, each with its own Prioritized Level Replay curriculum.

``configure_curriculum`` is given the curriculum itself, so every algorithm built from the config
(here: every Tune trial) starts its own copy as a Ray actor, named after the trial, and stops it
with the trial. Each trial's checkpoints carry its curriculum's state.

    python examples/rllib_tune.py --iterations 3
"""
# smoke-args: --iterations 1 --batch-size 200

from __future__ import annotations

import argparse
import tempfile

import ray
from ray import tune
from ray.rllib.algorithms.ppo import PPOConfig

from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.envs.cartpole import make_cartpole
from syllabus.integrations.rllib import configure_curriculum
from syllabus.task_space import DiscreteTaskSpace

TASKS = DiscreteTaskSpace([0.02, 0.05, 0.1, 0.15, 0.2])


def make_env(env_context):
    """One task env; RLlib calls it in each env runner with its EnvContext."""
    return make_cartpole(TASKS)


def ppo_config(batch_size: int) -> PPOConfig:
    """PPO sampling in the trial's own process (no env runner actors), with one PLR curriculum per trial."""
    config = (
        PPOConfig()
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
        .training(train_batch_size_per_learner=batch_size, minibatch_size=min(128, batch_size), num_epochs=2)
    )
    # A Curriculum (not a running actor): each trial serves its own copy.
    return configure_curriculum(config, make_env, PrioritizedLevelReplay(TASKS, random_seed=0), feed_plr=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--storage", default=None, help="Tune's results directory (default: a temporary one)")
    args = parser.parse_args()

    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    with tempfile.TemporaryDirectory() as scratch:
        tuner = tune.Tuner(
            "PPO",
            param_space=ppo_config(args.batch_size),
            tune_config=tune.TuneConfig(num_samples=2, max_concurrent_trials=2),  # two identical trials
            run_config=tune.RunConfig(
                storage_path=args.storage or scratch,
                stop={"training_iteration": args.iterations},
                checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=True),
                verbose=0,
            ),
        )
        results = tuner.fit()
        for result in results:
            metrics = result.metrics
            print(
                f"trial {metrics['trial_id']}: {metrics['env_runners']['num_episodes_lifetime']} episodes, "
                f"curriculum task entropy {metrics['curriculum']['curriculum/task_entropy']:.3f}, "
                f"checkpoint {result.checkpoint is not None}"
            )
    ray.shutdown()


if __name__ == "__main__":
    main()
