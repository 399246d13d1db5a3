"""RLlib PPO on CartPole with a Prioritized Level Replay curriculum.

The task is the half-width of CartPole's initial-state range. The algorithm serves the curriculum
as its own Ray actor; RLlib's training env runners get their tasks from it and report every episode back,
the PLR feeder scores the tasks from each training batch with PPO's own value estimates, and
evaluation episodes run on a fixed task without touching the curriculum.

    python examples/rllib_plr.py --iterations 20
"""
# smoke-args: --iterations 2 --batch-size 256

from __future__ import annotations

import argparse

import ray
from ray.rllib.algorithms.ppo import PPOConfig

from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.envs.cartpole import make_cartpole
from syllabus.integrations.rllib import configure_curriculum, curriculum_of
from syllabus.task_space import DiscreteTaskSpace

TASKS = DiscreteTaskSpace([0.02, 0.05, 0.1, 0.15, 0.2])


def make_env(env_context):
    """One task env; RLlib calls it in each env runner with its EnvContext."""
    return make_cartpole(TASKS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--num-env-runners", type=int, default=1)
    parser.add_argument("--envs-per-runner", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=2000)
    args = parser.parse_args()

    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    config = (
        PPOConfig()
        .env_runners(num_env_runners=args.num_env_runners, num_envs_per_env_runner=args.envs_per_runner)
        .training(train_batch_size_per_learner=args.batch_size, minibatch_size=min(128, args.batch_size))
        .evaluation(evaluation_interval=5, evaluation_duration=4, evaluation_num_env_runners=0)
    )
    # Env creator, evaluation envs on task 0.05, the curriculum callback and the PLR feeder.
    curriculum = PrioritizedLevelReplay(TASKS, random_seed=0)
    configure_curriculum(config, make_env, curriculum, evaluation_tasks=[0.05], feed_plr=True)
    algo = config.build_algo()  # starts the algorithm's curriculum actor
    try:
        for iteration in range(1, args.iterations + 1):
            result = algo.train()
            mean_return = result["env_runners"].get("episode_return_mean", float("nan"))
            print(f"iteration {iteration:3d}  mean return {mean_return:7.1f}")
        print("curriculum:", {key: round(value, 3) for key, value in result["curriculum"].items()})
        print("PLR scores:", [round(float(score), 3) for score in curriculum_of(algo).scores])
    finally:
        algo.stop()  # closes the envs, whose last episodes reach the curriculum, then stops the curriculum
        ray.shutdown()


if __name__ == "__main__":
    main()
