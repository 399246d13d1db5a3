"""Reading a run directory: its config and overrides, episodes, evaluations and curriculum log and
state, for ``syllabus plot`` and ``syllabus compare``; and the one rule for what is a seed in a config.

What the runner writes in a run directory (see ``cli/run_logs.py``)::

    RUN/logs/episodes.csv    step,env_id,task,episode_return,episode_length (one row per episode)
    RUN/logs/curriculum.csv  step,metric,value (task entropy, top task probabilities, per-task statistics)
    RUN/logs/progress.csv    step,... per log interval (its last step is the run's last step)
    RUN/.hydra/config.yaml   the composed config (``curriculum.name``, ``env.name``, ``seed``, ...)
    RUN/.hydra/overrides.yaml  the command-line overrides, e.g. ``[curriculum=plr, seed=1]``
    RUN/checkpoints/*/curriculum.pkl  the curriculum's state (PLR scores, LP estimates, ...)
    RUN/eval/<checkpoint>-<mode>-seed<seed>.json, RUN/eval.json  evaluation results
"""

from __future__ import annotations

import csv
import json
import math
import pickle
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from syllabus.cli.errors import RunDataError
from syllabus.cli.runs import CONFIG as CONFIG_FILE
from syllabus.cli.runs import EVAL_DIR

EPISODES_FILE = Path("logs/episodes.csv")
CURRICULUM_FILE = Path("logs/curriculum.csv")
PROGRESS_FILE = Path("logs/progress.csv")
OVERRIDES_FILE = Path(".hydra/overrides.yaml")
CHECKPOINTS_DIR = Path("checkpoints")
CURRICULUM_STATE = "curriculum.pkl"
LEGACY_EVAL_FILE = Path("eval.json")
EPISODES_COLUMNS = ("step", "task", "episode_return")
CURRICULUM_COLUMNS = ("step", "metric", "value")
SEED_KEY = "seed"


@dataclass
class EvalResult:
    """One evaluation of a checkpoint.

    Attributes:
        checkpoint: The checkpoint's name (``final``, ``step_20480``).
        step: Environment steps of the checkpoint.
        mode: ``greedy`` or ``sampled`` actions.
        seed: Seed of the evaluation episodes.
        mean_return: Mean episode return over the evaluation episodes.
        success_rate: Share of successful episodes, when the evaluation reports one.
        tasks: Per evaluation task, its results (``mean_return``, ``success_rate``, ...); ``None`` for
            the older ``eval.json``, which does not record them.
    """

    checkpoint: str
    step: float
    mode: str
    seed: int | None
    mean_return: float
    success_rate: float | None = None
    tasks: dict[str, dict[str, Any]] | None = None


@dataclass
class Run:
    """The logs and config of one run directory.

    Attributes:
        path: The run directory.
        config: The composed Hydra config.
        overrides: The command-line overrides (``key=value`` strings).
        episode_steps: Env steps at which each episode ended, in the order the episodes ended.
        episode_returns: Each episode's return.
        tasks: Each episode's task as written in the CSV.
        evals: The run's evaluation results, in step order.
    """

    path: Path
    config: dict[str, Any]
    overrides: list[str]
    episode_steps: np.ndarray
    episode_returns: np.ndarray
    tasks: list[str]
    evals: list[EvalResult] = field(default_factory=list)

    @property
    def name(self) -> str:
        """A short name: the directory name, with its parent's when it is a multirun job number."""
        return f"{self.path.parent.name}/{self.path.name}" if self.path.name.isdigit() else self.path.name

    @cached_property
    def flat_config(self) -> dict[str, Any]:
        """The config as ``dotted.key -> value`` (see [`flatten`][syllabus.cli.run_data.flatten])."""
        return flatten(self.config)

    def episodes_by_step(self) -> tuple[np.ndarray, np.ndarray]:
        """The episodes' end steps and returns, sorted by step (episodes ending at one step keep their order)."""
        order = np.argsort(self.episode_steps, kind="stable")
        return self.episode_steps[order], self.episode_returns[order]


