"""End-to-end training throughput: the same SB3 Procgen run with PLR and without a curriculum.

Both runs are built by the runner's own builders (``env=procgen sync=multiprocessing``, the tuned
Procgen PPO settings) and kept open side by side; repetitions alternate between them so that load
from other processes hits both alike. Each repetition trains ``--rollouts`` full PPO iterations
(collection and gradient steps); the figure is the steps/s ratio PLR / none (goal >= 0.97). On a
shared machine wall-clock rates swing with other load, so the steps per CPU-second of the learner
and its env workers are reported alongside.

    python bench/train_throughput.py [--reps 4] [--rollouts 2] [--num-envs 8] [--game bigfish]
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import ExitStack

import psutil
from hydra import compose, initialize_config_dir
from syllabus.cli.builders import make_curriculum, task_space_of
from syllabus.cli.environments import open_environments, prepare_sync
from syllabus.cli.hydra_app import CONFIG_DIR
from syllabus.cli.learners.sb3 import learner_callbacks, make_ppo
from syllabus.cli.schema import RunConfig, validate


def run_config(curriculum: str, args: argparse.Namespace) -> RunConfig:
    """The validated config of ``syllabus train env=procgen curriculum=<curriculum> ...``."""
    overrides = [
        "env=procgen",
        f"env.game={args.game}",
        f"curriculum={curriculum}",
        "sync=multiprocessing",
        f"num_envs={args.num_envs}",
        f"learner.n_steps={args.n_steps}",
    ]
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="bench"):
        return validate(compose("train", overrides=overrides))


class Setup:
    """One open training setup: vector env, curriculum and PPO, ready to train more steps."""

    def __init__(self, run: RunConfig, stack: ExitStack) -> None:
        from stable_baselines3.common.logger import Logger

        self.run = run
        envs = stack.enter_context(open_environments(run, make_curriculum(run, task_space_of(run.env))))
        self.model = make_ppo(run, envs.venv)
        self.model.set_logger(Logger(folder=None, output_formats=[]))
        self.callbacks = learner_callbacks(run, envs.curriculum)
        self.rollout = run.learner.n_steps * run.num_envs
        self.learn(1)  # warm-up: Procgen assets load, torch initializes

    def learn(self, rollouts: int) -> tuple[float, float]:
        """Trains ``rollouts`` PPO iterations; returns steps per wall-clock second and per CPU-second."""
        processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
        start_steps, start_cpu = self.model.num_timesteps, _cpu_seconds(processes)
        start = time.perf_counter()
        self.model.learn(rollouts * self.rollout, callback=self.callbacks, reset_num_timesteps=False)
        steps = self.model.num_timesteps - start_steps
        return steps / (time.perf_counter() - start), steps / (_cpu_seconds(processes) - start_cpu)


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU time of the processes (all their threads); both setups' idle workers add ~0."""
    total = 0.0
    for process in processes:
        try:
            total += sum(process.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=4, help="alternating repetitions per setup")
    parser.add_argument("--rollouts", type=int, default=2, help="PPO iterations per repetition")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--n-steps", type=int, default=256, help="rollout length per env")
    parser.add_argument("--game", default="bigfish")
    args = parser.parse_args()

    runs = {name: run_config(name, args) for name in ("none", "plr")}
    prepare_sync(runs["none"])
    rates: dict[str, list[float]] = {name: [] for name in runs}
    cpu_rates: dict[str, list[float]] = {name: [] for name in runs}
    with ExitStack() as stack:
        setups = {name: Setup(run, stack) for name, run in runs.items()}
        for rep in range(args.reps):
            order = ("none", "plr") if rep % 2 == 0 else ("plr", "none")
            for name in order:
                rate, cpu_rate = setups[name].learn(args.rollouts)
                rates[name].append(rate)
                cpu_rates[name].append(cpu_rate)
            print(
                f"rep {rep + 1}/{args.reps}: "
                + ", ".join(
                    f"{n} {rates[n][-1]:.0f} steps/s ({cpu_rates[n][-1]:.0f} per CPU-s)" for n in runs
                )
            )

    ratios = [p / n for p, n in zip(rates["plr"], rates["none"], strict=True)]
    cpu_ratios = [p / n for p, n in zip(cpu_rates["plr"], cpu_rates["none"], strict=True)]
    rollout = args.n_steps * args.num_envs
    print(
        f"\nSB3 PPO on Procgen {args.game}: {args.num_envs} SubprocVecEnv envs, {rollout}-step rollouts, "
        f"{args.rollouts} rollouts x {args.reps} reps per setup"
    )
    print(f"curriculum=none  median {statistics.median(rates['none']):.0f} steps/s")
    print(f"curriculum=plr   median {statistics.median(rates['plr']):.0f} steps/s")
    print(f"ratio plr/none per rep: {', '.join(f'{r:.3f}' for r in ratios)}")
    print(f"ratio plr/none (median of paired reps): {statistics.median(ratios):.3f}   goal >= 0.97")
    print(f"ratio plr/none in steps per CPU-second (median): {statistics.median(cpu_ratios):.3f}")


if __name__ == "__main__":
    main()
