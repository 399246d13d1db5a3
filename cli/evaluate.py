"""``syllabus eval``: play a run's checkpoint on held-out tasks, greedy and sampled, one file per evaluation.

Held-out tasks come from the run's saved config: Procgen plays the ``eval_num_levels`` levels that
follow the training levels; CartPole and MiniGrid play ``env.eval_tasks``, or their training tasks
when none are configured.

Each evaluation is written to ``RUN_DIR/eval/<checkpoint>-<mode>-seed<seed>.json`` (e.g.
``final-greedy-seed12345.json``), so evaluations of other checkpoints, modes or seeds are kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf
from syllabus.cli.builders import make_task_env, task_space_of
from syllabus.cli.learners import Policy, learner_class
from syllabus.cli.registry import REGISTRY
from syllabus.cli.run_dir import eval_checkpoint, now, verify_checkpoint, write_json
from syllabus.cli.runs import EVAL_MODES, eval_path
from syllabus.cli.schema import validate


def evaluate_run(
    run_dir: Path,
    *,
    modes: tuple[str, ...] = EVAL_MODES,
    episodes_per_task: int = 3,
    max_tasks: int | None = None,
    seed: int = 12345,
) -> list[tuple[Path, dict[str, Any]]]:
    """Plays ``episodes_per_task`` episodes on each evaluation task in each mode and writes one file per mode.

    Args:
        run_dir: A finished (or interrupted) run.
        modes: ``greedy`` (the most likely action) and/or ``sampled`` (actions drawn from the policy).
        episodes_per_task: Episodes on each task.
        max_tasks: Only the first ``max_tasks`` evaluation tasks (all when ``None``).
        seed: Seed of the first episode's env reset; episode ``k`` uses ``seed + k``, in every mode.

    Returns:
        For each mode, the file written and its contents.
    """
    run = validate(OmegaConf.load(run_dir / ".hydra" / "config.yaml"))
    checkpoint = eval_checkpoint(run_dir)
    state = verify_checkpoint(
        checkpoint, curriculum=False, learner=run.learner.name
    )  # a damaged file is named
    if REGISTRY.env(run.env).opponents:  # a two-player game: win rates against fixed opponents
        return _evaluate_game(
            run_dir, run, checkpoint, state.num_timesteps, modes, episodes_per_task, max_tasks, seed
        )
    policy = learner_class(run.learner.name).load_policy(run, checkpoint)
    tasks = task_space_of(run.env, evaluation=True).tasks[:max_tasks]
    threshold = getattr(run.env, "success_threshold", None)
    env = make_task_env(run.env, evaluation=True)
    written = []
    try:
        for mode in modes:
            per_task = {
                str(task): _play_task(env, policy, task, seed, episodes_per_task, mode == "greedy", threshold)
                for task in tasks
            }
            result = {
                "checkpoint": checkpoint.name,
                "step": state.num_timesteps,
                "mode": mode,
                "seed": seed,
                "episodes_per_task": episodes_per_task,
                "task_set": "held-out" if REGISTRY.env(run.env).held_out(run.env) else "training",
                "episodes": episodes_per_task * len(per_task),
                "mean_return": float(np.mean([t["mean_return"] for t in per_task.values()])),
                "success_rate": _mean_or_none([t["success_rate"] for t in per_task.values()]),
                "tasks": per_task,
                "time": now(),
            }
            path = eval_path(run_dir, checkpoint.name, mode, seed)
            path.parent.mkdir(exist_ok=True)
            write_json(path, result)
            written.append((path, result))
    finally:
        env.close()
    return written


def _evaluate_game(
    run_dir: Path,
    run: Any,
    checkpoint: Path,
    step: int,
    modes: tuple[str, ...],
    episodes_per_task: int,
    max_tasks: int | None,
    seed: int,
) -> list[tuple[Path, dict[str, Any]]]:
    """``evaluate_run`` of a two-player game: games against each fixed opponent, one file per mode."""
    from syllabus.cli.evaluate_selfplay import describe, evaluate_against_opponents

    written = []
    for mode in modes:
        result = evaluate_against_opponents(
            run,
            checkpoint,
            episodes=episodes_per_task,
            max_opponents=max_tasks,
            seed=seed,
            deterministic=mode == "greedy",
        )
        result.update(step=step, mode=mode, episodes_per_task=episodes_per_task)
        print(f"{mode} moves:\n{describe(result)}")
        path = eval_path(run_dir, checkpoint.name, mode, seed)
        path.parent.mkdir(exist_ok=True)
        write_json(path, result)
        written.append((path, result))
    return written


def _play_task(
    env: Any,
    policy: Policy,
    task: Any,
    seed: int,
    episodes: int,
    deterministic: bool,
    threshold: float | None,
) -> dict[str, Any]:
    """Statistics of ``episodes`` episodes of ``task``, seeded ``seed``, ``seed + 1``, ..."""
    returns, lengths, successes = [], [], []
    for k in range(episodes):
        episode_return, length, completion = _play(env, policy, task, seed + k, deterministic)
        returns.append(episode_return)
        lengths.append(length)
        if completion is not None:
            successes.append(completion)
        elif threshold is not None:
            successes.append(float(episode_return >= threshold))
    return {
        "episodes": episodes,
        "mean_return": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "success_rate": _mean_or_none(successes),
        "length_mean": float(np.mean(lengths)),
    }


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    """The mean of ``values``, or ``None`` when there are none or one is missing (no success measure)."""
    known = [v for v in values if v is not None]
    if not values or len(known) < len(values):
        return None
    return float(np.mean(known))


def _play(
    env: Any, policy: Policy, task: Any, seed: int, deterministic: bool
) -> tuple[float, int, float | None]:
    """One episode of ``task``: its return, length and final ``info["task_completion"]`` (if reported)."""
    obs, info = env.reset(seed=seed, new_task=task)
    total, length, done = 0.0, 0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs, deterministic=deterministic))
        total += float(reward)
        length += 1
        done = terminated or truncated
    completion = info.get("task_completion")
    return total, length, None if completion is None or math.isnan(completion) else float(completion)
