"""RLlib PPO throughput with a curriculum (Domain Randomization, PLR with its feeder) and without one.

Three PPO algorithms on a near-free env (CartPole with a task list) are built side by side in one
local Ray: ``none`` (the task env cycling through all tasks by itself), ``dr`` and ``plr`` (the env synced with the
algorithm's own curriculum actor through :func:`syllabus.integrations.rllib.configure_curriculum`; PLR also gets every
training batch through the PLR feeder). Repetitions alternate between them so that load from
other processes hits all alike; each repetition runs ``--iters`` ``train()`` calls. The figure is
the env steps/s ratio with / without a curriculum (goal >= 0.95). On a shared machine wall-clock
rates swing with other load, so steps per CPU-second of each setup's processes (driver, env
runners, curriculum actor) are reported alongside.

    python bench/rllib_throughput.py [--reps 4] [--iters 2] [--env-runners 1] [--envs-per-runner 4] [--batch 2000]
        [--update-batch N]   # episode updates per actor call (configure_curriculum's batch_size; default 8)
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import tempfile
import time
from typing import Any

import psutil
import ray
from ray.rllib.algorithms.ppo import PPOConfig
from ray.tune.registry import register_env

from syllabus.curricula import DomainRandomization
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.envs.cartpole import make_cartpole
from syllabus.integrations.rllib import EvaluationTasks, configure_curriculum, curriculum_of
from syllabus.task_space import DiscreteTaskSpace

TASKS = DiscreteTaskSpace([0.02, 0.05, 0.1, 0.15, 0.2])


def make_env(env_context: Any):
    return make_cartpole(TASKS)


def make_plain_env(env_context: Any):
    """The same env cycling through every task by itself: the same task mix as DR, no curriculum."""
    tasks = [TASKS.decode(index) for index in range(TASKS.num_tasks)]
    return EvaluationTasks(make_env(env_context), tasks, offset=env_context.worker_index)


def ppo_config(args: argparse.Namespace) -> PPOConfig:
    return (
        PPOConfig()
        .env_runners(
            num_env_runners=args.env_runners,
            num_envs_per_env_runner=args.envs_per_runner,
            num_cpus_per_env_runner=0.5,  # three setups side by side on a 2-CPU Ray
        )
        .training(train_batch_size_per_learner=args.batch, minibatch_size=args.batch // 4, num_epochs=1)
        .debugging(seed=0)
    )


def setup_processes(algo: Any, curriculum: Any) -> list[psutil.Process]:
    """The processes one setup runs in: the driver (its learner), its env runners, its curriculum actor."""
    pids = [
        os.getpid(),
        *algo.env_runner_group.foreach_env_runner(lambda runner: os.getpid(), local_env_runner=False),
    ]
    if curriculum is not None:
        pids.append(ray.get(curriculum.actor.__ray_call__.remote(lambda _: os.getpid()), timeout=60))
    return [psutil.Process(pid) for pid in pids]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU time of the processes (all their threads)."""
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def measure(algo: Any, processes: list[psutil.Process], iters: int) -> tuple[float, float]:
    """Env steps per wall-clock second and per CPU-second of the setup's processes, over ``iters`` train() calls."""
    steps = 0
    start, start_cpu = time.perf_counter(), cpu_seconds(processes)
    for _ in range(iters):
        steps += algo.train()["env_runners"]["num_env_steps_sampled"]
    return steps / (time.perf_counter() - start), steps / (cpu_seconds(processes) - start_cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=4, help="alternating repetitions per setup")
    parser.add_argument("--iters", type=int, default=2, help="train() calls per repetition")
    parser.add_argument("--env-runners", type=int, default=1)
    parser.add_argument("--envs-per-runner", type=int, default=4)
    parser.add_argument("--batch", type=int, default=2000, help="train batch size (env steps per train())")
    parser.add_argument("--update-batch", type=int, default=None, help="episode updates per actor call")
    args = parser.parse_args()

    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))  # no token file under $HOME
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", _temp_dir=temp_dir)
    curricula = {"dr": DomainRandomization(TASKS), "plr": PrioritizedLevelReplay(TASKS, random_seed=0)}
    register_env("bench-none", make_plain_env)
    algos: dict[str, Any] = {}
    try:
        algos["none"] = ppo_config(args).environment("bench-none").build_algo()
        for name, curriculum in curricula.items():
            config = configure_curriculum(
                ppo_config(args), make_env, curriculum, feed_plr=name == "plr", batch_size=args.update_batch
            )
            algos[name] = config.build_algo()  # starts the algorithm's own curriculum actor
        for algo in algos.values():
            algo.train()  # warm-up
        processes = {
            name: setup_processes(algo, curriculum_of(algo) if name in curricula else None)
            for name, algo in algos.items()
        }
        rates: dict[str, list[float]] = {name: [] for name in algos}
        cpu_rates: dict[str, list[float]] = {name: [] for name in algos}
        names = list(algos)
        for rep in range(args.reps):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for name in order:
                rate, cpu_rate = measure(algos[name], processes[name], args.iters)
                rates[name].append(rate)
                cpu_rates[name].append(cpu_rate)
            print(
                f"rep {rep + 1}/{args.reps}: " + ", ".join(f"{n} {rates[n][-1]:.0f} steps/s" for n in names)
            )
    finally:
        for algo in algos.values():
            algo.stop()  # also stops its curriculum actor
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)

    print(
        f"\nRLlib PPO on CartPole: {args.env_runners} env runner(s) x {args.envs_per_runner} envs, {args.batch}-step batches, "
        f"{args.iters} train() x {args.reps} reps per setup"
    )
    for name in names:
        print(
            f"curriculum={name:<5} median {statistics.median(rates[name]):.0f} env steps/s, "
            f"{statistics.median(cpu_rates[name]):.0f} per CPU-second"
        )
    for name in ("dr", "plr"):
        ratios = [c / n for c, n in zip(rates[name], rates["none"], strict=True)]
        cpu_ratios = [c / n for c, n in zip(cpu_rates[name], cpu_rates["none"], strict=True)]
        print(
            f"ratio {name}/none per rep: {', '.join(f'{r:.3f}' for r in ratios)}; "
            f"median {statistics.median(ratios):.3f}   goal >= 0.95"
        )
        print(f"ratio {name}/none in env steps per CPU-second (median): {statistics.median(cpu_ratios):.3f}")


if __name__ == "__main__":
    main()
