"""Procgen level switching: the cost of a reset into a given level, for each way of doing it.

1. rebuild: close the gym3 env and build a new one for the level (``num_levels=1, start_level=level``).
2. restore, warm: ``ProcgenTaskEnv.reset(new_task=level)`` with every level's start state cached
   (what training on a fixed level set costs after each level's first visit).
3. restore, cold: ``ProcgenTaskEnv.reset(new_task=level)`` into levels never seen before (the env is
   rebuilt for the level and its start state saved).
4. no cache: ``ProcgenTaskEnv(level_cache_size=0).reset(new_task=level)``, a rebuild at every reset.

Each reset is followed by the first observation, as a training loop needs it. The approaches run in
interleaved repetitions (the 2 cores are often shared, so single timings drift); printed are the
median ms per reset and the median of each repetition's ratio to the rebuild approach.

    python bench/procgen_reset.py [--game bigfish] [--resets 400] [--reps 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from functools import partial

from syllabus.envs.procgen import ProcgenTaskEnv, import_procgen, make_procgen

NUM_LEVELS = 200


def rebuild_ms(game: str, levels: list[int]) -> float:
    """Mean ms of closing the gym3 env and building the one of the next level."""
    procgen = import_procgen()

    def build(level: int):
        return procgen.ProcgenGym3Env(
            num=1, env_name=game, num_levels=1, start_level=level, distribution_mode="easy", num_threads=0
        )

    env = build(0)
    start = time.perf_counter()
    for level in levels:
        env.close()
        env = build(level)
        env.observe()
    elapsed = time.perf_counter() - start
    env.close()
    return elapsed / len(levels) * 1e3


def resets_ms(env: ProcgenTaskEnv, levels: Sequence[int]) -> float:
    """Mean ms of ``env.reset(new_task=level)`` over ``levels``."""
    start = time.perf_counter()
    for level in levels:
        env.reset(new_task=level)
    return (time.perf_counter() - start) / len(levels) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--game", default="bigfish")
    parser.add_argument("--resets", type=int, default=400, help="resets per approach and repetition")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()

    fresh_levels = args.resets * args.reps
    warm = make_procgen(args.game, num_levels=NUM_LEVELS)  # also pays the process's one-time asset loading
    cold = make_procgen(args.game, num_levels=fresh_levels, level_cache_size=fresh_levels)
    no_cache = make_procgen(args.game, num_levels=fresh_levels, level_cache_size=0)
    resets_ms(warm, range(NUM_LEVELS))  # caches every level
    times: dict[str, list[float]] = {}
    try:
        for rep in range(args.reps):
            new = range(rep * args.resets, (rep + 1) * args.resets)  # levels not visited before
            cycled = [level % NUM_LEVELS for level in new]
            for name, measure in (
                ("rebuild gym3 env", partial(rebuild_ms, args.game, cycled)),
                ("restore, warm cache", partial(resets_ms, warm, cycled)),
                ("restore, cold (first visit)", partial(resets_ms, cold, new)),
                ("no cache (level_cache_size=0)", partial(resets_ms, no_cache, new)),
            ):
                times.setdefault(name, []).append(measure())
    finally:
        for env in (warm, cold, no_cache):
            env.close()

    base = times["rebuild gym3 env"]
    print(f"Procgen {args.game}: ms per reset into a given level ({args.reps} x {args.resets} resets each)")
    for name, values in times.items():
        ratio = statistics.median(v / b for v, b in zip(values, base, strict=True))
        print(f"  {name:<30} {statistics.median(values):7.3f} ms   ratio to rebuild {ratio:5.2f}")


if __name__ == "__main__":
    main()
