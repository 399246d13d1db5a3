"""`syllabus train sync=ray` end to end in subprocesses: a local Ray started and stopped by the run,
joining a running cluster without stopping it, and bad `sync.address` values failing before anything starts."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest
import ray
from cli_fixtures import SYLLABUS, TINY, cli_env, read_csv, syllabus
from hydra import compose, initialize_config_dir
from process_resources import children_named
from ray_fixtures import AUTH_TOKEN, local_ray
from syllabus.cli.hydra_app import CONFIG_DIR
from syllabus.cli.ray_cluster import connect_ray, curriculum_actor_options, root_cause
from syllabus.cli.schema import ConfigError, validate
from syllabus.cli.syncs.ray import RaySyncConfig
from timeouts import scaled

CARTPOLE_TASKS = {"0.02", "0.05", "0.1", "0.15", "0.2"}
MARKER = "SYLLABUS_TEST_RUN"  # inherited by every process the run starts, Ray's included


def marked_processes(marker: str) -> list[psutil.Process]:
    """Processes whose environment carries ``MARKER=marker``: the run and everything it started."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARKER) == marker:
                found.append(proc)
        except psutil.Error:
            continue  # exited meanwhile, or not ours to read
    return found


def describe(procs: list[psutil.Process]) -> list[str]:
    out = []
    for proc in procs:
        try:
            out.append(f"{proc.pid} {proc.name()} {' '.join(proc.cmdline())[:120]}")
        except psutil.Error:
            out.append(f"{proc.pid} (exited)")
    return out


def check_final_checkpoint(run_dir: Path) -> None:
    """The run completed, logged episodes on the env's tasks and saved PLR scored by the learner."""
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "completed" and meta["steps"] >= 512
    episodes = read_csv(run_dir / "logs" / "episodes.csv")
    assert episodes and {row["task"] for row in episodes} <= CARTPOLE_TASKS
    assert int(read_csv(run_dir / "logs" / "progress.csv")[-1]["step"]) >= 512
    final = run_dir / "checkpoints" / "final"
    assert (final / "model.zip").exists()
    with open(final / "curriculum.pkl", "rb") as f:
        state = pickle.load(f)
    # Scores come only from PLRCallback's custom_update, forwarded to the curriculum actor.
    assert np.any(state["plr"]["scored"])


@pytest.mark.timeout(90)
@pytest.mark.slow
def test_local_ray_run_trains_checkpoints_and_leaves_no_ray_process(tmp_path):
    marker = uuid.uuid4().hex
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths live under it
    run_dir = tmp_path / "run"
    env = {**cli_env(), MARKER: marker, "RAY_TMPDIR": ray_tmp}
    env.pop("RAY_AUTH_TOKEN", None)  # the runner must provide its own token, not write one under $HOME
    env["HOME"] = str(tmp_path / "home")
    try:
        result = syllabus(
            "train", "sync=ray", "curriculum=plr", *TINY, f"hydra.run.dir={run_dir}",
            cwd=tmp_path, env=env, timeout=scaled(80),
        )  # fmt: skip
        assert "started a private local Ray for this run (in " + ray_tmp in result.stdout + result.stderr
        assert not any(Path(ray_tmp).iterdir()), "the run left its private Ray directory behind"
        _, alive = psutil.wait_procs(marked_processes(marker), timeout=scaled(10))
        assert not alive, f"processes left by the run: {describe(alive)}"
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    check_final_checkpoint(run_dir)
    assert not (tmp_path / "home" / ".ray").exists(), "Ray wrote an auth token under $HOME"


