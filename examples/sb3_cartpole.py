"""Stable-Baselines3 PPO on CartPole with a Domain Randomization curriculum.

The task is the half-width of CartPole's initial-state range. Environments run in
``GuardedSubprocVecEnv`` worker processes (SB3's ``SubprocVecEnv``, which raises instead of hanging
when an env or the curriculum fails; SB3's default start method, forkserver); the curriculum lives
in this process and hands every env its next task on reset.

    python examples/sb3_cartpole.py --timesteps 60000
"""
# smoke-args: --timesteps 2048 --num-envs 2

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import VecMonitor

from syllabus.core import MultiProcessingSyncWrapper, TaskQueue, UpdateQueue, make_multiprocessing_curriculum
from syllabus.curricula import DomainRandomization
from syllabus.envs.cartpole import make_cartpole
from syllabus.integrations.sb3_vec_env import GuardedSubprocVecEnv
from syllabus.task_space import BoxTaskSpace


def make_env(task_queue: TaskQueue, update_queue: UpdateQueue) -> MultiProcessingSyncWrapper:
    """Env factory, run in each worker process: CartPole with tasks, synced to the curriculum."""
    return MultiProcessingSyncWrapper(make_cartpole(), task_queue, update_queue)


class ReturnHistory(BaseCallback):
    """Records the mean return of the last 100 episodes at the end of every rollout."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[tuple[int, float]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if self.model.ep_info_buffer:
            self.history.append(
                (self.num_timesteps, float(np.mean([e["r"] for e in self.model.ep_info_buffer])))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=60_000)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()

    task_space = BoxTaskSpace(0.01, 0.2, shape=())
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(
        DomainRandomization(task_space, random_seed=args.seed, record_stats=True)
    )
    with curriculum:
        venv = VecMonitor(GuardedSubprocVecEnv([partial(make_env, task_queue, update_queue)] * args.num_envs))
        try:
            model = PPO("MlpPolicy", venv, n_steps=256, batch_size=256, seed=args.seed, verbose=0)
            model.set_logger(Logger(folder=None, output_formats=[]))
            history = ReturnHistory()
            model.learn(args.timesteps, callback=history, progress_bar=not args.quiet)
        finally:
            venv.close()

    print("steps    mean return (last 100 episodes)")
    for steps, mean_return in history.history[:: max(1, len(history.history) // 8)] + history.history[-1:]:
        print(f"{steps:>7}  {mean_return:8.1f}")
    print("curriculum:", {k: round(v, 2) for k, v in curriculum.metrics().items() if k.startswith("stats/")})


if __name__ == "__main__":
    main()
