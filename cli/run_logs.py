"""The logs of a run: CSV files other tools read, and TensorBoard scalars.

``logs/progress.csv``    ``step,time,steps_per_sec,episodes,episode_return_mean,episode_length_mean``
                         per log interval (``time``: seconds of training; means over the last 100 episodes)
``logs/episodes.csv``    ``step,env_id,task,episode_return,episode_length`` per finished episode
``logs/curriculum.csv``  ``step,metric,value`` per log interval (task-distribution entropy, top tasks, statistics)
``logs/tb/``             TensorBoard events of the same scalars and SB3's training metrics
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, TextIO

PROGRESS_HEADER = ["step", "time", "steps_per_sec", "episodes", "episode_return_mean", "episode_length_mean"]
EPISODES_HEADER = ["step", "env_id", "task", "episode_return", "episode_length"]
CURRICULUM_HEADER = ["step", "metric", "value"]


def _whole(row: list[str], width: int) -> bool:
    """Whether ``row`` is complete (a crash can leave a partly written last row)."""
    return len(row) == width and row[0].isdigit()


def truncate_csv(path: Path, max_step: int) -> None:
    """Drops the rows of ``path`` logged after ``max_step`` (a resumed run re-logs them) and any partial row."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    kept = rows[:1] + [row for row in rows[1:] if _whole(row, len(rows[0])) and int(row[0]) <= max_step]
    if len(kept) == len(rows):
        return
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(kept)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class _CsvLog:
    """An append-only CSV file with a fixed header, written once when the file is new."""

    def __init__(self, path: Path, header: list[str]) -> None:
        new = not path.exists() or path.stat().st_size == 0
        self._file: TextIO = open(path, "a", newline="")  # noqa: SIM115 - closed by RunLogs.close
        self._writer = csv.writer(self._file)
        if new:
            self._writer.writerow(header)

    def write(self, row: list[Any]) -> None:
        self._writer.writerow(row)

    def flush(self) -> None:
        self._file.flush()

    def fsync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


class RunLogs:
    """Writes the CSV logs and TensorBoard scalars of one run.

    Args:
        run_dir: The run directory.
        tensorboard: Also write TensorBoard events to ``logs/tb``.
        resume_step: When resuming, the checkpoint's step: rows logged after it are dropped first.
    """

    def __init__(self, run_dir: Path, *, tensorboard: bool, resume_step: int | None = None) -> None:
        self.dir = run_dir / "logs"
        self.dir.mkdir(parents=True, exist_ok=True)
        names = ("progress.csv", "episodes.csv", "curriculum.csv")
        if resume_step is not None:
            for name in names:
                truncate_csv(self.dir / name, resume_step)
        self.progress = _CsvLog(self.dir / names[0], PROGRESS_HEADER)
        self.episodes = _CsvLog(self.dir / names[1], EPISODES_HEADER)
        self.curriculum = _CsvLog(self.dir / names[2], CURRICULUM_HEADER)
        self.sb3_logger = self._make_sb3_logger(tensorboard)

    def _make_sb3_logger(self, tensorboard: bool) -> Any:
        from stable_baselines3.common.logger import Logger, TensorBoardOutputFormat

        if not tensorboard:
            return Logger(folder=None, output_formats=[])
        try:
            output = TensorBoardOutputFormat(str(self.dir / "tb"))
        except ImportError:
            from syllabus.cli.errors import MissingDependencyError

            raise MissingDependencyError(
                'logger.tensorboard=true needs TensorBoard: pip install "syllabus-curriculum[tensorboard]", '
                "or run with logger=csv"
            ) from None
        return Logger(folder=str(self.dir / "tb"), output_formats=[output])

    def episode(self, step: int, env_id: int, task: Any, episode_return: float, length: int) -> None:
        """One finished episode."""
        self.episodes.write([step, env_id, task, float(episode_return), int(length)])

    def interval(self, row: dict[str, Any], curriculum_metrics: dict[str, float]) -> None:
        """One log interval: a progress row (keys of [`PROGRESS_HEADER`][syllabus.cli.run_logs.PROGRESS_HEADER]) and curriculum metrics."""
        step = row["step"]
        self.progress.write([row[key] for key in PROGRESS_HEADER])
        for metric, value in curriculum_metrics.items():
            self.curriculum.write([step, metric, value])
        for key in PROGRESS_HEADER[2:]:
            if row[key] != "":
                self.sb3_logger.record(f"rollout/{key}", row[key])
        for metric, value in curriculum_metrics.items():
            self.sb3_logger.record(metric if "/" in metric else f"curriculum/{metric}", value)
        self.sb3_logger.dump(step)
        self.flush()

    def flush(self) -> None:
        """Hands buffered rows to the OS (a crash of this process no longer loses them)."""
        for log in (self.progress, self.episodes, self.curriculum):
            log.flush()

    def sync(self) -> None:
        """Writes every row logged so far to disk; called before each checkpoint, so that a checkpoint is
        never ahead of the logs and a resume (which drops rows after the checkpoint) leaves no hole."""
        for log in (self.progress, self.episodes, self.curriculum):
            log.fsync()

    def close(self) -> None:
        """Flushes and closes every file; idempotent."""
        for log in (self.progress, self.episodes, self.curriculum):
            log.close()
        self.sb3_logger.close()