@pytest.mark.timeout(120)
@pytest.mark.slow
def test_private_ray_stops_without_waiting_out_sigterm(monkeypatch):
    """The private Ray's processes keep SIGTERM blocked (a scheduler's SIGTERM to the process group must not
    stop them before the run's checkpoint): its stop does not wait out Ray's 1 s SIGTERM grace for each of
    its five head processes (only the GCS keeps it, for the raylet's agents), and leaves none behind."""
    monkeypatch.setenv("RAY_TMPDIR", tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    monkeypatch.setenv("RAY_AUTH_TOKEN", AUTH_TOKEN)  # Ray keeps a process's first token: the suite's
    saved_sigterm = signal.getsignal(signal.SIGTERM)
    stop = connect_ray(RaySyncConfig())
    assert stop is not None
    try:
        head = children_named("gcs_server", "raylet", "ray/_private", "ray/dashboard", "ray/autoscaler")
        assert len(head) >= 4, describe(head)
        start = time.monotonic()
    finally:
        stop()
        signal.signal(signal.SIGTERM, saved_sigterm)
        shutil.rmtree(os.environ["RAY_TMPDIR"], ignore_errors=True)
    # Ray's graceful stop of the five head processes takes 5 s or more; this one about 1 s.
    assert time.monotonic() - start < 4.5, "stop waited out Ray's SIGTERM grace for each head process"
    _, alive = psutil.wait_procs(head, timeout=scaled(10))
    assert not alive, f"Ray processes left: {describe(alive)}"


@pytest.mark.timeout(200)
@pytest.mark.slow
def test_joining_a_running_cluster_leaves_it_running(tmp_path):
    with local_ray():
        address = ray.get_runtime_context().gcs_address
        env = {**cli_env(), "RAY_AUTH_MODE": "token"}  # local_ray put the cluster's token in RAY_AUTH_TOKEN
        syllabus(
            "train", "sync=ray", f"sync.address={address}", "curriculum=plr", *TINY,
            f"hydra.run.dir={tmp_path / 'run'}",
            cwd=tmp_path, env=env, timeout=scaled(180),  # the join check adds a Ray start-up in a child process
        )  # fmt: skip
        assert ray.get(ray.remote(lambda: "alive").remote(), timeout=scaled(30)) == "alive"
        actors = children_named("ray::EnvWorker", "ray::_CurriculumActor")
        _, alive = psutil.wait_procs(actors, timeout=scaled(10))
        assert not alive, f"the run's actors are still alive in the cluster: {describe(alive)}"
    check_final_checkpoint(tmp_path / "run")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("123", "sync.address: invalid Ray address '123'; valid: null (start a local Ray), auto"),
        ("ray:/head:10001", "invalid Ray address 'ray:/head:10001'"),
        ("head", "invalid Ray address 'head'"),
        ("[1,2]", "sync.address: Cannot convert 'ListConfig' to string"),
        ("{a:1}", "sync.address: Cannot convert 'DictConfig' to string"),
    ],
)
def test_bad_address_value_or_type_fails_validation(value, expected):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        cfg = compose("train", overrides=["sync=ray", f"sync.address={value}"])
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert expected in str(info.value)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("address", ["auto", "10.0.0.5:6379", "ray://head-node:10001", "ray://head"])
def test_valid_addresses_pass_validation(address):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        cfg = compose("train", overrides=["sync=ray", f"sync.address={address}"])
    assert validate(cfg).sync.address == address


