"""RLlib multi-agent PPO on a PettingZoo env with a curriculum shared by the agents.

MPE2's cooperative ``simple_spread``: three agents learn one shared policy to cover three
landmarks; the task is the size of the square they start in. Each RLlib env runner wraps the
PettingZoo env in ``RayPettingZooSyncWrapper`` (tasks from the curriculum actor, every episode
reported with each agent's return) and then in RLlib's ``ParallelPettingZooEnv``. The curriculum,
Domain Randomization inside ``MultiagentSharedCurriculumWrapper``, gets one update per agent
per episode.

    python examples/rllib_multiagent.py --iterations 10
"""
# smoke-args: --iterations 1 --batch-size 300

from __future__ import annotations

import argparse

import ray
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
from ray.tune.registry import register_env

from syllabus.core import MultiagentSharedCurriculumWrapper, RayPettingZooSyncWrapper, make_ray_curriculum
from syllabus.curricula import DomainRandomization
from syllabus.envs.mpe import make_mpe
from syllabus.task_space import DiscreteTaskSpace

TASKS = DiscreteTaskSpace([0.5, 1.0, 1.5, 2.0])


def make_env(env_config):
    """RLlib's env creator, called in each env runner: MPE, synced, as an RLlib MultiAgentEnv."""
    return ParallelPettingZooEnv(RayPettingZooSyncWrapper(make_mpe(TASKS)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()

    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    agents = make_mpe(TASKS).possible_agents
    curriculum = make_ray_curriculum(
        MultiagentSharedCurriculumWrapper(
            DomainRandomization(TASKS, random_seed=0, record_stats=True), agents
        )
    )
    register_env("syllabus-mpe", make_env)
    config = (
        PPOConfig()
        .environment("syllabus-mpe")
        .multi_agent(policies={"shared"}, policy_mapping_fn=lambda agent_id, episode, **kwargs: "shared")
        .env_runners(num_env_runners=1, num_envs_per_env_runner=1)
        .training(train_batch_size_per_learner=args.batch_size, minibatch_size=min(250, args.batch_size))
    )
    algo = config.build_algo()
    try:
        for iteration in range(1, args.iterations + 1):
            result = algo.train()
            runners = result["env_runners"]
            returns = runners.get("agent_episode_returns_mean", {})
            print(
                f"iteration {iteration:3d}  mean return {runners.get('episode_return_mean', float('nan')):8.2f}  "
                + "  ".join(f"{agent} {value:7.2f}" for agent, value in sorted(returns.items()))
            )
        episodes = int(runners["num_episodes_lifetime"])
    finally:
        algo.stop()  # closes the envs first: their last episodes reach the curriculum
    updates = curriculum.snapshot().curriculum.stat_recorder.state_dict()["episodes"]
    print(
        f"episodes: {episodes} finished in RLlib, {updates} episode updates in the curriculum ({len(agents)} agents)"
    )
    curriculum.close()
    ray.shutdown()


if __name__ == "__main__":
    main()
