"""``syllabus plot`` of a run with opponents (``env=connect_four``): its win rate over training and its
opponent distribution, in ``RUN/plots/self_play.png``.

Reads ``RUN/logs/episodes.csv`` (each episode's opponent is its ``task``, its return the outcome: +1
win, 0 draw, -1 loss), ``RUN/.hydra/config.yaml`` and, when there is one, the latest greedy evaluation
(``RUN/eval/*-greedy-seed*.json``, the one of the checkpoint with the most steps). In a
self-play run the opponents are pool ids: ids ``0 .. k-1`` are the fixed ``env.initial_opponents``,
the later ones the learner's snapshots in the order they were taken.

Top panel: the learner's win rate (draws count half) in a trailing window of training games, against
all opponents and against each fixed one it met, with the final evaluation against fixed opponents
as points at the last step. Bottom panel: each opponent's share of the games per step bin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from syllabus.cli.run_data import EvalResult, Run
from syllabus.cli.selfplay import opponent_name

SELF_PLAY_PNG = "self_play.png"
MAX_WINDOW = 200  # at most this many games in the trailing win rate
MAX_BINS = 40  # step bins of the opponent distribution
GAMES_PER_BIN = 20  # a bin holds about this many games (up to MAX_BINS bins)


def plot_self_play_runs(runs: list[Run]) -> list[Path]:
    """Writes ``plots/self_play.png`` for each of ``runs`` that plays against opponents.

    Returns:
        The PNGs written.
    """
    return [plot_self_play(run) for run in runs if run.config.get("env", {}).get("name") == "connect_four"]


def opponent_names(config: dict[str, Any], opponents: list[str]) -> dict[str, str]:
    """A label for each opponent as logged: [`opponent_name`][syllabus.cli.selfplay.opponent_name] of a pool id."""
    if config.get("curriculum", {}).get("name") not in ("sp", "fsp", "pfsp"):
        return {o: o for o in opponents}  # the tasks are the fixed opponents' names
    fixed = list(config.get("env", {}).get("initial_opponents", []))
    return {opponent: opponent_name(int(opponent), fixed) for opponent in opponents}


def _scores(run: Run) -> np.ndarray:
    """Each game's score (1 win, 0.5 draw, 0 loss), in the order they ended."""
    return (np.sign(run.episode_returns) + 1.0) / 2.0


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each value and the ``window - 1`` before it (fewer at the start)."""
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def plot_self_play(run: Run) -> Path:
    """Draws the win rate over training and the opponent distribution of one run; returns the PNG's path."""
    run_dir, config = run.path, run.config
    steps, opponents, scores = run.episode_steps, run.tasks, _scores(run)
    names = opponent_names(config, sorted(set(opponents), key=_opponent_key))
    fig = Figure(figsize=(9, 8), layout="constrained")
    rate_ax, dist_ax = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1.2))
    curriculum = config.get("curriculum", {}).get("name", "?")
    rate_ax.set_title(
        f"Connect Four, curriculum={curriculum}, seed={config.get('seed', '?')}: {run_dir.name}"
    )
    if not len(steps):
        rate_ax.text(0.5, 0.5, "no finished games yet", ha="center", va="center", transform=rate_ax.transAxes)
    else:
        _plot_win_rates(rate_ax, final_evaluation(run.evals), steps, opponents, scores, names)
        _plot_opponent_shares(fig, dist_ax, steps, opponents, names)
    dist_ax.set_xlabel("environment steps")
    path = run_dir / "plots" / SELF_PLAY_PNG
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def final_evaluation(evals: list[EvalResult]) -> dict[str, dict[str, Any]]:
    """Per opponent, the results (``win_rate``, ``episodes``, ...) of the greedy evaluation of the checkpoint
    with the most steps (of its evaluation seeds, the last by file name); empty without one."""
    greedy = [result for result in evals if result.mode == "greedy" and result.tasks is not None]
    return (greedy[-1].tasks or {}) if greedy else {}


def _opponent_key(opponent: str) -> tuple[int, Any]:
    return (0, int(opponent)) if opponent.isdigit() else (1, opponent)


def _plot_win_rates(
    ax: Any,
    evaluation: dict[str, dict[str, Any]],
    steps: np.ndarray,
    opponents: list[str],
    scores: np.ndarray,
    names: dict[str, str],
) -> None:
    window = int(np.clip(len(scores) // 10, 1, MAX_WINDOW))
    ax.plot(steps, trailing_mean(scores, window), label=f"all training opponents (last {window} games)")
    labels = np.array([names[o] for o in opponents])
    for name in sorted({n for n in labels.tolist() if not n.startswith("snapshot")}):
        mask = labels == name
        games = int(mask.sum())
        ax.plot(
            steps[mask],
            trailing_mean(scores[mask], int(np.clip(games // 10, 1, MAX_WINDOW))),
            label=f"training games against {name} ({games})",
        )
    for opponent, stats in evaluation.items():
        if "win_rate" in stats:
            ax.scatter(
                [steps.max()],
                [stats["win_rate"]],
                marker="*",
                s=120,
                zorder=3,
                label=f"eval against {opponent}: {stats['win_rate']:.2f} ({stats['episodes']} games)",
            )
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("win rate (draw = 0.5)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")


def _plot_opponent_shares(
    fig: Figure, ax: Any, steps: np.ndarray, opponents: list[str], names: dict[str, str]
) -> None:
    order = sorted(set(opponents), key=_opponent_key)
    row_of = {o: i for i, o in enumerate(order)}
    bins = int(np.clip(len(steps) // GAMES_PER_BIN, 1, MAX_BINS))
    edges = np.linspace(steps.min(), max(steps.max(), steps.min() + 1), bins + 1)
    columns = np.clip(np.searchsorted(edges, steps, side="right") - 1, 0, bins - 1)
    counts = np.zeros((len(order), bins))
    rows = np.array([row_of[o] for o in opponents], dtype=int)
    np.add.at(counts, (rows, columns), 1)
    shares = counts / np.maximum(counts.sum(axis=0, keepdims=True), 1)
    image = ax.pcolormesh(edges, np.arange(len(order) + 1) - 0.5, shares, cmap="magma_r", vmin=0, vmax=1)
    ticks = np.unique(np.linspace(0, len(order) - 1, min(len(order), 20)).round().astype(int))
    ax.set_yticks(ticks, [names[order[i]] for i in ticks], fontsize="small")
    ax.set_ylabel("opponent")
    ax.set_title("Opponent distribution (share of games per step bin)", fontsize="medium")
    fig.colorbar(image, ax=ax, label="share of games")
