"""What a run prints when its output goes to a pipe or a log file: early, periodic progress lines (that
no third-party start-up banner is printed once per env process is checked on a Procgen run in
test_curriculum_distributions.py)."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
from cli_fixtures import SYLLABUS, cli_env, syllabus
from timeouts import scaled


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_slow_run_under_a_pipe_logs_early_and_by_wall_time(tmp_path):
    """The log interval is beyond the budget, so every progress line before the end is a timed one."""
    total = 12288
    started = time.monotonic()
    proc = subprocess.Popen(
        [*SYLLABUS, "train", f"total_timesteps={total}", "num_envs=2", "sync=none", "curriculum=dr",
         "learner.n_steps=256", f"logger.log_interval={10 * total}", "logger.log_seconds=1",
         "logger.tensorboard=false", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[tuple[float, str]] = []
    try:
        for line in proc.stdout:  # bounded by the test's timeout
            lines.append((time.monotonic() - started, line))
        proc.wait(scaled(30))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(scaled(10))
    output = "".join(line for _, line in lines)
    assert proc.returncode == 0, output
    assert lines and "starting 2 cartpole envs" in lines[0][1], output
    assert lines[0][0] < scaled(60), f"the first line came after {lines[0][0]:.0f} s"
    assert any("training from step 0 to 12288" in line for _, line in lines), output
    timed = [int(m[1]) for _, line in lines if (m := re.search(rf"step (\d+)/{total} ", line))]
    assert [s for s in timed if s < total], f"no progress line before the end of the budget:\n{output}"
    assert timed == sorted(timed)


@pytest.mark.parametrize("value", ["0", "-5"])
def test_log_seconds_must_be_positive(tmp_path, value):
    result = syllabus("train", f"logger.log_seconds={value}", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(f"logger.log_seconds must be >= 1, got {float(value)}")
