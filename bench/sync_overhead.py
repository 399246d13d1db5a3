"""Sync overhead: raw vs curriculum-synced environments, measured as ratios in one run.

1. Throughput: 8 near-free envs (100-step episodes) in gymnasium ``AsyncVectorEnv``, raw and
   behind ``MultiProcessingSyncWrapper`` with Domain Randomization, interleaved repetitions.
2. Task-delivery latency: 8 env processes under load; how long a reset waits for its task when
   nothing is prefetched (``prefetch=0``: a full round trip through the curriculum) and with the
   default prefetch.

    python bench/sync_overhead.py [--reps 5] [--seconds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from functools import partial

import gymnasium as gym
import numpy as np

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


def steps_per_second(venv: gym.vector.VectorEnv, seconds: float) -> float:
    venv.reset(seed=0)
    actions = np.zeros(venv.num_envs, dtype=np.int64)
    for _ in range(200):  # warm up
        venv.step(actions)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            venv.step(actions)
        steps += 100 * venv.num_envs
    return steps / (time.perf_counter() - start)


def throughput(reps: int, seconds: float) -> None:
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(DomainRandomization(TASK_SPACE))
    raw_rates, synced_rates = [], []
    with curriculum:
        raw = gym.vector.AsyncVectorEnv([NearFreeEnv] * NUM_ENVS)
        synced = gym.vector.AsyncVectorEnv([partial(make_synced, task_queue, update_queue)] * NUM_ENVS)
        try:
            for rep in range(reps):
                raw_rates.append(steps_per_second(raw, seconds))
                synced_rates.append(steps_per_second(synced, seconds))
                print(f"  rep {rep}: raw {raw_rates[-1]:8.0f} steps/s   synced {synced_rates[-1]:8.0f} steps/s")
        finally:
            raw.close()
            synced.close()
    ratio = statistics.median(s / r for s, r in zip(synced_rates, raw_rates, strict=True))
    print(f"raw    median {statistics.median(raw_rates):8.0f} steps/s")
    print(f"synced median {statistics.median(synced_rates):8.0f} steps/s")
    print(f"ratio synced/raw (median of per-rep ratios): {ratio:.3f}   goal >= 0.97")


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
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()

    print(f"Throughput: {NUM_ENVS} near-free envs, {EPISODE_LENGTH}-step episodes, AsyncVectorEnv, DomainRandomization")
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