def _read_csv(path: Path, required: tuple[str, ...]) -> dict[str, list[str]]:
    """The columns of a CSV file; raises RunDataError naming the file and a missing column."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [column for column in required if column not in (reader.fieldnames or [])]
        if missing:
            raise RunDataError(f"{path} has no column {missing[0]!r} (header: {reader.fieldnames})")
        columns: dict[str, list[str]] = {column: [] for column in required}
        for row in reader:
            for column in required:
                columns[column].append(row[column])
    return columns


def _floats(values: list[str]) -> np.ndarray:
    """Parses CSV cells as floats, an empty cell as NaN."""
    return np.array([float(v) if v != "" else math.nan for v in values], dtype=np.float64)


def load_run(run_dir: Path | str, *, episodes_required: bool = True) -> Run:
    """Reads a run directory.

    Args:
        run_dir: The run directory.
        episodes_required: Whether a run without ``logs/episodes.csv`` is an error; else it has no episodes.

    Raises:
        RunDataError: If ``run_dir`` lacks one of the run files, its episode log lacks a needed column,
            or an evaluation result is not one; the message names the file.
    """
    run_dir = Path(run_dir)
    for name in (CONFIG_FILE, EPISODES_FILE) if episodes_required else (CONFIG_FILE,):
        if not (run_dir / name).is_file():
            raise RunDataError(f"{run_dir} is not a Syllabus run directory: {run_dir / name} is missing")
    config = yaml.safe_load((run_dir / CONFIG_FILE).read_text()) or {}
    overrides_path = run_dir / OVERRIDES_FILE
    overrides = (yaml.safe_load(overrides_path.read_text()) or []) if overrides_path.is_file() else []
    if (run_dir / EPISODES_FILE).is_file():
        episodes = _read_csv(run_dir / EPISODES_FILE, EPISODES_COLUMNS)
    else:
        episodes = {column: [] for column in EPISODES_COLUMNS}
    episode_steps = _floats(episodes["step"])
    return Run(
        path=run_dir,
        config=config,
        overrides=[str(o) for o in overrides],
        episode_steps=episode_steps,
        episode_returns=_floats(episodes["episode_return"]),
        tasks=episodes["task"],
        evals=load_evals(run_dir, _last_step(run_dir, episode_steps)),
    )


def _last_step(run_dir: Path, episode_steps: np.ndarray) -> float:
    """The run's last logged step (``progress.csv``), else its last episode's end step, else 0."""
    path = run_dir / PROGRESS_FILE
    if path.is_file():
        steps = _floats(_read_csv(path, ("step",))["step"])
        if len(steps):
            return float(np.nanmax(steps))
    return float(episode_steps.max()) if len(episode_steps) else 0.0


def checkpoint_step(checkpoint: str, last_step: float) -> float:
    """Steps of a checkpoint named by its path: ``step_<N>`` is N, ``final`` the run's last step."""
    match = re.search(r"step_(\d+)", checkpoint)
    return float(match[1]) if match else last_step


