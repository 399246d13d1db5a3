"""Learning check of the self-play curricula: the win rate against fixed Connect Four opponents after a fixed budget.

For each curriculum (``sp``, ``fsp``, ``pfsp``) and seed, trains ``syllabus train env=connect_four
curriculum=<c> seed=<s>`` for ``--steps`` env steps (the runner's defaults: MaskablePPO on the tuned
Connect Four settings, 4 envs, ``sync=none`` so that each run is one process; a snapshot every
``--snapshot-interval`` steps; the pool starts with the random opponent), then ``syllabus eval`` plays
``--games`` games against the heuristic opponent (one-step look-ahead) and the random one, seats
alternating, greedy moves. Prints a table of win rates (draws count half) per curriculum and seed.
The learner never trains against the heuristic: the win rate against it measures what self-play taught.

    python bench/selfplay_learning.py [--steps 20000] [--seeds 0 1 2] [--games 100] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CURRICULA = ("sp", "fsp", "pfsp")
SYLLABUS = [sys.executable, "-c", "from syllabus.cli.app import main; main()"]


def train_and_eval(curriculum: str, seed: int, args: argparse.Namespace, root: Path) -> dict[str, float]:
    """Trains one run and evaluates it; returns the win rate against each fixed opponent and the minutes taken."""
    run_dir = root / f"{curriculum}_seed{seed}"
    start = time.monotonic()
    subprocess.run(
        [
            *SYLLABUS,
            "train",
            "env=connect_four",
            f"curriculum={curriculum}",
            f"seed={seed}",
            f"total_timesteps={args.steps}",
            f"curriculum.snapshot_interval={args.snapshot_interval}",
            "sync=none",
            "logger.tensorboard=false",
            f"hydra.run.dir={run_dir}",
            "--quiet",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*SYLLABUS, "eval", str(run_dir), "-n", str(args.games), "--mode", "greedy"],
        check=True,
        capture_output=True,
        text=True,
    )
    (path,) = (run_dir / "eval").glob("final-greedy-seed*.json")
    result = json.loads(path.read_text())
    rates = {opponent: stats["win_rate"] for opponent, stats in result["tasks"].items()}
    rates["minutes"] = (time.monotonic() - start) / 60
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="env steps of each training run")
    parser.add_argument("--snapshot-interval", type=int, default=2048, help="env steps between snapshots")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--games", type=int, default=100, help="evaluation games against each opponent")
    parser.add_argument("--curricula", nargs="+", default=list(CURRICULA), choices=CURRICULA)
    parser.add_argument("--out", type=Path, default=None, help="keep the run directories here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syllabus-bench-selfplay-") as tmp:
        root = args.out or Path(tmp)
        results: dict[str, list[dict[str, float]]] = {}
        for curriculum in args.curricula:
            for seed in args.seeds:
                rates = train_and_eval(curriculum, seed, args, root)
                results.setdefault(curriculum, []).append(rates)
                print(
                    f"{curriculum} seed {seed}: heuristic {rates['heuristic']:.2f}, random {rates['random']:.2f} "
                    f"({rates['minutes']:.1f} min)",
                    flush=True,
                )
    print(
        f"\nWin rate after {args.steps} env steps (draw = 0.5; {args.games} greedy games per opponent, "
        f"seats alternating; snapshot every {args.snapshot_interval} steps)\n"
    )
    seeds = " | ".join(f"seed {s}" for s in args.seeds)
    print(f"| curriculum | vs heuristic: {seeds} | mean +- sd | vs random: mean +- sd |")
    print("|---|" + "---|" * len(args.seeds) + "---|---|")
    for curriculum, runs in results.items():
        heuristic = [r["heuristic"] for r in runs]
        random = [r["random"] for r in runs]
        cells = " | ".join(f"{h:.2f}" for h in heuristic)
        print(f"| {curriculum} | {cells} | {_mean_sd(heuristic)} | {_mean_sd(random)} |")


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} +- {sd:.2f}"


if __name__ == "__main__":
    main()
