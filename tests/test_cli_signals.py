"""SIGTERM, as schedulers send it, Ctrl-C, and preemption: `syllabus train` stops, checkpoints and resumes.

``timeout``, systemd and SLURM stop a job with SIGTERM to its whole process group (SIGKILL follows
after a grace period); a terminal's Ctrl-C sends SIGINT to the foreground group. The run handles both
alike. Each case sends one of them to the group of a real run once it has trained (SIGINT to the RLlib
run, SIGTERM to the others), then checks what issue #19 asks for: exit code 130, a checkpoint,
``meta.json`` at ``interrupted``, no process and no ``syllabus-*`` temp dir left, and that
``syllabus train --resume RUN`` (one command) completes the run. The stop time of each case is printed
(``-s`` shows it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import pytest
from cli_fixtures import SYLLABUS, cli_env
from syllabus.cli.run_dir import latest_checkpoint, verify_checkpoint
from timeouts import scaled

MARKER = "SYLLABUS_TEST_RUN"  # inherited by every process the run starts, Ray's included
SB3 = [
    "num_envs=2",
    "learner.n_steps=64",
    "learner.n_minibatches=2",
    "learner.n_epochs=1",
    "logger.log_interval=128",
    "logger=csv",
    "curriculum=dr",
]
RLLIB = [
    "learner=rllib_ppo",
    "sync=ray",
    "num_envs=2",
    "learner.train_batch_size=256",
    "learner.minibatch_size=128",
    "learner.num_epochs=1",
    "learner.model={fcnet_hiddens:[16,16]}",
    "logger.log_interval=256",
    "logger=csv",
    "curriculum=dr",
]
CASES = {
    "multiprocessing": [*SB3, "sync=multiprocessing"],  # forkserver: its server is in the group too
    "ray": [*SB3, "sync=ray", "sync.num_cpus=2"],  # Ray's GCS, raylet and actors are in the group too
    "rllib": RLLIB,  # Ctrl-C (SIGINT); Ray blocks SIGINT in its own processes
    "ray-learner-only": [*SB3, "sync=ray", "sync.num_cpus=2"],  # `kill PID`: our handler survived ray.init
}
RESUMED = {
    "multiprocessing"
}  # preemption: the same command continues (resume itself is the same code for all)


def _marked(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARKER) == marker:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def signal_after_training(
    tmp_path: Path, args: list[str], *, steps: int, group: bool = True, signum: int = signal.SIGTERM
) -> tuple[int, float, str, Path]:
    """Starts ``syllabus train ARGS`` in a session of its own, sends ``signum`` to its process group once it
    logged ``steps`` steps (to the learner alone unless ``group``); returns the exit code, the seconds from
    the signal to the exit, the output and the run directory. Fails if a process of the run or a ``syllabus-*`` temp dir outlives it.

    ``TMPDIR`` is the test's own directory, longer than Ray's socket paths allow: a private Ray
    then makes its directory in ``/tmp`` (checked to be gone too). It is made in the suite's temp
    dir, not in ``tmp_path`` (whose length grows with the test's name and pytest-xdist's worker
    directory), so multiprocessing's forkserver socket path under it stays within 107 characters."""
    run_dir, tmp = tmp_path / "run", Path(tempfile.mkdtemp(prefix="sigterm-"))
    marker = uuid.uuid4().hex
    env = {**cli_env(), MARKER: marker, "TMPDIR": str(tmp), "HOME": str(tmp_path / "home")}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen(
        [*SYLLABUS, "train", *args, "total_timesteps=1000000", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # bounded by the test's timeout
            lines.append(line)
            found = re.search(r"step (\d+)/1000000", line)
            if found and int(found.group(1)) >= steps:
                break
        else:
            pytest.fail("the run ended before it trained:\n" + "".join(lines))
        sent = time.monotonic()
        if group:
            os.killpg(proc.pid, signum)  # what `timeout`, systemd and SLURM do; a terminal's Ctrl-C too
        else:
            os.kill(proc.pid, signum)
        rest, _ = proc.communicate(timeout=scaled(120))
        stop_time = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    _, alive = psutil.wait_procs(_marked(marker), timeout=scaled(15))
    assert not alive, f"processes left by the run: {alive}"
    assert not list(tmp.glob("syllabus-*")), f"temp dirs left: {list(tmp.iterdir())}"
    shutil.rmtree(tmp)
    ray_dirs = re.findall(r"started a private local Ray for this run \(in (\S+)\)", "".join(lines) + rest)
    assert all(not Path(d).exists() for d in ray_dirs), f"Ray's temp dir left: {ray_dirs}"
    print(
        f"\n{signal.Signals(signum).name} to the {'group' if group else 'learner'}: exit {proc.returncode} "
        f"after {stop_time:.1f} s"
    )
    return proc.returncode, stop_time, "".join(lines) + rest, run_dir


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize("case", CASES)
def test_sigterm_to_the_group_checkpoints_and_the_run_resumes(tmp_path, case):
    args = CASES[case]
    rllib = case == "rllib"
    signum = signal.SIGINT if rllib else signal.SIGTERM
    rc, stop_time, output, run_dir = signal_after_training(
        tmp_path, args, steps=256, group=not case.endswith("learner-only"), signum=signum
    )
    assert rc == 130, output
    assert f"{signal.Signals(signum).name} received" in output and "interrupted at step" in output, output
    assert "Traceback" not in output, output
    if case != "multiprocessing":  # the test's TMPDIR is too long for Ray's socket paths
        assert "too long for Ray's socket paths" in output, output
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "interrupted" and meta["reason"] is None, meta
    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint is not None and checkpoint.name == f"step_{meta['steps']}"
    verify_checkpoint(checkpoint, curriculum=True, learner="rllib_ppo" if rllib else "sb3_ppo")
    if case not in RESUMED:
        return
    # Preemption: the same command continues the run, here up to a few more steps.
    more = meta["steps"] + (256 if rllib else 128)
    env = {**cli_env(), "HOME": str(tmp_path / "home")}
    env.pop("RAY_ADDRESS", None)
    result = subprocess.run(
        [*SYLLABUS, "train", "--resume", str(run_dir), f"total_timesteps={more}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=scaled(240),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "completed" and meta["resumes"][-1]["from_step"] == int(checkpoint.name[5:])
