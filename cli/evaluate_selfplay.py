"""``syllabus eval`` of a run against fixed opponents (``env=connect_four``): the learner's win rate against each.

The checkpoint's policy plays ``env.eval_opponents`` (``random``, ``heuristic``): ``episodes`` games
against each, in the seats it trained in (``env.seat``: by default alternating, first in the even
games), legal moves only. A game's score is 1
for a win, 0.5 for a draw and 0 for a loss; the win rate is the mean score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from syllabus.cli.builders import make_task_env, task_space_of
from syllabus.cli.run_dir import load_curriculum_state, now
from syllabus.cli.schema import RunConfig
from syllabus.cli.selfplay import opponent_name

SCORES = {"win": 1.0, "draw": 0.5, "loss": 0.0}
"""A game's score by the learner's outcome."""


def evaluate_against_opponents(
    run: RunConfig,
    checkpoint: Path,
    *,
    episodes: int,
    max_opponents: int | None,
    seed: int,
    deterministic: bool,
) -> dict[str, Any]:
    """Plays ``episodes`` games against each evaluation opponent.

    Args:
        run: Its validated config.
        checkpoint: The checkpoint whose policy plays.
        episodes: Games against each opponent.
        max_opponents: Only the first ``max_opponents`` of ``env.eval_opponents`` (all when ``None``).
        seed: Seed of the first game's reset; game ``k`` uses ``seed + k``.
        deterministic: Greedy moves instead of sampled ones.

    Returns:
        The usual keys of a ``syllabus eval`` result but ``step``, ``mode`` and ``episodes_per_task`` (a
        "task" is an opponent; ``success_rate`` is the win rate) plus ``win_rate`` overall and ``win_rate``, ``wins``, ``draws``, ``losses`` per opponent, and
        ``pool``: the training win rates against the opponents in the checkpoint's pool
        ([`pool_win_rates`][syllabus.cli.evaluate_selfplay.pool_win_rates]).
    """
    from syllabus.cli.learners.sb3 import SB3Learner  # env=connect_four trains with learner=sb3_ppo only

    model = SB3Learner.load_policy(run, checkpoint).model
    opponents = task_space_of(run.env, evaluation=True).tasks[:max_opponents]
    env = make_task_env(run.env, evaluation=True)
    per_opponent: dict[str, dict[str, Any]] = {}
    returns: list[float] = []
    lengths: list[int] = []
    game = 0
    try:
        for opponent in opponents:
            outcomes, opponent_returns, opponent_lengths = [], [], []
            for _ in range(episodes):
                outcome, episode_return, length = _play(env, model, opponent, seed + game, deterministic)
                game += 1
                outcomes.append(outcome)
                opponent_returns.append(episode_return)
                opponent_lengths.append(length)
            per_opponent[str(opponent)] = {
                "episodes": episodes,
                "win_rate": float(np.mean([SCORES[o] for o in outcomes])),
                "wins": outcomes.count("win"),
                "draws": outcomes.count("draw"),
                "losses": outcomes.count("loss"),
                "return_mean": float(np.mean(opponent_returns)),
                "return_std": float(np.std(opponent_returns)),
                "length_mean": float(np.mean(opponent_lengths)),
                "completion_mean": float(np.mean([SCORES[o] for o in outcomes])),
            }
            returns += opponent_returns
            lengths += opponent_lengths
    finally:
        env.close()
    result = {
        "checkpoint": checkpoint.name,
        "task_set": "fixed-opponent",
        "seed": seed,
        "episodes": len(returns),
        "mean_return": float(np.mean(returns)),
        "success_rate": float(np.mean([t["win_rate"] for t in per_opponent.values()])),
        "return_mean": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "length_mean": float(np.mean(lengths)),
        "win_rate": float(np.mean([t["win_rate"] for t in per_opponent.values()])),
        "tasks": per_opponent,
        "pool": pool_win_rates(run, checkpoint),
        "time": now(),
    }
    return result


def pool_win_rates(run: RunConfig, checkpoint: Path) -> dict[str, dict[str, Any]] | None:
    """The training win rate and games against each opponent in the checkpoint's pool (``None`` without a pool).

    Opponents are named by [`opponent_name`][syllabus.cli.selfplay.opponent_name], as in the plots.
    """
    state = load_curriculum_state(checkpoint)
    if state is None or "pool" not in state:
        return None
    fixed = list(run.env.initial_opponents)
    out = {}
    for agent_id in state["pool"]["ids"]:
        counts = state["records"].get(agent_id, {"counts": {"wins": 0, "draws": 0, "losses": 0}})["counts"]
        games = sum(counts.values())
        out[opponent_name(agent_id, fixed)] = {
            "id": agent_id,
            "games": games,
            "win_rate": (counts["wins"] + 0.5 * counts["draws"]) / games if games else None,
        }
    return out


def describe(result: dict[str, Any]) -> str:
    """One line per evaluation opponent (win rate, wins, draws, losses), then the training win rates
    against the pool."""
    lines = [
        f"against {opponent}: win rate {stats['win_rate']:.2f} "
        f"({stats['wins']} wins, {stats['draws']} draws, {stats['losses']} losses in {stats['episodes']} games)"
        for opponent, stats in result["tasks"].items()
    ]
    if result.get("pool"):
        rates = ", ".join(
            f"{name} {'-' if stats['win_rate'] is None else format(stats['win_rate'], '.2f')} ({stats['games']})"
            for name, stats in result["pool"].items()
        )
        lines.append(f"training win rates against the pool (games): {rates}")
    return "\n".join(lines)


def _play(env: Any, model: Any, opponent: Any, seed: int, deterministic: bool) -> tuple[str, float, int]:
    """One game against ``opponent`` with legal moves only: the learner's outcome, return and length."""
    obs, info = env.reset(seed=seed, new_task=opponent)
    total, length, done = 0.0, 0, False
    while not done:
        action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=deterministic)
        obs, reward, terminated, truncated, info = env.step(int(action))
        total += float(reward)
        length += 1
        done = terminated or truncated
    return info["outcome"], total, length
