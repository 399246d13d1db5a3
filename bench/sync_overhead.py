"""Sync overhead: raw vs curriculum-synced environments, measured as ratios in one run.

1. Throughput: 8 near-free envs (100-step episodes) in gymnasium ``AsyncVectorEnv``, raw and
   behind ``MultiProcessingSyncWrapper`` with Domain Randomization, in paired repetitions
   (2 cores shared by 17 processes make single timings noisy; the paired ratios are the figure).
   Then the sync's own CPU cost, without the vector env's noise: each of 8 processes loops over
   its env, and the CPU time of all processes is compared, raw vs synced.
2. Task-delivery latency: how long a reset waits for its task when nothing is prefetched
   (``prefetch=0``) and with the default prefetch, timed inside the env processes. With one env
   stepping in a tight loop on an idle machine, a ``prefetch=0`` reset waits for a full round trip
   through the curriculum (the goal figure). In the throughput workload, AsyncVectorEnv's autoreset
   comes one vector step after the episode end, which hides most of that trip. Under stress, 8 env
   processes in tight loops (an episode every ~0.1 ms of CPU) compete with the curriculum's sync
   thread for the 2 cores.
3. Ray (``--backend ray`` or ``all``): the same two figures with each env in a Ray actor, stepped
   through ``RayVecEnv``, raw vs behind ``RaySyncWrapper`` with the curriculum as a Ray actor; plus
   the cost per episode when each actor runs its env loop itself (no per-step Ray call to hide it).

    python bench/sync_overhead.py [--reps 16] [--seconds 1] [--backend all|multiprocessing|ray]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import secrets
import shutil
import statistics
import tempfile
import time
from functools import partial

import gymnasium as gym
import numpy as np
import psutil

from syllabus.core import MultiProcessingSyncWrapper, TaskEnv, make_multiprocessing_curriculum
from syllabus.curricula import DomainRandomization
from syllabus.task_space import DiscreteTaskSpace

NUM_ENVS = 8
RAY_DEFAULT_PREFETCH = 8  # RaySyncWrapper's default (which batches up to 8 messages per actor call)
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
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):  # a Ray helper may come and go
            total += sum(process.cpu_times()[:2])
    return total


def all_processes() -> list[psutil.Process]:
    """This process and every process it started (Ray's GCS, raylet and workers included)."""
    me = psutil.Process()
    return [me, *me.children(recursive=True)]


def measure(venv, seconds: float, block: int = 100) -> tuple[float, float]:
    """Steps/s and CPU microseconds per step (this process and all it started) of a gymnasium or SB3
    vector env stepped for about ``seconds``, ``block`` vector steps at a time."""
    venv.reset()
    actions = np.zeros(venv.num_envs, dtype=np.int64)
    for _ in range(2 * block):  # warm up
        venv.step(actions)
    processes = all_processes()
    steps, cpu, start = 0, cpu_seconds(processes), time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(block):
            venv.step(actions)
        steps += block * venv.num_envs
    elapsed, cpu = time.perf_counter() - start, cpu_seconds(processes) - cpu
    return steps / elapsed, cpu / steps * 1e6


def paired_ratios(
    reps: int, run_raw, run_synced
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Runs raw and synced measurements in alternating order (so drifts in machine load cancel out).

    Returns:
        Steps/s of raw and synced, then CPU microseconds per step of raw and synced, one per rep.
    """
    raw_rates, synced_rates, raw_cpu, synced_cpu = [], [], [], []
    for rep in range(reps):
        order = (run_raw, run_synced) if rep % 2 == 0 else (run_synced, run_raw)
        results = {fn: fn() for fn in order}
        raw_rates.append(results[run_raw][0])
        synced_rates.append(results[run_synced][0])
        raw_cpu.append(results[run_raw][1])
        synced_cpu.append(results[run_synced][1])
    return raw_rates, synced_rates, raw_cpu, synced_cpu


def report(reps: int, raw_rates, synced_rates, raw_cpu, synced_cpu, goal: str) -> None:
    """Prints median steps/s, the paired synced/raw ratio and CPU per step."""
    ratios = [s / r for s, r in zip(synced_rates, raw_rates, strict=True)]
    q1, median, q3 = np.percentile(ratios, [25, 50, 75])
    print(f"  raw    median {statistics.median(raw_rates):8.0f} steps/s")
    print(f"  synced median {statistics.median(synced_rates):8.0f} steps/s")
    print(
        f"  ratio synced/raw over {reps} paired reps: median {median:.3f} (quartiles {q1:.3f}-{q3:.3f}){goal}"
    )
    raw_us, synced_us = statistics.median(raw_cpu), statistics.median(synced_cpu)
    print(
        f"  CPU per env step (all processes): raw {raw_us:.1f} us, synced {synced_us:.1f} us; "
        f"throughput ratio implied on saturated cores {raw_us / synced_us:.3f}"
    )


def throughput(reps: int, seconds: float) -> None:
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(DomainRandomization(TASK_SPACE))
    with curriculum:
        raw = gym.vector.AsyncVectorEnv([NearFreeEnv] * NUM_ENVS)
        synced = gym.vector.AsyncVectorEnv([partial(make_synced, task_queue, update_queue)] * NUM_ENVS)
        try:
            results = paired_ratios(reps, partial(measure, raw, seconds), partial(measure, synced, seconds))
        finally:
            raw.close()
            synced.close()
        report(reps, *results, "   goal >= 0.97")
        print(f"\n  Env loop inside each of {NUM_ENVS} processes (no vector env), raw vs synced")
        loop_reps = max(2, reps // 4)
        loops = paired_ratios(
            loop_reps,
            partial(env_loops, NearFreeEnv),
            partial(env_loops, partial(make_synced, task_queue, update_queue)),
        )
    raw_us, synced_us = statistics.median(loops[2]), statistics.median(loops[3])
    per_step, workload_us = synced_us - raw_us, statistics.median(results[2])
    print(
        f"  CPU per env step (all processes, {loop_reps} reps): raw {raw_us:.2f} us, synced {synced_us:.2f} us"
    )
    print(
        f"  sync CPU per episode (one update + one task, all processes): {per_step * EPISODE_LENGTH:.0f} us; "
        f"on the AsyncVectorEnv workload above ({workload_us:.0f} us per step) it implies a ratio of "
        f"{workload_us / (workload_us + per_step):.3f}"
    )


def in_processes(target, args: tuple, num_envs: int = NUM_ENVS) -> list:
    """Runs ``target(*args, results)`` in ``num_envs`` forkserver processes; returns what each put in ``results``."""
    ctx = multiprocessing.get_context("forkserver")
    results = ctx.Queue()
    workers = [ctx.Process(target=target, args=(*args, results)) for _ in range(num_envs)]
    for worker in workers:
        worker.start()
    outputs = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join()
    return outputs


def loop_worker(make_env, episodes: int, results) -> None:
    """Runs ``episodes`` episodes in a tight loop and puts the CPU seconds this process spent on them."""
    env = make_env()
    env.reset()
    start = time.process_time()
    for _ in range(episodes):
        while not env.step(0)[3]:
            pass
        env.reset()
    results.put(time.process_time() - start)
    env.close()


def env_loops(make_env, episodes: int = 500) -> tuple[float, float]:
    """Steps/s (process start-up included) and CPU microseconds per step of NUM_ENVS processes looping
    over ``make_env`` envs (their CPU and this process's, where the curriculum's sync thread runs)."""
    learner_cpu, start = time.process_time(), time.perf_counter()
    worker_cpu = sum(in_processes(loop_worker, (make_env, episodes)))
    elapsed, learner_cpu = time.perf_counter() - start, time.process_time() - learner_cpu
    steps = NUM_ENVS * episodes * EPISODE_LENGTH
    return steps / elapsed, (worker_cpu + learner_cpu) / steps * 1e6


class ResetTimer(gym.Wrapper):
    """Puts how long each reset took (seconds) in ``info["reset_wait"]``."""

    def reset(self, **kwargs):
        start = time.perf_counter()
        obs, info = self.env.reset(**kwargs)
        info["reset_wait"] = time.perf_counter() - start
        return obs, info


def make_timed(task_queue, update_queue, prefetch: int) -> gym.Env:
    return ResetTimer(make_synced(task_queue, update_queue, prefetch))


def workload_latency(prefetch: int, episodes_per_env: int = 100) -> list[float]:
    """Reset waits of the envs of the throughput workload (AsyncVectorEnv autoresets), in seconds."""
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(DomainRandomization(TASK_SPACE))
    with curriculum:
        venv = gym.vector.AsyncVectorEnv([partial(make_timed, task_queue, update_queue, prefetch)] * NUM_ENVS)
        try:
            venv.reset(seed=0)
            actions = np.zeros(NUM_ENVS, dtype=np.int64)
            waits: list[float] = []
            while len(waits) < NUM_ENVS * episodes_per_env:
                info = venv.step(actions)[4]
                if "reset_wait" in info:
                    waits.extend(info["reset_wait"][info["_reset_wait"]])
        finally:
            venv.close()
    return waits


def reset_waits(env: gym.Env, episodes: int) -> list[float]:
    """Runs ``episodes`` episodes and returns how long each reset after an episode end took; closes ``env``."""
    env.reset()
    waits = []
    for _ in range(episodes):
        while not env.step(0)[3]:
            pass
        start = time.perf_counter()
        env.reset()  # the episode update just went out; with prefetch=0 this waits for its answer
        waits.append(time.perf_counter() - start)
    env.close()
    return waits


def latency_worker(task_queue, update_queue, prefetch: int, episodes: int, results) -> None:
    results.put(reset_waits(make_synced(task_queue, update_queue, prefetch), episodes))


def latency(prefetch: int, episodes: int = 200, num_envs: int = NUM_ENVS) -> list[float]:
    """Reset waits of ``num_envs`` env processes that each step their env in a tight loop, in seconds."""
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(DomainRandomization(TASK_SPACE))
    with curriculum:
        outputs = in_processes(latency_worker, (task_queue, update_queue, prefetch, episodes), num_envs)
    return [wait for waits in outputs for wait in waits]


# ------------------------------------------------------------------------------------------- Ray


def make_ray_synced(prefetch: int | None = None) -> gym.Env:
    """A near-free env behind RaySyncWrapper; ``prefetch=None`` keeps the wrapper's defaults (and batching)."""
    from syllabus.core import RaySyncWrapper

    return RaySyncWrapper(NearFreeEnv(), **({} if prefetch is None else {"prefetch": prefetch}))


class EnvLoop:
    """Runs its own env loop in a Ray actor: the env's steps with no per-step Ray call around them."""

    def __init__(self, make_env) -> None:
        self.env = make_env()
        self.env.reset()

    def run(self, steps: int) -> int:
        for _ in range(steps):
            if self.env.step(0)[3]:
                self.env.reset()
        return steps


def ray_throughput(reps: int, seconds: float) -> None:
    import ray

    from syllabus.core import make_ray_curriculum
    from syllabus.integrations.ray_vec_env import RayVecEnv

    with make_ray_curriculum(DomainRandomization(TASK_SPACE)):
        raw = RayVecEnv([NearFreeEnv] * NUM_ENVS)
        synced = RayVecEnv([make_ray_synced] * NUM_ENVS)
        try:
            report(
                reps,
                *paired_ratios(
                    reps, partial(measure, raw, seconds, 20), partial(measure, synced, seconds, 20)
                ),
                "   goal >= 0.93",
            )
        finally:
            synced.close()
            raw.close()

        print(f"\n  Env loop inside each of {NUM_ENVS} actors (no per-step Ray call), raw vs synced")
        loop = ray.remote(num_cpus=0)(EnvLoop)
        raw_loops = [loop.remote(NearFreeEnv) for _ in range(NUM_ENVS)]
        synced_loops = [loop.remote(make_ray_synced) for _ in range(NUM_ENVS)]
        steps = 20_000  # per actor and repetition: 200 episodes

        def run_loops(loops) -> tuple[float, float]:
            processes = all_processes()
            cpu, start = cpu_seconds(processes), time.perf_counter()
            ray.get([actor.run.remote(steps) for actor in loops], timeout=300)
            elapsed, cpu = time.perf_counter() - start, cpu_seconds(processes) - cpu
            return NUM_ENVS * steps / elapsed, cpu / (NUM_ENVS * steps) * 1e6

        try:
            run_loops(raw_loops)  # warm up: actor start-up, first connection
            run_loops(synced_loops)
            results = paired_ratios(
                max(2, reps // 4), partial(run_loops, raw_loops), partial(run_loops, synced_loops)
            )
            report(max(2, reps // 4), *results, "")
            per_episode = (statistics.median(results[3]) - statistics.median(results[2])) * EPISODE_LENGTH
            print(f"  sync CPU per episode (one update + one task, all processes): {per_episode:.0f} us")
        finally:
            for actor in raw_loops + synced_loops:
                ray.kill(actor)


def ray_latency(prefetch: int, episodes: int = 200, num_envs: int = NUM_ENVS) -> list[float]:
    import ray

    from syllabus.core import make_ray_curriculum

    def worker(prefetch: int, episodes: int) -> list[float]:
        return reset_waits(make_ray_synced(prefetch), episodes)

    task = ray.remote(num_cpus=0)(worker)
    with make_ray_curriculum(DomainRandomization(TASK_SPACE)):
        results = ray.get([task.remote(prefetch, episodes) for _ in range(num_envs)], timeout=300)
    return [w for waits in results for w in waits]


@contextlib.contextmanager
def local_ray():
    """A local Ray on every core, in a private temporary directory, with its auth token in memory only."""
    import ray

    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))  # else Ray writes one under $HOME
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _temp_dir=temp_dir, logging_level="warning")
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


def print_latency(
    latency_of, goal: str = "   goal median < 1 ms (a full round trip)", default_prefetch: int = 1
) -> None:
    for prefetch in (0, default_prefetch):
        waits = np.array(latency_of(prefetch)) * 1e3
        label = "reset wait, prefetch=0" if prefetch == 0 else f"reset wait, prefetch={prefetch} (default)"
        print(
            f"  {label:34s} median {np.median(waits):.3f} ms   p90 {np.percentile(waits, 90):.3f} ms"
            + (goal if prefetch == 0 else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="Sync overhead benchmark")
    parser.add_argument("--reps", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--backend", choices=["all", "multiprocessing", "ray"], default="all")
    args = parser.parse_args()

    if args.backend in ("all", "multiprocessing"):
        print(
            f"Throughput: {NUM_ENVS} near-free envs, {EPISODE_LENGTH}-step episodes, AsyncVectorEnv, "
            "DomainRandomization"
        )
        throughput(args.reps, args.seconds)
        print("\nTask-delivery latency: 1 env process in a tight step loop, idle machine")
        print_latency(partial(latency, num_envs=1))
        print(
            f"\nTask-delivery latency in the throughput workload ({NUM_ENVS} envs, AsyncVectorEnv autoreset)"
        )
        print_latency(workload_latency, goal="")
        print(f"\nTask-delivery latency under stress: {NUM_ENVS} env processes in tight step loops")
        print_latency(latency, goal="")
    if args.backend in ("all", "ray"):
        with local_ray():
            print(
                f"\nRay throughput: {NUM_ENVS} near-free envs in Ray actors, {EPISODE_LENGTH}-step episodes, "
                "RayVecEnv, DomainRandomization in a Ray actor"
            )
            ray_throughput(args.reps, args.seconds)
            print(f"\nRay task-delivery latency: {NUM_ENVS} env actors under load, reset wait per episode")
            print_latency(ray_latency, goal="", default_prefetch=RAY_DEFAULT_PREFETCH)
            print("\nRay task-delivery latency: 1 env actor, idle machine")
            print_latency(partial(ray_latency, num_envs=1), goal="", default_prefetch=RAY_DEFAULT_PREFETCH)


if __name__ == "__main__":
    main()
