"""Benchmark of curriculum costs: ``python bench/curricula.py``.

Prints microseconds per ``sample()`` and milliseconds per update for Prioritized Level Replay
(``custom_update`` of a 256-step x 64-env rollout, every task seen and scored) and per
``sample()`` and per episode update for DomainRandomization and LearningProgress, at 200, 10,000
and 100,000 tasks; then PLR at 1,000,000 tasks in both modes (a sample, and the first sample after
an update, which recomputes the replay weights; wall-clock and CPU time); then checks the PLR goals.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.task_space import DiscreteTaskSpace

SIZES = (200, 10_000, 100_000)
STEPS, ENVS = 256, 64
SAMPLE_CALLS = 20_000
EPISODE_CALLS = 5_000
UPDATES = 10
SAMPLE_GOAL_US, UPDATE_GOAL_MS = 20.0, 5.0
MILLION, FIRST_SAMPLE_GOAL_MS = 1_000_000, 50.0


def best_mean(
    fn: Callable[[], object], calls: int, repeats: int = 3, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Seconds per call of ``fn``: the best mean over ``repeats`` runs of ``calls`` calls, timed by ``clock``."""
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        for _ in range(calls):
            fn()
        best = min(best, (clock() - start) / calls)
    return best


def score_every_task(plr: PrioritizedLevelReplay, n: int) -> None:
    """Scores all ``n`` tasks with one-step episodes, the largest score distribution PLR can hold."""
    rng = np.random.default_rng(0)
    for start in range(0, n, STEPS * ENVS):
        tasks = (start + np.arange(STEPS * ENVS)).reshape(STEPS, ENVS) % n
        ones = np.ones((STEPS, ENVS))
        plr.custom_update(tasks, rng.normal(size=(STEPS, ENVS)), ones, ones, np.zeros(ENVS))


