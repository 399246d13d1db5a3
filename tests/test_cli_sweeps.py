"""Sweeps beyond one machine: `syllabus train -m` with hydra/launcher=submitit_local and hydra/launcher=ray
(a local 2-node Ray cluster on loopback), a failing job in each, and `syllabus eval` of a sweep directory.

A job fails for real: ``learner.learning_rate=1e30`` passes the config checks (a finite rate > 0) and the
first update turns the policy's weights into NaN, so the next rollout raises, which the runner reports
as a failed run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cli_fixtures import SYLLABUS, TINY, cli_env, syllabus
from timeouts import scaled

MARKER = "SYLLABUS_TEST_SWEEP"  # inherited by every process a test starts, Ray's included
FAILING_AND_GOOD = ["seed=0", "learner.learning_rate=1e30,0.0003", "sync=none", *TINY]


def marked_processes(marker: str) -> list[psutil.Process]:
    """Live processes whose environment carries ``MARKER=marker``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARKER) == marker and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_one_failed_one_completed(result: subprocess.CompletedProcess, sweep: Path) -> None:
    """Job 0 (learning rate 1e30) failed and is named in the summary; job 1 finished."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"1 job(s) of the sweep failed: {sweep / '0'}" in result.stderr, result.stderr
    assert json.loads((sweep / "1" / "meta.json").read_text())["status"] == "completed"
    assert (sweep / "1" / "checkpoints" / "final").is_dir()


@pytest.mark.slow
@pytest.mark.timeout(500)
def test_submitit_local_sweep_reports_the_failing_job_and_eval_takes_the_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    marker = uuid.uuid4().hex
    result = subprocess.run(
        [
            *SYLLABUS,
            "train",
            "-m",
            "hydra/launcher=submitit_local",
            *FAILING_AND_GOOD,
            f"hydra.sweep.dir={sweep}",
        ],
        cwd=tmp_path,
        env={**cli_env(), MARKER: marker},
        capture_output=True,
        text=True,
        timeout=scaled(360),
    )
    assert_one_failed_one_completed(result, sweep)
    assert list((sweep / ".submitit").iterdir()), "submitit kept no job folders"
    assert not marked_processes(marker)

    # `syllabus eval SWEEP` evaluates every run that has a checkpoint, greedy and sampled.
    result = syllabus("eval", str(sweep), "-n", "1", "--max-tasks", "2", cwd=tmp_path)
    assert f"skipped {sweep / '0'}" in result.stderr and "has no checkpoint" in result.stderr
    assert sorted(p.name for p in (sweep / "1" / "eval").iterdir()) == [
        "final-greedy-seed12345.json",
        "final-sampled-seed12345.json",
    ]
    assert re.search(r"│ 1 +│ final \(512 steps\) +│ +[\d.]+ │", result.stdout), result.stdout


@contextlib.contextmanager
def two_node_ray_cluster(tmp_path: Path, marker: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A head and a worker node (1 CPU each) on loopback, each from `ray start --block` in a private temp dir.

    Yields the head's address and the environment that joins it (the cluster's auth token). Only the
    processes of this cluster are stopped (never `ray stop`, which stops every Ray of the user).
    """
    temp_dirs = [Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp")) for _ in range(2)]  # short socket paths
    token = secrets.token_hex(16)
    env = {
        **cli_env(),
        MARKER: marker,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
        "HOME": str(tmp_path),
    }
    address = f"127.0.0.1:{free_port()}"
    ray = f"{sys.executable} -m ray.scripts.scripts"  # Ray's `ray` command, from this interpreter
    common = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    commands = [
        [*ray.split(), "start", "--head", f"--port={address.split(':')[1]}", "--include-dashboard=false",
         f"--ray-client-server-port={free_port()}", f"--temp-dir={temp_dirs[0]}", *common],
        [*ray.split(), "start", f"--address={address}", f"--temp-dir={temp_dirs[1]}", *common],
    ]  # fmt: skip
    nodes: list[subprocess.Popen[str]] = []
    try:
        for command in commands:
            node = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            nodes.append(node)
            lines = []
            assert node.stdout is not None
            for line in node.stdout:  # bounded by the test's timeout
                lines.append(line)
                if "Ray runtime started" in line:
                    break
            else:
                pytest.fail(f"`ray {' '.join(command[3:5])}` did not start:\n" + "".join(lines))
        yield address, env
    finally:
        for node in reversed(nodes):
            node.terminate()  # --block: stops every process this `ray start` started
            try:
                node.wait(timeout=scaled(30))
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        _, alive = psutil.wait_procs(marked_processes(marker), timeout=scaled(15))
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        for temp_dir in temp_dirs:
            shutil.rmtree(temp_dir, ignore_errors=True)
        assert not alive, f"the Ray cluster left processes: {alive}"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ray_launcher_places_jobs_on_both_nodes_and_reports_the_failing_one(tmp_path):
    sweep = tmp_path / "sweep"
    marker = uuid.uuid4().hex
    with two_node_ray_cluster(tmp_path, marker) as (address, env):
        result = subprocess.run(
            [*SYLLABUS, "train", "-m", "hydra/launcher=ray", *FAILING_AND_GOOD, f"hydra.sweep.dir={sweep}",
             f"hydra.launcher.address={address}"],  # sync=ray jobs would take it from sync.address
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=scaled(480),
        )  # fmt: skip
        output = result.stdout + result.stderr
        assert "Ray launcher: 2 jobs on a Ray cluster of 2 node(s), 2 CPUs" in output, output
        nodes = set(re.findall(r"job #\d ran on node (\w+)", output))
        assert_one_failed_one_completed(result, sweep)
        assert len(nodes) == 2  # 1 CPU per node and per job: Ray placed one job on each node
    assert not marked_processes(marker)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_ctrl_c_of_a_ray_launcher_sweep_checkpoints_every_running_job(tmp_path):
    """Ctrl-C in the terminal (SIGINT to the process group): both jobs, Ray tasks on a private local Ray,
    save a checkpoint; the sweep exits with 130 and leaves no process of its Ray behind."""
    sweep = tmp_path / "sweep"
    marker = uuid.uuid4().hex
    proc = subprocess.Popen(
        [*SYLLABUS, "train", "-m", "seed=0,1", "sync=none", "num_envs=2", "total_timesteps=100000",
         "learner.n_steps=64", "logger.log_interval=128", "hydra/launcher=ray", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env={**cli_env(), MARKER: marker}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # bounded by the test's timeout
            lines.append(line)
            if all((sweep / str(i) / "logs" / "progress.csv").is_file() for i in range(2)):
                break
        else:
            pytest.fail("the sweep ended before both jobs trained:\n" + "".join(lines))
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=scaled(150))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(scaled(10))
    assert proc.returncode == 130, "".join(lines) + rest
    for job in range(2):
        meta = json.loads((sweep / str(job) / "meta.json").read_text())
        assert meta["status"] == "interrupted", "".join(lines) + rest
        assert (sweep / str(job) / "checkpoints" / f"step_{meta['steps']}").is_dir()
    _, alive = psutil.wait_procs(marked_processes(marker), timeout=scaled(15))
    assert not alive, f"processes outlived the sweep: {alive}"
