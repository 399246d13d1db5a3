"""``syllabus eval``: play a run's final checkpoint on held-out tasks and write ``eval.json``.

Held-out tasks come from the run's saved config: Procgen plays the ``eval_num_levels`` levels that
follow the training levels; CartPole and MiniGrid play ``env.eval_tasks``, or their training tasks
when none are configured.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf
from syllabus.cli.builders import check_env_config, make_task_env, task_space_of
from syllabus.cli.learners import Policy, learner_class
from syllabus.cli.run_dir import eval_checkpoint, now, verify_checkpoint, write_json
from syllabus.cli.schema import validate


def _held_out(env_cfg: Any) -> bool:
    if getattr(env_cfg, "name", None) == "procgen":
        return True
    return bool(getattr(env_cfg, "eval_tasks", None))


def evaluate_run(
    run_dir: Path,
    *,
    episodes_per_task: int = 3,
    max_tasks: int | None = None,
    seed: int = 12345,
    deterministic: bool = True,
) -> dict[str, Any]:
    """Plays ``episodes_per_task`` episodes on each evaluation task and writes ``run_dir/eval.json``.

    Args:
        run_dir: A finished (or interrupted) run.
        episodes_per_task: Episodes on each task.
        max_tasks: Only the first ``max_tasks`` evaluation tasks (all when ``None``).
        seed: Seed of the first episode's env reset; episode ``k`` uses ``seed + k``.
        deterministic: Greedy actions instead of sampled ones.

    Returns:
        What was written to ``eval.json``.
    """
    run = validate(OmegaConf.load(run_dir / ".hydra" / "config.yaml"))
    check_env_config(run.env)
    checkpoint = eval_checkpoint(run_dir)
    verify_checkpoint(checkpoint, curriculum=False, learner=run.learner.name)  # a damaged file is named
    if run.env.name == "connect_four":  # a two-player game: win rates against fixed opponents
        from syllabus.cli.evaluate_selfplay import describe, evaluate_against_opponents

        result = evaluate_against_opponents(
            run_dir,
            run,
            checkpoint,
            episodes=episodes_per_task,
            max_opponents=max_tasks,
            seed=seed,
            deterministic=deterministic,
        )
        print(describe(result))
        return result
    policy = learner_class(run.learner.name).load_policy(run, checkpoint)
    tasks = task_space_of(run.env, evaluation=True).tasks[:max_tasks]
    env = make_task_env(run.env, evaluation=True)
    per_task: dict[str, dict[str, Any]] = {}
    returns: list[float] = []
    lengths: list[int] = []
    episode = 0
    try:
        for task in tasks:
            task_returns, task_lengths, completions = [], [], []
            for _ in range(episodes_per_task):
                episode_return, length, completion = _play(env, policy, task, seed + episode, deterministic)
                episode += 1
                task_returns.append(episode_return)
                task_lengths.append(length)
                if completion is not None:
                    completions.append(completion)
            per_task[str(task)] = {
                "episodes": len(task_returns),
                "return_mean": float(np.mean(task_returns)),
                "return_std": float(np.std(task_returns)),
                "length_mean": float(np.mean(task_lengths)),
                "completion_mean": float(np.mean(completions)) if completions else None,
            }
            returns += task_returns
            lengths += task_lengths
    finally:
        env.close()
    result = {
        "checkpoint": str(checkpoint.relative_to(run_dir)),
        "task_set": "held-out" if _held_out(run.env) else "training",
        "deterministic": deterministic,
        "seed": seed,
        "episodes": len(returns),
        "return_mean": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "length_mean": float(np.mean(lengths)),
        "tasks": per_task,
        "time": now(),
    }
    write_json(run_dir / "eval.json", result)
    return result


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