def make_rollout(plr: PrioritizedLevelReplay, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A rollout whose episodes end with probability 1/64 per step and take tasks sampled by ``plr``."""
    dones = rng.random((STEPS, ENVS)) < 1 / 64
    episode = np.cumsum(np.vstack([np.zeros((1, ENVS), dtype=int), dones[:-1]]), axis=0)
    episode_tasks = np.array(plr.sample(ENVS * STEPS)).reshape(STEPS, ENVS)
    tasks = np.take_along_axis(episode_tasks, episode, axis=0)
    shape = (STEPS, ENVS)
    return tasks, rng.normal(size=shape), dones, rng.normal(size=shape), rng.normal(size=ENVS)


def bench_plr(n: int) -> tuple[float, float]:
    """(µs per sample, ms per custom_update) of a default PLR with every task scored."""
    plr = PrioritizedLevelReplay(DiscreteTaskSpace(n), random_seed=0)
    score_every_task(plr, n)
    rng = np.random.default_rng(1)
    rollouts = [make_rollout(plr, rng) for _ in range(UPDATES)]
    sample_s = best_mean(plr.sample, SAMPLE_CALLS)
    start = time.perf_counter()
    for rollout in rollouts:
        plr.custom_update(*rollout)
    update_s = (time.perf_counter() - start) / UPDATES
    return sample_s * 1e6, update_s * 1e3


class MillionFigures(NamedTuple):
    """PLR at a million tasks: wall-clock figures (the goals) and the process's CPU time for the same."""

    sample_us: float
    first_ms: float
    sample_cpu_us: float
    first_cpu_ms: float


def bench_plr_million(mode: str) -> MillionFigures:
    """µs per sample and ms of the first sample after an update at a million tasks, every task scored.

    Each is the best of three updates; the CPU times show the code's own cost when other work
    shares the machine (wall-clock minus CPU time is time spent waiting for a core).
    """
    plr = PrioritizedLevelReplay(DiscreteTaskSpace(MILLION), mode=mode, random_seed=0)
    plr.sample(ENVS)  # some staleness mass, which the reference's mixture needs
    score_every_task(plr, MILLION)
    rng = np.random.default_rng(1)
    figures = []
    for _ in range(3):
        plr.custom_update(*make_rollout(plr, rng))
        wall, cpu = time.perf_counter(), time.process_time()
        plr.sample()
        first, first_cpu = time.perf_counter() - wall, time.process_time() - cpu
        sample = best_mean(plr.sample, SAMPLE_CALLS // 4, repeats=1)
        sample_cpu = best_mean(plr.sample, SAMPLE_CALLS // 4, repeats=1, clock=time.process_time)
        figures.append((sample * 1e6, first * 1e3, sample_cpu * 1e6, first_cpu * 1e3))
    return MillionFigures(*(min(column) for column in zip(*figures, strict=True)))


def bench_episode_curriculum(module: str, name: str, n: int) -> tuple[float, float] | str:
    """(µs per sample, µs per update_on_episode), or a note when the curriculum is unavailable."""
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        return f"skipped: {module}.{name} is not available ({err})"
    curriculum = cls(DiscreteTaskSpace(n))
    tasks = iter(np.random.default_rng(0).integers(n, size=3 * EPISODE_CALLS + 3).tolist())
    sample_s = best_mean(curriculum.sample, SAMPLE_CALLS)

    def update() -> None:
        curriculum.update_on_episode(1.0, 10, next(tasks), progress=0.5, env_id=0)

    update_s = best_mean(update, EPISODE_CALLS)
    return sample_s * 1e6, update_s * 1e6


def main() -> None:
    print(f"{'curriculum':<22}{'tasks':>9}{'sample (µs)':>14}{'update':>22}")
    plr_results = {}
    for n in SIZES:
        plr_results[n] = bench_plr(n)
        sample_us, update_ms = plr_results[n]
        print(f"{'PrioritizedLevelReplay':<22}{n:>9}{sample_us:>14.2f}{update_ms:>12.2f} ms/rollout")
    for module, name in (
        ("syllabus.curricula.domain_randomization", "DomainRandomization"),
        ("syllabus.curricula.learning_progress", "LearningProgress"),
    ):
        for n in SIZES:
            result = bench_episode_curriculum(module, name, n)
            if isinstance(result, str):
                print(f"{name:<22}{result}")
                break
            print(f"{name:<22}{n:>9}{result[0]:>14.2f}{result[1]:>12.2f} µs/episode")

    million = {mode: bench_plr_million(mode) for mode in ("corrected", "reference")}
    for mode, figures in million.items():
        print(
            f"{'PLR ' + mode:<22}{MILLION:>9}{figures.sample_us:>14.2f}{figures.first_ms:>12.2f} ms first sample "
            f"after an update (CPU: {figures.sample_cpu_us:.2f} µs, {figures.first_cpu_ms:.2f} ms)"
        )

    sample_us, update_ms = plr_results[10_000]
    sample_ratio = plr_results[100_000][0] / sample_us
    update_ratio = plr_results[100_000][1] / update_ms
    print("\nPLR goals at 10,000 tasks:")
    print(
        f"  sample  {sample_us:6.2f} µs <= {SAMPLE_GOAL_US:g} µs: {'PASS' if sample_us <= SAMPLE_GOAL_US else 'FAIL'}"
    )
    print(
        f"  update  {update_ms:6.2f} ms <= {UPDATE_GOAL_MS:g} ms: {'PASS' if update_ms <= UPDATE_GOAL_MS else 'FAIL'}"
    )
    print("PLR cost 100,000 / 10,000 tasks (linear bound 10x):")
    print(f"  sample  {sample_ratio:5.2f}x: {'PASS' if sample_ratio <= 10 else 'FAIL'}")
    print(f"  update  {update_ratio:5.2f}x: {'PASS' if update_ratio <= 10 else 'FAIL'}")
    print(f"PLR at {MILLION:,} tasks:")
    for mode, figures in million.items():
        ok = figures.sample_us <= SAMPLE_GOAL_US and figures.first_ms <= FIRST_SAMPLE_GOAL_MS
        print(
            f"  {mode:<10} sample {figures.sample_us:6.2f} µs <= {SAMPLE_GOAL_US:g} µs, first sample after an "
            f"update {figures.first_ms:6.1f} ms <= {FIRST_SAMPLE_GOAL_MS:g} ms: {'PASS' if ok else 'FAIL'}"
        )
    print(f"(load average when done: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