@pytest.mark.timeout(60)
@pytest.mark.slow
def test_unreachable_address_fails_cleanly_before_anything_starts(tmp_path):
    run_dir = tmp_path / "run"
    result = syllabus(
        "train", "sync=ray", "sync.address=127.0.0.1:1", f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "syllabus train: error: sync.address='127.0.0.1:1': nothing answers at 127.0.0.1:1" in output
    assert "Traceback" not in output
    assert not run_dir.exists()


# ------------------------------------------------------------------ Ray address and placement


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def other_ray_cluster(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """A second Ray cluster on loopback, started with `ray start --head --block` and stopped after.

    Yields its GCS address, its temp dir and the marker its processes carry. Only the processes of
    this cluster are stopped (never `ray stop`, which would stop every Ray of the user).
    """
    marker = uuid.uuid4().hex
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's socket paths live under it
    address = f"127.0.0.1:{free_port()}"
    env = {**cli_env(), MARKER: marker, "RAY_AUTH_TOKEN": secrets.token_hex(16), "HOME": str(tmp_path)}
    head = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={address.split(':')[1]}", "--num-cpus=1", "--include-dashboard=false",
         "--disable-usage-stats", f"--temp-dir={temp_dir}", f"--ray-client-server-port={free_port()}",
         f"--min-worker-port={free_port()}", "--max-worker-port=0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        lines = []
        for line in head.stdout:  # bounded by the test's timeout
            lines.append(line)
            if "Ray runtime started" in line:
                break
        else:
            pytest.fail("`ray start --head` did not start:\n" + "".join(lines))
        yield address, temp_dir, marker
    finally:
        head.terminate()  # --block: stops every process this `ray start` started
        try:
            head.wait(timeout=scaled(30))
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        _, alive = psutil.wait_procs(marked_processes(marker), timeout=scaled(15))
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert not alive, f"the second Ray cluster left processes: {describe(alive)}"


def driver_logs(temp_dir: Path) -> set[Path]:
    """Log files of the drivers that connected to the cluster in ``temp_dir``."""
    return set(temp_dir.rglob("python-core-driver-*.log"))


@pytest.fixture(scope="class")
def other_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    """A second cluster, started once for the class that uses it (`ray start` takes seconds) and stopped
    after its last test, before any other test of the module checks for Ray processes."""
    with other_ray_cluster(tmp_path_factory.mktemp("other-cluster")) as cluster:
        yield cluster


class TestWithAnotherClusterRunning:
    """Runs beside a second cluster on the machine."""

    @pytest.mark.slow
    @pytest.mark.timeout(240)
    def test_null_address_starts_a_private_ray_with_another_cluster_running(self, tmp_path, other_cluster):
        """With a cluster running and RAY_ADDRESS pointing at it, sync.address=null still starts a private Ray,
        also with sync.num_cpus (which Ray refuses when it joins a cluster)."""
        address, cluster_dir, _ = other_cluster
        before = driver_logs(cluster_dir)
        marker = uuid.uuid4().hex
        env = {**cli_env(), "RAY_ADDRESS": address, MARKER: marker, "HOME": str(tmp_path / "home")}
        env.pop("RAY_AUTH_TOKEN", None)
        result = syllabus(
            "train", "sync=ray", "sync.num_cpus=2", "curriculum=plr", *TINY, f"hydra.run.dir={tmp_path / 'run'}",
            cwd=tmp_path, env=env, check=False,
        )  # fmt: skip
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert f"ignoring RAY_ADDRESS={address}" in output
        assert "started a private local Ray for this run" in output
        assert "Connecting to" not in output and "multiple active Ray instances" not in output
        assert driver_logs(cluster_dir) == before, "the run connected to the other cluster"
        _, alive = psutil.wait_procs(marked_processes(marker), timeout=scaled(10))
        assert not alive, f"processes left by the run: {describe(alive)}"
        check_final_checkpoint(tmp_path / "run")

    @pytest.mark.slow
    @pytest.mark.timeout(180)
    def test_joining_with_a_wrong_token_names_the_cause_at_once(self, tmp_path, other_cluster):
        """A refused token is reported in seconds: ray.init alone retries it for 20 s before it gives up."""
        address, _, _ = other_cluster
        env = {**cli_env(), "RAY_AUTH_TOKEN": secrets.token_hex(16), "RAY_AUTH_MODE": "token"}
        start = time.monotonic()
        result = syllabus(
            "train", "sync=ray", f"sync.address={address}", f"sync.join_timeout={scaled(60):g}",
            f"hydra.run.dir={tmp_path / 'run'}",
            cwd=tmp_path, env=env, check=False,
        )  # fmt: skip
        output = result.stdout + result.stderr
        assert result.returncode == 2, output
        assert f"sync.address='{address}': cannot join a Ray cluster there: " in output
        reason = output.split("cannot join a Ray cluster there: ")[1].split("; start one")[0]
        assert "Traceback" not in output and "token" in reason.lower(), reason
        elapsed = time.monotonic() - start
        assert elapsed < scaled(15), f"the refused token took {elapsed:.1f} s to report"


@pytest.mark.timeout(120)
def test_joining_a_silent_listener_fails_within_join_timeout(tmp_path):
    """Something listens at the address but never speaks Ray: the run fails after sync.join_timeout, not minutes."""
    marker = uuid.uuid4().hex
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # the kernel accepts connections; nobody ever answers
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        start = time.monotonic()
        result = syllabus(
            "train", "sync=ray", f"sync.address={address}", "sync.join_timeout=4", f"hydra.run.dir={tmp_path / 'run'}",
            cwd=tmp_path, env={**cli_env(), MARKER: marker}, timeout=scaled(100), check=False,
        )  # fmt: skip
        elapsed = time.monotonic() - start
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert f"sync.address='{address}': no Ray cluster answered within sync.join_timeout=4 s" in output
    assert "Traceback" not in output
    assert elapsed < scaled(90), (
        f"took {elapsed:.0f} s"
    )  # the CLI's own start-up (imports) under load, plus 4 s
    assert not marked_processes(marker), "the join probe outlived the run"


@pytest.mark.timeout(120)
def test_ctrl_c_stops_a_join_at_once(tmp_path):
    marker = uuid.uuid4().hex
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        proc = subprocess.Popen(
            [*SYLLABUS, "train", "sync=ray", f"sync.address={address}", "sync.join_timeout=600",
             f"hydra.run.dir={tmp_path / 'run'}"],
            cwd=tmp_path, env={**cli_env(), MARKER: marker}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )  # fmt: skip
        try:
            lines = []
            for line in proc.stdout:  # bounded by the test timeout
                lines.append(line)
                if f"joining the Ray cluster at {address}" in line:
                    break
            else:
                pytest.fail("the run did not start joining:\n" + "".join(lines))
            start = time.monotonic()
            os.killpg(proc.pid, signal.SIGINT)  # like Ctrl-C in a terminal: the whole process group
            rest, _ = proc.communicate(timeout=scaled(30))
            elapsed = time.monotonic() - start
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(scaled(10))
    assert proc.returncode == 130, "".join(lines) + rest
    assert "Traceback" not in rest
    assert elapsed < scaled(20), f"one Ctrl-C took {elapsed:.0f} s to stop the join"
    assert not marked_processes(marker), "the join probe outlived the run"


@pytest.mark.timeout(60)
def test_root_cause_is_the_innermost_error_not_a_traceback_line():
    try:
        try:
            raise RuntimeError(
                "Failed to connect to GCS. Last connection error: Traceback (most recent call last):\n"
                '  File "x.py", line 1, in f\n    g()\nray.exceptions.AuthenticationError: bad token\n'
            )
        except RuntimeError as inner:
            raise ConnectionError("Failed to connect to Ray cluster at 1.2.3.4:6379") from inner
    except ConnectionError as exc:
        assert root_cause(exc) == "ray.exceptions.AuthenticationError: bad token"
    assert root_cause(ValueError("bad\nmore")) == "ValueError: bad"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_curriculum_actor_is_pinned_to_the_driver_node():
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from syllabus.core import make_ray_curriculum
    from syllabus.curricula import DomainRandomization
    from syllabus.task_space import DiscreteTaskSpace

    sync = RaySyncConfig()
    with local_ray():
        driver = ray.get_runtime_context().get_node_id()
        strategy = curriculum_actor_options(sync)["scheduling_strategy"]
        assert isinstance(strategy, NodeAffinitySchedulingStrategy)
        assert (strategy.node_id, strategy.soft) == (driver, False)
        assert curriculum_actor_options(RaySyncConfig(curriculum_node="any")) == {
            "scheduling_strategy": "DEFAULT"
        }
        with make_ray_curriculum(
            DomainRandomization(DiscreteTaskSpace(3)), f"pinned-{uuid.uuid4().hex[:8]}",
            actor_options=curriculum_actor_options(sync),
        ) as curriculum:  # fmt: skip
            node = ray.get(
                curriculum.actor.__ray_call__.remote(lambda _: ray.get_runtime_context().get_node_id())
            )
        assert node == driver


@pytest.mark.timeout(30)
def test_bad_placement_and_join_timeout_fail_validation():
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        node = compose("train", overrides=["sync=ray", "sync.curriculum_node=worker"])
        timeout = compose("train", overrides=["sync=ray", "sync.join_timeout=0"])
    with pytest.raises(
        ConfigError, match="sync.curriculum_node: invalid value 'worker'; valid choices: driver, any"
    ):
        validate(node)
    with pytest.raises(ConfigError, match="sync.join_timeout must be > 0 seconds, got 0"):
        validate(timeout)