def load_evals(run_dir: Path | str, last_step: float = 0.0) -> list[EvalResult]:
    """The evaluation results of a run, in step order.

    Reads ``eval/<checkpoint>-<mode>-seed<seed>.json`` files (keys ``checkpoint``, ``step``,
    ``mode``, ``seed``, ``mean_return``, ``success_rate``, ``tasks``) and the older single ``eval.json``
    (keys ``checkpoint``, ``deterministic``, ``seed``, ``return_mean``).

    Args:
        run_dir: The run directory.
        last_step: Steps of the ``final`` checkpoint, for results that do not record their step.

    Raises:
        RunDataError: A result file is not valid JSON or lacks a needed key; the message names it.
    """
    run_dir = Path(run_dir)
    paths = sorted((run_dir / EVAL_DIR).glob("*.json"))
    results = []
    for path in paths:
        data = _read_json(path)
        try:
            results.append(
                EvalResult(
                    checkpoint=str(data["checkpoint"]),
                    step=float(data["step"]),
                    mode=str(data["mode"]),
                    seed=data.get("seed"),
                    mean_return=float(data["mean_return"]),
                    success_rate=data.get("success_rate"),
                    tasks=dict(data.get("tasks") or {}),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RunDataError(f"{path} is not an evaluation result: {exc!r}") from exc
    legacy = run_dir / LEGACY_EVAL_FILE
    if legacy.is_file():
        data = _read_json(legacy)
        try:
            checkpoint = str(data["checkpoint"])
            results.append(
                EvalResult(
                    checkpoint=Path(checkpoint).name,
                    step=checkpoint_step(checkpoint, last_step),
                    mode="greedy" if data.get("deterministic", True) else "sampled",
                    seed=data.get("seed"),
                    mean_return=float(data["return_mean"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RunDataError(f"{legacy} is not an evaluation result: {exc!r}") from exc
    return sorted(results, key=lambda result: (result.step, result.mode))


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; raises RunDataError naming the file when it is not one."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RunDataError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RunDataError(f"{path} holds {type(data).__name__}, not an evaluation result object")
    return data


def load_curriculum_log(run_dir: Path | str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The run's ``logs/curriculum.csv``: each metric's steps and values (empty without the file).

    Raises:
        RunDataError: The file lacks a needed column.
    """
    path = Path(run_dir) / CURRICULUM_FILE
    if not path.is_file():
        return {}
    columns = _read_csv(path, CURRICULUM_COLUMNS)
    series: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for step, metric, value in zip(columns["step"], columns["metric"], columns["value"], strict=True):
        series[metric][0].append(float(step))
        series[metric][1].append(float(value) if value != "" else math.nan)
    return {metric: (np.array(x), np.array(y)) for metric, (x, y) in series.items()}


def load_curriculum_state(run_dir: Path | str) -> dict[str, Any] | None:
    """The curriculum state of the run's last checkpoint (``final``, else the most steps), or ``None``.

    A state that cannot be read (a damaged or foreign pickle) is ``None``: the plot does without it.
    """
    root = Path(run_dir) / CHECKPOINTS_DIR
    candidates = [p for p in root.glob(f"*/{CURRICULUM_STATE}")] if root.is_dir() else []
    if not candidates:
        return None

    def rank(path: Path) -> tuple[bool, float]:
        return (path.parent.name == "final", checkpoint_step(path.parent.name, 0.0))

    try:
        with open(max(candidates, key=rank), "rb") as f:
            state = pickle.load(f)
    except Exception:
        return None
    return state if isinstance(state, dict) else None


def is_seed_key(key: str) -> bool:
    """Whether a dotted config key (``seed``, ``env.seed``) is a seed: one of its parts is ``seed``."""
    return SEED_KEY in key.split(".")


def is_seed_override(override: str) -> bool:
    """Whether an override such as ``seed=1``, ``+seed=1`` or ``env.seed=1`` sets a seed."""
    return is_seed_key(override.split("=", 1)[0].lstrip("+~"))


def without_seed(config: Any) -> Any:
    """``config`` with every ``seed`` key removed, at any depth."""
    if isinstance(config, dict):
        return {k: without_seed(v) for k, v in config.items() if k != SEED_KEY}
    if isinstance(config, list):
        return [without_seed(v) for v in config]
    return config


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to leaf values (a list is a leaf)."""
    if not isinstance(config, dict):
        return {prefix: config}
    flat: dict[str, Any] = {}
    for key, value in config.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def differing_keys(runs: list[Run]) -> list[str]:
    """The dotted config keys, seeds aside, whose values are not the same in every run, sorted."""
    flats = [run.flat_config for run in runs]
    keys = sorted({key for flat in flats for key in flat if not is_seed_key(key)})
    return [key for key in keys if len({json.dumps(flat.get(key), default=str) for flat in flats}) > 1]


def describe(config: dict[str, Any]) -> str:
    """``curriculum.name on env.name``, from what the config has of them."""
    names = [(config.get(part) or {}).get("name") for part in ("curriculum", "env")]
    return " on ".join(str(name) for name in names if name)
