"""`syllabus train sync=ray` end to end in subprocesses: a local Ray started and stopped by the run,
joining a running cluster without stopping it, and bad `sync.address` values failing before anything starts."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import numpy as np
import psutil
import pytest
import ray
from cli_fixtures import SYLLABUS, TINY, cli_env, read_csv, syllabus
from hydra import compose, initialize_config_dir
from ray_fixtures import local_ray
from syllabus.cli.hydra_app import CONFIG_DIR
from syllabus.cli.schema import ConfigError, validate

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
        result = subprocess.run(
            [*SYLLABUS, "train", "sync=ray", "curriculum=plr", *TINY, f"hydra.run.dir={run_dir}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=80,
        )
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        assert any(Path(ray_tmp).rglob("session_*")), "the run did not start its own local Ray"
        _, alive = psutil.wait_procs(marked_processes(marker), timeout=10)
        assert not alive, f"processes left by the run: {describe(alive)}"
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    check_final_checkpoint(run_dir)
    assert not (tmp_path / "home" / ".ray").exists(), "Ray wrote an auth token under $HOME"


@pytest.mark.timeout(90)
@pytest.mark.slow
def test_joining_a_running_cluster_leaves_it_running(tmp_path):
    with local_ray():
        address = ray.get_runtime_context().gcs_address
        env = {**cli_env(), "RAY_AUTH_MODE": "token"}  # local_ray put the cluster's token in RAY_AUTH_TOKEN
        result = subprocess.run(
            [
                *SYLLABUS,
                "train",
                "sync=ray",
                f"sync.address={address}",
                "curriculum=plr",
                *TINY,
                f"hydra.run.dir={tmp_path / 'run'}",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=80,
        )
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        assert ray.get(ray.remote(lambda: "alive").remote(), timeout=30) == "alive"
        actors = [
            p
            for p in psutil.Process().children(recursive=True)
            if any(name in " ".join(p.cmdline()) for name in ("ray::EnvWorker", "ray::_CurriculumActor"))
        ]
        _, alive = psutil.wait_procs(actors, timeout=10)
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
