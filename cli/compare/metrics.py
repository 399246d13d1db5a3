"""What ``syllabus compare`` compares: runs grouped by configuration, checked to be comparable, and the
metrics each run has (its final evaluation per task, its final training return and success)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from syllabus.cli.errors import UserError
from syllabus.cli.run_data import Run, differing_keys, is_seed_override
from syllabus.cli.runs import EVAL_MODES

FINAL_FRACTION = 0.1  # the training return of a run: the mean over its last tenth of episodes
_IDENTITY_KEYS = (
    "env.name",
    "env.game",
    "env.distribution_mode",
)  # runs with different values are not compared


@dataclass
class Metric:
    """One compared quantity: a name and, per run, a vector of per-task scores (``None``: not measured)."""

    name: str
    scores: dict[Path, np.ndarray]


def config_value(run: Run, key: str) -> Any:
    """The run's config value at a dotted ``key`` (``None`` when it has none), a list as its JSON text."""
    value = run.flat_config.get(key)
    return json.dumps(value) if isinstance(value, list) else value


def success_threshold(run: Run) -> float | None:
    """The return at which a training episode counts as a success (``env.success_threshold``), if any."""
    value = run.flat_config.get("env.success_threshold")
    return None if value is None else float(value)


def final_evaluations(run: Run) -> dict[str, dict[str, dict[str, Any]]]:
    """Per mode, the evaluations of the checkpoint with the most steps, averaged over evaluation seeds (those
    on the largest task set, when some evaluations played fewer tasks): task -> ``mean_return``,
    ``success_rate``."""
    evals: dict[str, dict[str, dict[str, Any]]] = {}
    for mode in EVAL_MODES:
        results = [(r.step, r.tasks) for r in run.evals if r.mode == mode and r.tasks is not None]
        if not results:
            continue
        step = max(s for s, _ in results)
        latest = sorted((tasks for s, tasks in results if s == step), key=lambda tasks: -len(tasks))
        latest = [
            tasks for tasks in latest if set(tasks) == set(latest[0])
        ]  # e.g. a --max-tasks eval left out
        evals[mode] = {
            task: {
                key: _mean([tasks[task][key] for tasks in latest]) for key in ("mean_return", "success_rate")
            }
            for task in latest[0]
        }
    return evals


def _mean(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))  # type: ignore[arg-type]


def group_runs(runs: list[Run], by: list[str] | None = None) -> dict[str, list[Run]]:
    """Groups runs by the config values that differ between them (``seed`` aside), or by the keys ``by``.

    A group's label is its overrides that not every run shares (e.g. ``curriculum=plr``), else the
    config values that tell it apart.

    Raises:
        UserError: A key of ``by`` is in no run's config.
    """
    if by:
        missing = [key for key in by if not any(key in run.flat_config for run in runs)]
        if missing:
            raise UserError(
                f"--by {missing[0]}: no run has that config key (e.g. curriculum.name, env.name, seed)"
            )
        keys = by
    else:
        keys = differing_keys(runs)
    groups: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        groups.setdefault(tuple(repr(config_value(run, key)) for key in keys), []).append(run)
    shared = set.intersection(*(set(run.overrides) for run in runs))
    labels: dict[str, list[Run]] = {}
    for members in groups.values():
        label = _label(members[0], keys, shared, by=bool(by))
        labels[label if label not in labels else f"{label} ({members[0].path.name})"] = members
    return labels


def _label(run: Run, keys: list[str], shared: set[str], *, by: bool) -> str:
    if not by:
        own = [o for o in run.overrides if o not in shared and not is_seed_override(o)]
        own = [o for o in own if not o.startswith("hydra.")]
        if own:
            return " ".join(own)
    if not keys:
        return "all runs"
    shown = [f"{key}={config_value(run, key)}" for key in keys[:3]]
    return " ".join(shown) + (" ..." if len(keys) > 3 else "")


def check_comparable(runs: list[Run]) -> None:
    """Refuses runs of different environments or evaluation task sets.

    Raises:
        UserError: Naming the differing value and the runs that have it.
    """
    for key in _IDENTITY_KEYS:
        values: dict[str, list[Path]] = {}
        for run in runs:
            values.setdefault(str(config_value(run, key)), []).append(run.path)
        if len(values) > 1:
            seen = "; ".join(
                f"{value} ({len(paths)} runs, e.g. {paths[0]})" for value, paths in values.items()
            )
            raise UserError(f"runs of different tasks cannot be compared: {key} is {seen}")
    for mode in EVAL_MODES:
        task_sets: dict[tuple[str, ...], Path] = {}
        for run in runs:
            if mode in (evals := final_evaluations(run)):
                task_sets.setdefault(tuple(sorted(evals[mode])), run.path)
        if len(task_sets) > 1:
            (a, first), (b, second) = list(task_sets.items())[:2]
            raise UserError(
                f"runs were evaluated on different task sets ({mode}): {first} on {len(a)} tasks, {second} on "
                f"{len(b)}; evaluate them alike with syllabus eval"
            )


def metrics_of(runs: list[Run]) -> list[Metric]:
    """The metrics that at least one run has: final evaluation return and success per mode (one score per
    evaluation task), and training return and success (mean over the last tenth of training episodes)."""
    out = []
    for mode in EVAL_MODES:
        for key, name in (("mean_return", "return"), ("success_rate", "success")):
            scores = {}
            for run in runs:
                if mode in (evals := final_evaluations(run)):
                    values = [task[key] for _, task in sorted(evals[mode].items())]
                    if None not in values:
                        scores[run.path] = np.array(values, dtype=float)
            out.append(Metric(f"eval {mode} {name}", scores))
    train_return, train_success = {}, {}
    for run in runs:
        _, returns = run.episodes_by_step()
        if returns.size:
            final = returns[-max(1, int(len(returns) * FINAL_FRACTION)) :]
            train_return[run.path] = np.array([final.mean()])
            if (threshold := success_threshold(run)) is not None:
                train_success[run.path] = np.array([(final >= threshold).mean()])
    out += [Metric("train return", train_return), Metric("train success", train_success)]
    return [metric for metric in out if metric.scores]
