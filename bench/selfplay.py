"""Benchmark of self-play costs: ``python bench/selfplay.py``.

Prints microseconds per ``sample(1)`` and per episode update of SelfPlay, FictitiousSelfPlay and
PrioritizedFictitiousSelfPlay with 10 and 100 opponents, and milliseconds per ``add_agent`` and
per ``load`` (cache miss: read and unpickle; cache hit) of a 1 MiB float32 snapshot in a
directory store.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable

import numpy as np

from syllabus.curricula import FictitiousSelfPlay, OpponentPool, PrioritizedFictitiousSelfPlay, SelfPlay

CALLS = 5_000


def best_mean(fn: Callable[[], object], calls: int, repeats: int = 3) -> float:
    """Seconds per call of ``fn``: the best mean over ``repeats`` runs of ``calls`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def bench_curricula(directory: str) -> None:
    for opponents in (10, 100):
        pool = OpponentPool(f"{directory}/curricula-{opponents}", max_agents=opponents)
        for i in range(opponents):
            pool.add_agent(i)
        for cls in (SelfPlay, FictitiousSelfPlay, PrioritizedFictitiousSelfPlay):
            curriculum = cls(pool, random_seed=0)
            outcomes = iter(np.random.default_rng(0).choice([-1.0, 0.0, 1.0], size=10 * CALLS))
            ids = iter(np.random.default_rng(1).integers(opponents, size=10 * CALLS))
            sample = best_mean(lambda c=curriculum: c.sample(1), CALLS)
            update = best_mean(
                lambda c=curriculum, o=outcomes, i=ids: c.update_on_episode(float(next(o)), 9, int(next(i))),
                CALLS,
            )
            print(
                f"{cls.__name__:>30} {opponents:>4} opponents: sample {sample * 1e6:6.1f} us, "
                f"episode update {update * 1e6:6.1f} us"
            )


def bench_pool(directory: str) -> None:
    snapshot = {"weights": np.random.default_rng(0).random(2**18, dtype=np.float32)}  # 1 MiB
    pool = OpponentPool(f"{directory}/pool", max_agents=10, cache_size=1, retain_evicted=0)
    add = best_mean(lambda: pool.add_agent(snapshot), 50)
    latest = pool.latest_id
    assert latest is not None
    miss_ids = iter(pool.agent_ids * 1000)
    miss = best_mean(lambda: pool.load(next(miss_ids)), 50)  # cache_size=1: every other id misses
    hit = best_mean(lambda: pool.load(latest), CALLS)
    print(
        f"1 MiB snapshot: add_agent {add * 1e3:.2f} ms, load (cache miss) {miss * 1e3:.2f} ms, "
        f"load (cache hit) {hit * 1e6:.1f} us"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="syllabus-bench-") as directory:
        bench_curricula(directory)
        bench_pool(directory)


if __name__ == "__main__":
    main()
