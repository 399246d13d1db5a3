"""Fault injection into `syllabus train`: dead or raising env workers, a raising curriculum, a killed learner.

Each case runs the real CLI (tests/fault_driver.py injects the fault into a real env in its real
worker process or Ray actor) in a session of its own, then checks what issue #11 asks for: the run
stops within the sync timeout of the fault, with one error naming the env and the cause, exit code
1, ``meta.json`` at ``failed`` with the reason and steps, every checkpoint left valid, every log row
up to the latest checkpoint on disk, and no process of the run left behind.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from cli_fixtures import ROOT, SYLLABUS, cli_env, live_session_processes, read_csv, syllabus
from syllabus.cli.run_dir import checkpoint_dir, latest_checkpoint, load_trainer_state, verify_checkpoint
from timeouts import scaled

DRIVER = [sys.executable, str(ROOT / "tests" / "fault_driver.py")]
NUM_ENVS = 3
SYNC_TIMEOUT = scaled(20.0)  # the bound on the stop time
RUN = [
    f"num_envs={NUM_ENVS}",
    "total_timesteps=100000",  # stops by the fault, long before
    "learner.n_steps=64",
    "learner.n_minibatches=4",
    "learner.n_epochs=1",
    "logger.log_interval=192",
    "logger.checkpoint_interval=192",
    "logger=csv",
    "--quiet",
]
RNG = random.Random(11)  # the fault's step in each case: random, but the same in every test session


def _at() -> int:
    return RNG.randrange(40, 200)


def run_with_fault(
    tmp_path: Path, fault: str, *overrides: str, timeout: float | None = None
) -> tuple[subprocess.CompletedProcess, float, Path]:
    """Runs the CLI with ``fault`` (see fault_driver.py); returns the result, the seconds from the fault
    to the exit, and the run directory. Fails if the run's processes outlive it."""
    run_dir, stamp = tmp_path / "run", tmp_path / "fault_time"
    timeout_override = [] if "sync=none" in overrides else [f"sync.timeout={SYNC_TIMEOUT}"]
    env = cli_env() | {"SYLLABUS_TEST_FAULT": fault, "SYLLABUS_TEST_FAULT_STAMP": str(stamp)}
    proc = subprocess.Popen(
        [*DRIVER, "train", *RUN, *overrides, *timeout_override, f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=scaled(150) if timeout is None else timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(scaled(10))
    ended = time.time()
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert stamp.exists(), f"the fault never happened\n{out}\n{err}"
    _assert_no_process_left(proc.pid)
    return result, ended - float(stamp.read_text()), run_dir


def _assert_no_process_left(session: int) -> None:
    gone, alive = psutil.wait_procs(live_session_processes(session), timeout=scaled(15))
    assert not alive, f"processes of the run outlived it: {alive}"


def assert_failed_cleanly(
    result: subprocess.CompletedProcess, stop_time: float, run_dir: Path, *causes: str
) -> dict:
    """The checks every fault shares; returns ``meta.json``."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("syllabus train: error:")]
    assert result.returncode == 1, result.stderr
    assert len(errors) == 1, result.stderr
    for cause in causes:
        assert cause in result.stderr, result.stderr
    assert stop_time < SYNC_TIMEOUT, f"stopped {stop_time:.1f} s after the fault"
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "failed" and causes[0] in meta["reason"]
    assert_checkpoints_valid_and_logged(run_dir, meta["steps"])
    return meta


def assert_checkpoints_valid_and_logged(run_dir: Path, steps: int) -> None:
    """Every checkpoint is whole and not ahead of the run; every episode up to the latest is in the log."""
    root = checkpoint_dir(run_dir)
    checkpoints = [p for p in root.iterdir() if not p.name.startswith(".")] if root.is_dir() else []
    assert "final" not in {p.name for p in checkpoints}
    for checkpoint in checkpoints:
        assert verify_checkpoint(checkpoint, curriculum=True).num_timesteps <= steps
    latest = latest_checkpoint(run_dir)
    if latest is not None:
        state = load_trainer_state(latest)
        episodes = read_csv(run_dir / "logs" / "episodes.csv")
        assert sum(int(row["step"]) <= state.num_timesteps for row in episodes) == state.episodes


# ------------------------------------------------------------ dead env workers

# One run per start method, a random index under forkserver (the default) and fork, the last under spawn;
# every index is killed in the vector env on its own (test_guarded_subproc_vec_env_names_a_killed_worker...).
KILLS = [("forkserver", RNG.randrange(NUM_ENVS)), ("fork", RNG.randrange(NUM_ENVS)), ("spawn", NUM_ENVS - 1)]


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize(("start_method", "index"), KILLS)
def test_killed_env_worker_stops_the_run(tmp_path, start_method, index):
    result, stop_time, run_dir = run_with_fault(
        tmp_path, f"kill:{index}:{_at()}", "sync=multiprocessing", f"sync.start_method={start_method}"
    )
    meta = assert_failed_cleanly(result, stop_time, run_dir, f"env {index} died", "killed by SIGKILL")
    assert meta["steps"] > 0


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("sync", ["multiprocessing", "none"])
def test_env_raising_stops_the_run_with_its_traceback(tmp_path, sync):
    index = RNG.randrange(NUM_ENVS)
    result, stop_time, run_dir = run_with_fault(tmp_path, f"raise:{index}:{_at()}", f"sync={sync}")
    assert_failed_cleanly(result, stop_time, run_dir, f"env {index} raised RuntimeError", "injected fault")
    assert "Traceback (most recent call last)" in result.stderr  # the env's own
    assert ", in step\n" in result.stderr and "\nRuntimeError: injected fault" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("sync", ["multiprocessing", "none"])
def test_env_failing_to_build_is_reported_as_its_own_error(tmp_path, sync):
    index = NUM_ENVS - 1
    result, stop_time, run_dir = run_with_fault(tmp_path, f"build:{index}:0", f"sync={sync}")
    assert_failed_cleanly(result, stop_time, run_dir, f"env {index} raised RuntimeError", "injected fault")
    assert "EOFError" not in result.stderr and "ConnectionResetError" not in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("sync", ["multiprocessing", "none"])
def test_curriculum_raising_stops_the_run(tmp_path, sync):
    result, stop_time, run_dir = run_with_fault(
        tmp_path, f"curriculum:0:{RNG.randrange(3, 30)}", f"sync={sync}"
    )
    assert_failed_cleanly(result, stop_time, run_dir, "injected curriculum fault")


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("sync", ["multiprocessing", "none"])
def test_nan_reward_names_its_env_under_domain_randomization(tmp_path, sync):
    index = RNG.randrange(NUM_ENVS)
    result, stop_time, run_dir = run_with_fault(
        tmp_path, f"nan:{index}:{_at()}", f"sync={sync}", "curriculum=dr"
    )
    assert_failed_cleanly(result, stop_time, run_dir, f"env {index} returned a non-finite reward (nan)")
    assert "tensor(" not in result.stderr and "Traceback" not in result.stderr
    print(f"\nNaN reward, sync={sync}: exit {result.returncode} {stop_time:.1f} s after the fault")


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("fault", ["kill", "raise"])
def test_ray_env_actor_failure_stops_the_run(tmp_path, fault):
    index = NUM_ENVS - 1
    result, stop_time, run_dir = run_with_fault(
        tmp_path, f"{fault}:{index}:{_at()}", "sync=ray", "sync.num_cpus=2", timeout=scaled(280)
    )
    cause = f"env {index} of the RayVecEnv died" if fault == "kill" else f"env {index} raised RuntimeError"
    assert_failed_cleanly(result, stop_time, run_dir, cause)


# --------------------------------------------------------------- killed learner


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("sync", ["multiprocessing", "none"])
def test_learner_killed_after_a_checkpoint_resumes_without_a_hole_in_the_logs(tmp_path, sync):
    run_dir = tmp_path / "run"
    # A killed learner cannot remove its temporary directories (sweep state, sync socket): they go in
    # one of this test's, short for the socket path.
    temp_dir = tempfile.mkdtemp(prefix="killed-", dir="/tmp")
    proc = subprocess.Popen(
        [*SYLLABUS, "train", *RUN, f"sync={sync}", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=cli_env() | {"TMPDIR": temp_dir}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        lines = []
        for line in proc.stdout:  # bounded by the test timeout; the run logs every 192 steps
            lines.append(line)
            if "step 576/" in line:  # checkpoints at 192, 384, ... are behind this line
                break
        else:
            pytest.fail("the run ended before logging progress:\n" + "".join(lines))
        os.kill(proc.pid, signal.SIGKILL)  # the learner only: its workers must notice and exit
        proc.wait(scaled(30))
        _assert_no_process_left(proc.pid)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(scaled(10))
        shutil.rmtree(temp_dir, ignore_errors=True)
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "running"  # what a SIGKILL leaves; the lock went with the process
    latest = latest_checkpoint(run_dir)
    assert latest is not None
    state = verify_checkpoint(latest, curriculum=True)
    assert_checkpoints_valid_and_logged(run_dir, 10**9)
    syllabus("train", "--resume", str(run_dir), f"total_timesteps={state.num_timesteps + 384}", cwd=tmp_path)
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "completed" and meta["resumes"][-1]["from_step"] == state.num_timesteps
    progress = read_csv(run_dir / "logs" / "progress.csv")
    steps = [int(r["step"]) for r in progress]
    assert steps == list(range(192, steps[-1] + 1, 192)), "a progress row is missing or repeated"
    assert int(progress[-1]["episodes"]) == len(read_csv(run_dir / "logs" / "episodes.csv"))


# ------------------------------------------------------------ run directories


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_second_writer_is_refused_while_a_run_trains(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [*SYLLABUS, "train", *RUN, "sync=none", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        for line in proc.stdout:
            if "step 384/" in line:
                break
        config = (run_dir / ".hydra" / "config.yaml").read_text()
        for args in (["train", "sync=none", f"hydra.run.dir={run_dir}"], ["train", "--resume", str(run_dir)]):
            result = syllabus(*args, cwd=tmp_path, check=False)
            assert result.returncode == 2, result.stderr
            assert f"in use by another syllabus process (PID {proc.pid})" in result.stderr
            assert "Traceback" not in result.stderr
        assert (run_dir / ".hydra" / "config.yaml").read_text() == config
        assert proc.poll() is None  # the first run goes on
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=scaled(60))
    assert proc.returncode == 130
    result = syllabus("train", "sync=none", f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "already holds a run (status: interrupted)" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_ctrl_c_of_a_joblib_sweep_checkpoints_every_running_job(tmp_path):
    sweep = tmp_path / "sweep"
    proc = subprocess.Popen(
        [*SYLLABUS, "train", "-m", "seed=0,1", *RUN, "sync=none", "hydra/launcher=joblib",
         "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        seen: set[str] = set()
        lines = []
        for line in proc.stdout:  # each job logs its progress; wait until both train
            lines.append(line)
            if "step 384/" in line:
                seen.add(line.split("]")[0])
            if all((sweep / str(i) / "checkpoints").is_dir() for i in range(2)):
                break
        else:
            pytest.fail("the sweep ended before both jobs trained:\n" + "".join(lines))
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
        rest, _ = proc.communicate(timeout=scaled(90))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(scaled(10))
    assert proc.returncode == 130, "".join(lines) + rest
    _assert_no_process_left(proc.pid)
    for job in range(2):
        meta = json.loads((sweep / str(job) / "meta.json").read_text())
        assert meta["status"] == "interrupted", rest
        checkpoint = sweep / str(job) / "checkpoints" / f"step_{meta['steps']}"
        verify_checkpoint(checkpoint, curriculum=True)


# ----------------------------------------------------- the vector env on its own


@pytest.mark.timeout(60)
@pytest.mark.parametrize("index", range(NUM_ENVS))
def test_guarded_subproc_vec_env_names_a_killed_worker_and_closes_the_others(index):
    from functools import partial

    import gymnasium as gym

    from syllabus.integrations.sb3_vec_env import EnvWorkerError, GuardedSubprocVecEnv

    venv = GuardedSubprocVecEnv([partial(gym.make, "CartPole-v1")] * NUM_ENVS, "fork", timeout=SYNC_TIMEOUT)
    try:
        venv.reset()
        workers = [psutil.Process(p.pid) for p in venv.processes]
        os.kill(venv.processes[index].pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(
            EnvWorkerError, match=f"env {index} died: its worker process .* killed by SIGKILL"
        ):
            venv.step([0] * NUM_ENVS)
        assert time.monotonic() - started < SYNC_TIMEOUT
    finally:
        venv.close()
    gone, alive = psutil.wait_procs(workers, timeout=scaled(15))
    assert not alive


@pytest.mark.timeout(60)
def test_guarded_subproc_vec_env_reports_an_env_that_fails_to_build():
    from syllabus.integrations.sb3_vec_env import EnvWorkerError, GuardedSubprocVecEnv

    def bad_env():
        raise ValueError("no such env")

    import gymnasium as gym

    fns = [lambda: gym.make("CartPole-v1"), bad_env]
    with pytest.raises(
        EnvWorkerError, match="env 1 raised ValueError in its worker process: no such env"
    ) as info:
        GuardedSubprocVecEnv(fns, "fork", timeout=SYNC_TIMEOUT)
    assert "Traceback" in str(info.value) and info.value.index == 1
