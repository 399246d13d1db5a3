"""Do curricula help? Curricula none (target only), dr, plr, robust_plr and lp x seeds on two task families
where the hard target is the last task, then `syllabus eval` (greedy and sampled) and `syllabus compare`.

    python bench/learning/run.py                       # the full benchmark (hours on 2 cores): make bench-learning
    python bench/learning/run.py --reduced             # a short version (minutes): fewer seeds and steps
    python bench/learning/run.py --page-only           # only rewrite docs/results.md from bench/learning/out/

Each family trains `curriculum=none` on the target task alone and every other curriculum on the whole
family; every run is evaluated on the target task (`env.eval_tasks`). Results go to
bench/learning/out/<family>/ (runs, eval files, compare/), the page to docs/results.md and its plots
to docs/results/.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "learning" / "out"
PAGE = ROOT / "docs" / "results.md"
PLOTS = ROOT / "docs" / "results"
CURRICULA = ["dr", "plr", "robust_plr", "lp"]  # besides `none`, which trains on the target alone
# Final mean test return at 25M steps (uniform, PLR) of each Procgen game, easy mode, 200 training levels,
# read off the figure in the README of the PLR authors' repository (facebookresearch/level-replay,
# docs/procgen-results.png) to about +-0.5; the paper's Table 1 has the exact numbers.
PAPER_FIGURE = [
    ("bigfish", "≈3.5", "≈11"),
    ("bossfight", "≈7.7", "≈8.8"),
    ("caveflyer", "≈5.5", "≈6.1"),
    ("chaser", "≈5.3", "≈6.8"),
    ("climber", "≈6.0", "≈6.6"),
    ("coinrun", "≈8.7", "≈8.7"),
    ("dodgeball", "≈0.9", "≈1.4"),
    ("fruitbot", "≈27", "≈28"),
    ("heist", "≈2.9", "≈2.6"),
    ("jumper", "≈6.0", "≈5.9"),
    ("leaper", "≈3.9", "≈6.8"),
    ("maze", "≈5.4", "≈5.5"),
    ("miner", "≈9.0", "≈9.3"),
    ("ninja", "≈6.1", "≈6.7"),
    ("plunder", "≈5.0", "≈7.7"),
    ("starpilot", "≈26", "≈25"),
]


@dataclass(frozen=True)
class Family:
    """A task family: its env settings, the hard target, and the training budget (full and reduced)."""

    name: str
    title: str
    env: list[str]  # overrides that select the env and its tasks
    target_only: list[str]  # overrides that train on the target task alone
    target: list[str]  # overrides that evaluate on the target task
    steps: int
    reduced_steps: int


FAMILIES = [
    Family(
        name="cartpole",
        title="CartPole, initial-state width (target: 0.2)",
        env=["env=cartpole", "env.tasks=[0.02,0.05,0.1,0.15,0.2]"],
        target_only=["env.tasks=[0.2]"],
        target=["env.eval_tasks=[0.2]"],
        steps=100_000,
        reduced_steps=16_384,
    ),
    Family(
        name="minigrid",
        title="MiniGrid DoorKey, 5x5 to 8x8 (target: DoorKey-8x8)",
        env=[
            "env=minigrid",
            "env.env_ids=[MiniGrid-DoorKey-5x5-v0,MiniGrid-DoorKey-6x6-v0,MiniGrid-DoorKey-8x8-v0]",
        ],
        target_only=["env.env_ids=[MiniGrid-DoorKey-8x8-v0]"],
        target=["env.eval_tasks=[MiniGrid-DoorKey-8x8-v0]"],
        steps=500_000,
        reduced_steps=16_384,
    ),
]


def syllabus(*args: str) -> None:
    """Runs `syllabus ARGS` with this interpreter, echoing the command; stops the benchmark if it fails."""
    command = [sys.executable, "-c", "from syllabus.cli.entry import main; main()", *args]
    print("$ syllabus " + shlex.join(args), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def train(family: Family, seeds: int, steps: int, launcher: list[str]) -> None:
    """Two sweeps into one directory: curriculum=none on the target alone, the others on the family."""
    sweep = OUT / family.name
    common = [
        f"seed={','.join(map(str, range(seeds)))}",
        f"total_timesteps={steps}",
        "sync=none",  # cheap envs: one process per run, deterministic
        *family.target,
        *launcher,
        "--quiet",
    ]
    syllabus("train", "-m", "curriculum=none", *family.env, *family.target_only, *common,
             f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=none-${seed}")  # fmt: skip
    syllabus("train", "-m", f"curriculum={','.join(CURRICULA)}", *family.env, *common,
             f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=${curriculum.name}-${seed}")  # fmt: skip


def evaluate_and_compare(family: Family, episodes: int) -> None:
    sweep = OUT / family.name
    syllabus("eval", str(sweep), "-n", str(episodes))
    syllabus("compare", str(sweep), "--by", "curriculum.name", "--out", str(sweep / "compare"))


def write_page(args: argparse.Namespace) -> None:
    """docs/results.md: each family's table and plots from bench/learning/out, the commands, the Procgen preset."""
    lines = [
        "# Do curricula help?",
        "",
        "Curricula `none` (PPO on the target task alone), `dr`, `plr`, `robust_plr` and `lp` (on the whole task",
        "family), each trained with Stable-Baselines3 PPO over several seeds, then evaluated on the hard target",
        "task (greedy and sampled actions) and compared with `syllabus compare`: interquartile mean (IQM) and",
        "mean over seeds with 95% stratified-bootstrap confidence intervals, from",
        "[rliable](https://github.com/google-research/rliable). The results are reported as they came out.",
        "",
        "Only the `eval` rows measure every curriculum on the same task (the target). The `train` rows are",
        "each run's own training episodes: `none` trains on the target alone, the others mostly on easier",
        "tasks, so their training returns are not comparable with each other as a measure of the target.",
        "",
    ]
    if args.reduced:
        lines += [
            '!!! warning "Reduced run"',
            f"    These numbers come from the **reduced** benchmark (`{' '.join(args.command)}`): {args.seeds} seeds and",
            f"    {', '.join(f'{f.reduced_steps:,} steps ({f.name})' for f in FAMILIES)} per run, far from the",
            "    training budget a curriculum needs to show anything, and a bootstrap over 2 runs per group",
            "    gives intervals that mean little. They show the pipeline, not an answer:",
            "    run `make bench-learning` (hours on 2 cores) for the full benchmark.",
            "",
        ]
    else:
        budgets = ", ".join(f"{f.steps:,} ({f.name})" for f in FAMILIES)
        lines += [
            f"The full benchmark: {args.seeds} seeds per curriculum, env steps per run {budgets}, 10 evaluation",
            "episodes per run and mode (greedy, sampled) on the target task, `sync=none` (one process per run).",
            "",
        ]
    lines += [f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `bench/learning/run.py`.", ""]
    for family in FAMILIES:
        compare_dir = OUT / family.name / "compare"
        lines += [f"## {family.title}", ""]
        if not (compare_dir / "compare.md").is_file():
            lines += ["Not run yet: `make bench-learning` writes it.", ""]
            continue
        lines += [(compare_dir / "compare.md").read_text().strip(), ""]
        (PLOTS / family.name).mkdir(parents=True, exist_ok=True)
        for png, caption in (
            ("intervals.png", "IQM with 95% CIs"),
            ("learning_curves.png", "Training return"),
        ):
            shutil.copyfile(compare_dir / png, PLOTS / family.name / png)
            lines += [f"![{family.title}: {caption}](results/{family.name}/{png})", ""]
    lines += [
        "## Reproduce",
        "",
        "```bash",
        "make bench-learning                       # full: 5 seeds, every family (hours on 2 cores)",
        "python bench/learning/run.py --reduced    # minutes: 2 seeds, short runs",
        "```",
        "",
        "What it runs for each family (here CartPole; MiniGrid alike with its env ids):",
        "",
        "```bash",
        "syllabus train -m curriculum=none env=cartpole env.tasks=[0.2] env.eval_tasks=[0.2] seed=0,1,2,3,4 \\",
        "    total_timesteps=100000 sync=none hydra.sweep.dir=bench/learning/out/cartpole 'hydra.sweep.subdir=none-${seed}'",
        "syllabus train -m curriculum=dr,plr,robust_plr,lp env=cartpole env.tasks=[0.02,0.05,0.1,0.15,0.2] \\",
        "    env.eval_tasks=[0.2] seed=0,1,2,3,4 total_timesteps=100000 sync=none \\",
        "    hydra.sweep.dir=bench/learning/out/cartpole 'hydra.sweep.subdir=${curriculum.name}-${seed}'",
        "syllabus eval bench/learning/out/cartpole -n 10              # greedy and sampled, on the target",
        "syllabus compare bench/learning/out/cartpole --by curriculum.name",
        "```",
        "",
        "## Procgen at the PLR paper's scale (not run here)",
        "",
        "Two presets reproduce the setup of Jiang et al. 2021, *Prioritized Level Replay* (ICML 2021): 200",
        "training levels of a game, easy mode, 64 envs, 25M steps, PPO with the IMPALA ResNet and the Procgen",
        "PPO settings; PLR in reference mode (value L1 scores, rank prioritization with temperature 0.1,",
        "staleness 0.1); evaluation on the levels after the training levels (`env.eval_num_levels`).",
        "",
        "```bash",
        "syllabus train -m experiment=procgen_plr env.game=bigfish seed=0,1,2,3,4,5,6,7,8,9   # PLR",
        "syllabus train -m experiment=procgen_dr env.game=bigfish seed=0,1,2,3,4,5,6,7,8,9    # uniform levels",
        "syllabus eval multirun/DATE/TIME -n 10 && syllabus compare multirun/DATE/TIME --by curriculum.name",
        "```",
        "",
        "Each run needs a GPU and about a day; **none was run here**, so this page shows no Procgen result of",
        "ours. For comparison, the final mean test returns (25M steps) of uniform sampling and of PLR (value L1,",
        "rank, temperature 0.1) as the authors publish them in a figure of their repository's README",
        "(`docs/procgen-results.png` of facebookresearch/level-replay; Table 1 of the paper gives exact means",
        "and standard errors over 10 runs). They were **read off that figure** here, to about ±0.5 (±1 for",
        "fruitbot and starpilot): check the paper before relying on a digit.",
        "",
        "| game | uniform | PLR | | game | uniform | PLR |",
        "|---|---:|---:|---|---|---:|---:|",
        *(
            f"| {a[0]} | {a[1]} | {a[2]} | | {b[0]} | {b[1]} | {b[2]} |"
            for a, b in zip(PAPER_FIGURE[:8], PAPER_FIGURE[8:], strict=True)
        ),
        "",
    ]
    PAGE.write_text("\n".join(lines))
    print(f"wrote {PAGE}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reduced", action="store_true", help="2 seeds and short runs (minutes, not hours)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per curriculum (default 5, reduced 2)")
    parser.add_argument("--families", default=",".join(f.name for f in FAMILIES), help="comma-separated")
    parser.add_argument("--jobs", type=int, default=1, help="jobs at once (joblib launcher when > 1)")
    parser.add_argument("--page-only", action="store_true", help="only rewrite docs/results.md")
    args = parser.parse_args()
    args.seeds = args.seeds or (2 if args.reduced else 5)
    args.command = ["python", "bench/learning/run.py", *(a for a in sys.argv[1:] if a != "--page-only")]
    chosen = set(args.families.split(","))
    unknown = chosen - {f.name for f in FAMILIES}
    if unknown:
        parser.error(f"unknown family {sorted(unknown)[0]!r}; valid: {', '.join(f.name for f in FAMILIES)}")
    launcher = [] if args.jobs <= 1 else ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.jobs}"]
    if not args.page_only:
        for family in FAMILIES:
            if family.name in chosen:
                shutil.rmtree(OUT / family.name, ignore_errors=True)
                train(family, args.seeds, family.reduced_steps if args.reduced else family.steps, launcher)
                evaluate_and_compare(family, episodes=5 if args.reduced else 10)
    write_page(args)


if __name__ == "__main__":
    main()
