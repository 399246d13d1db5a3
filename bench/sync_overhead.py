"""Sync overhead: raw vs curriculum-synced environments, measured as ratios in one run.

1. Throughput: 8 near-free envs (100-step episodes) in gymnasium ``AsyncVectorEnv``, raw and
   behind ``MultiProcessingSyncWrapper`` with Domain Randomization, in paired repetitions
   (2 cores shared by 17 processes make single timings noisy; the paired ratios are the figure).
2. Task-delivery latency: 8 env processes under load; how long a reset waits for its task when
   nothing is prefetched (``prefetch=0``: a full round trip through the curriculum) and with the
   default prefetch.

    python bench/sync_overhead.py [--reps 16] [--seconds 1]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from functools import partial

import gymnasium as gym
import numpy as np
import psutil

from syllabus.core import MultiProcessingSyncWrapper, TaskEnv, make_multiprocessing_curriculum
from syllabus.curricula import DomainRandomization
from syllabus.task_space import DiscreteTaskSpace

NUM_ENVS = 8
EPISODE_LENGTH = 100
TASK_SPACE = DiscreteTaskSpace(200)


class NearFreeEnv(TaskEnv):
    """Does nothing but count steps: the cheapest env there is, so IPC cost is all that shows."""

    def __init__(self) -> None:
        super().__init__(TASK_SPACE)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._obs = np.zeros(4, np.float32)
        self._t = 0

    def reset(self, *, seed=None, options=None, new_task=None):
        super().reset(seed=seed, new_task=new_task)
        self._t = 0
        return self._obs, {}

    def step(self, action):
        self._t += 1
        return self._obs, 1.0, False, self._t >= EPISODE_LENGTH, {}


def make_synced(task_queue, update_queue, prefetch: int = 1) -> gym.Env:
    return MultiProcessingSyncWrapper(NearFreeEnv(), task_queue, update_queue, prefetch=prefetch)


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU time of the learner process (all its threads) and the env workers."""
    return sum(sum(p.cpu_times()[:2]) for p in processes)


def measure(venv: gym.vector.AsyncVectorEnv, seconds: float) -> tuple[float, float]:
    """Returns (steps per second, CPU microseconds per step) over about ``seconds``."""
    processes = [psutil.Process(), *(psutil.Process(p.pid) for p in venv.processes)]
    venv.reset(seed=0)
    actions = np.zeros(venv.num_envs, dtype=np.int64)
    for _ in range(200):  # warm up
        venv.step(actions)
    steps, cpu, start = 0, cpu_seconds(processes), time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            venv.step(actions)
        steps += 100 * venv.num_envs
    elapsed, cpu = time.perf_counter() - start, cpu_seconds(processes) - cpu
    return steps / elapsed, cpu / steps * 1e6


def throughput(reps: int, seconds: float) -> None:
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(DomainRandomization(TASK_SPACE))
    raw_rates, synced_rates, raw_cpu, synced_cpu = [], [], [], []
    with curriculum:
        raw = gym.vector.AsyncVectorEnv([NearFreeEnv] * NUM_ENVS)
        synced = gym.vector.AsyncVectorEnv([partial(make_synced, task_queue, update_queue)] * NUM_ENVS)
        try:
            for rep in range(reps):  # alternate the order so drifts in machine load cancel out
                first, second = (raw, synced) if rep % 2 == 0 else (synced, raw)
                results = {id(first): measure(first, seconds), id(second): measure(second, seconds)}
                raw_rates.append(results[id(raw)][0])
                synced_rates.append(results[id(synced)][0])
                raw_cpu.append(results[id(raw)][1])
                synced_cpu.append(results[id(synced)][1])
        finally:
            raw.close()
            synced.close()
    ratios = [s / r for s, r in zip(synced_rates, raw_rates, strict=True)]
    q1, median, q3 = np.percentile(ratios, [25, 50, 75])
    print(f"  raw    median {statistics.median(raw_rates):8.0f} steps/s")
    print(f"  synced median {statistics.median(synced_rates):8.0f} steps/s")
    print(
        f"  ratio synced/raw over {reps} paired reps: median {median:.3f} (quartiles {q1:.3f}-{q3:.3f})   goal >= 0.97"
    )
    raw_us, synced_us = statistics.median(raw_cpu), statistics.median(synced_cpu)
    print(
        f"  CPU per env step (all processes): raw {raw_us:.1f} us, synced {synced_us:.1f} us; "
        f"throughput ratio implied on saturated cores {raw_us / synced_us:.3f}"
    )


def latency_worker(task_queue, update_queue, prefetch: int, episodes: int, results) -> None:
    env = make_synced(task_queue, update_queue, prefetch)
    env.reset()
    waits = []
    for _ in range(episodes):
        while not env.step(0)[3]:
            pass
        start = time.perf_counter()
        env.reset()  # the episode update just went out; with prefetch=0 this waits for its answer
        waits.append(time.perf_counter() - start)
    env.close()
    results.put(waits)


def latency(prefetch: int, episodes: int = 200) -> list[float]:
    ctx = multiprocessing.get_context("forkserver")
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(DomainRandomization(TASK_SPACE))
    results = ctx.Queue()
    with curriculum:
        workers = [
            ctx.Process(target=latency_worker, args=(task_queue, update_queue, prefetch, episodes, results))
            for _ in range(NUM_ENVS)
        ]
        for worker in workers:
            worker.start()
        waits = [w for _ in workers for w in results.get(timeout=120)]
        for worker in workers:
            worker.join()
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(description="Sync overhead benchmark")
    parser.add_argument("--reps", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()

    print(
        f"Throughput: {NUM_ENVS} near-free envs, {EPISODE_LENGTH}-step episodes, AsyncVectorEnv, DomainRandomization"
    )
    throughput(args.reps, args.seconds)
    print(f"\nTask-delivery latency: {NUM_ENVS} env processes under load, reset wait per episode")
    for prefetch in (0, 1):
        waits = np.array(latency(prefetch)) * 1e3
        label = "round trip (prefetch=0)" if prefetch == 0 else "reset wait (prefetch=1, default)"
        print(
            f"  {label:34s} median {np.median(waits):.3f} ms   p90 {np.percentile(waits, 90):.3f} ms"
            + ("   goal median < 1 ms" if prefetch == 0 else "")
        )


if __name__ == "__main__":
    main()
