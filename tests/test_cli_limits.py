"""Limits checked before a run starts, and what a run does at the limits of its disk and checkpoints.

Issue #19: every learner value range-checked (one line, exit 2); a rollout budget over
``total_timesteps`` said; every job of a sweep validated before the first starts; a temp dir too
long for Ray's socket paths handled; a full or read-only disk ends the run ``failed`` in one line
naming the path, with no ``.tmp`` file left; resume falls back past damaged checkpoints.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from cli_fixtures import SYLLABUS, cli_env, syllabus
from hydra import compose, initialize_config_dir
from syllabus.cli import run_dir as rd
from syllabus.cli.hydra_app import CONFIG_DIR
from syllabus.cli.schema import ConfigError, budget_warning, validate
from timeouts import scaled


def compose_run(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        return validate(compose("train", overrides=list(overrides)))


BAD_LEARNER_VALUES = [
    ("learner.learning_rate=-1", "learner.learning_rate must be a finite number > 0, got -1.0"),
    ("learner.learning_rate=nan", "learner.learning_rate must be a finite number > 0, got nan"),
    ("learner.ent_coef=nan", "learner.ent_coef must be a finite number >= 0, got nan"),
    ("learner.clip_range=-1", "learner.clip_range must be a finite number > 0, got -1.0"),
    ("learner.max_grad_norm=-1", "learner.max_grad_norm must be a finite number > 0, got -1.0"),
    ("learner.vf_coef=-1", "learner.vf_coef must be a finite number >= 0, got -1.0"),
    ("learner.gamma=2", "learner.gamma must be a finite number in [0, 1], got 2.0"),
    ("learner.gae_lambda=inf", "learner.gae_lambda must be a finite number in [0, 1], got inf"),
    ("env.success_threshold=nan", "env.success_threshold must be a finite number or null, got nan"),
]
BAD_RLLIB_VALUES = [
    ("learner.lr=0", "learner.lr must be a finite number > 0, got 0.0"),
    ("learner.gamma=-0.1", "learner.gamma must be a finite number in [0, 1], got -0.1"),
    ("learner.clip_param=nan", "learner.clip_param must be a finite number > 0, got nan"),
    ("learner.entropy_coeff=-1", "learner.entropy_coeff must be a finite number >= 0, got -1.0"),
    ("learner.vf_loss_coeff=-1", "learner.vf_loss_coeff must be a finite number >= 0, got -1.0"),
    ("learner.vf_clip_param=0", "learner.vf_clip_param must be a finite number > 0, got 0.0"),
    ("learner.grad_clip=-1", "learner.grad_clip must be a finite number > 0, got -1.0"),
]


@pytest.mark.parametrize(("override", "message"), BAD_LEARNER_VALUES)
def test_sb3_learner_values_are_range_checked(override, message):
    with pytest.raises(ConfigError) as info:
        compose_run("curriculum=dr", override)
    assert str(info.value) == message


@pytest.mark.parametrize(("override", "message"), BAD_RLLIB_VALUES)
def test_rllib_learner_values_are_range_checked(override, message):
    with pytest.raises(ConfigError) as info:
        compose_run("learner=rllib_ppo", "sync=ray", override)
    assert str(info.value) == message


def test_a_bad_learner_value_exits_2_in_one_line_before_anything_starts(tmp_path):
    started = time.monotonic()
    result = syllabus(
        "train", "learner.learning_rate=-1", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "syllabus train: error: learner.learning_rate must be a finite number > 0, got -1.0"
    )
    assert not (tmp_path / "run").exists()
    print(f"\nlearner.learning_rate=-1: exit 2 after {elapsed:.1f} s")


def test_a_rollout_over_the_budget_says_what_the_run_will_train():
    run = compose_run("experiment=quick", "learner.n_steps=8192")
    assert budget_warning(run) == (
        "total_timesteps=2048 is not a whole number of rollouts (learner.n_steps * num_envs = 8192 * 2 = 16384 "
        "steps): the run trains whole rollouts, 16384 steps (800% of total_timesteps)"
    )
    assert budget_warning(compose_run("experiment=quick", "learner.n_steps=1024")) is None


@pytest.mark.timeout(60)
def test_a_sweep_with_a_bad_later_job_fails_before_the_first_job_starts(tmp_path):
    sweep = tmp_path / "sweep"
    started = time.monotonic()
    result = syllabus(
        "train",
        "-m",
        "experiment=quick",
        "seed=0,-1,2",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "syllabus train: error: job 1 of the sweep (experiment=quick seed=-1): seed must be in [0, 4294967295], "
        "got -1; no job was started"
    )
    assert not sweep.exists()
    print(f"\nsweep seed=0,-1,2: exit 2 after {elapsed:.1f} s")


def test_a_temp_dir_too_long_for_ray_sockets_falls_back_to_tmp(monkeypatch, tmp_path, caplog):
    from syllabus.cli.ray_cluster import ray_temp_root

    long = tmp_path / ("t" * 40)
    long.mkdir()
    monkeypatch.delenv("RAY_TMPDIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(long))
    monkeypatch.setattr(tempfile, "tempdir", None)
    with caplog.at_level(logging.INFO, logger="syllabus.train"):
        assert ray_temp_root() == "/tmp"
    assert f"the temp dir {long} is too long for Ray's socket paths" in caplog.text
    monkeypatch.setenv("TMPDIR", "/tmp")
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert ray_temp_root() == "/tmp"


# ------------------------------------------------------------------ full disk


class _FullDiskModel:
    """A model whose save hits a full disk halfway (after writing part of its file)."""

    def save(self, directory: Path) -> None:
        (directory / "model.zip").write_bytes(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(directory / "model.zip"))


class _Model:
    def save(self, directory: Path) -> None:
        with zipfile.ZipFile(directory / "model.zip", "w") as archive:
            archive.writestr("data", "{}")
            archive.writestr("policy.pth", b"weights")


def test_simulated_full_disk_leaves_no_tmp_checkpoint_and_meta_ends_failed(tmp_path, monkeypatch):
    rd.save_checkpoint(tmp_path, "step_64", _Model(), None, rd.TrainerState(num_timesteps=64))
    with pytest.raises(OSError, match="No space left"):
        rd.save_checkpoint(tmp_path, "step_128", _FullDiskModel(), None, rd.TrainerState(num_timesteps=128))
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_64"]
    meta = rd.start_meta(tmp_path, command="test", seed=0, resume_from=None)
    real_open = open

    def full_open(path, mode="r", *args, **kwargs):  # no room for a second copy of meta.json
        if str(path).endswith(".tmp") and "w" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_open)
    rd.finish_meta(tmp_path, meta, "failed", 64, "cannot write ...")
    monkeypatch.undo()
    assert json.loads((tmp_path / "meta.json").read_text())["status"] == "failed"
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def mount_tmpfs(disk: Path, options: str) -> None:
    """Mounts a tmpfs at ``disk`` with ``options`` (needs root); skips the test where it cannot."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the simulated full disk above covers the code path")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1 MiB tmpfs at tmp_path/disk (needs root); skips where it cannot be mounted."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount_tmpfs(disk, "size=1m")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (["hydra.run.dir={disk}/run"], "{disk}/run"),
        (["-m", "seed=0,1", "hydra.sweep.dir={disk}/sweep"], "{disk}/sweep"),
    ],
)
def test_a_read_only_disk_is_one_line_naming_the_path(small_tmpfs, tmp_path, args, path):
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    args = [a.format(disk=small_tmpfs) for a in args]
    result = syllabus("train", "sync=none", "total_timesteps=64", *args, cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"syllabus train: error: cannot write {path.format(disk=small_tmpfs)}: Read-only file system; "
        "choose a writable place with hydra.run.dir=DIR (for a sweep: hydra.sweep.dir=DIR)"
    ]


def test_resume_on_a_read_only_disk_is_one_line_naming_the_path(small_tmpfs, tmp_path):
    run_dir = small_tmpfs / "run"
    syllabus("train", "sync=none", "num_envs=1", "learner.n_steps=64", "learner.n_minibatches=1",
             "learner.n_epochs=1", "total_timesteps=64", "logger=csv", f"hydra.run.dir={run_dir}", cwd=tmp_path)  # fmt: skip
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    result = syllabus("train", "--resume", str(run_dir), "total_timesteps=128", cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert (
        line.startswith(f"syllabus train: error: cannot write {run_dir}/") and "Read-only file system" in line
    )
    assert line.endswith("make it writable, or resume a copy on a writable disk"), line
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == before  # the run is as it was


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_full_disk_fails_the_run_in_one_line_naming_the_path(small_tmpfs, tmp_path):
    run_dir = small_tmpfs / "run"
    started = time.monotonic()
    result = subprocess.run(
        [*SYLLABUS, "train", "sync=none", "curriculum=dr", "num_envs=2", "learner.n_steps=64", "learner.n_epochs=1",
         "learner.n_minibatches=2", "total_timesteps=100000", "logger=csv", "logger.log_interval=128",
         "logger.checkpoint_interval=128", "--quiet", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=scaled(150),
    )  # fmt: skip
    elapsed = time.monotonic() - started
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert result.returncode == 1, result.stderr
    assert len(errors) == 1 and "No space left on device" in errors[0], result.stderr
    assert f"cannot write {run_dir}" in errors[0] and f"syllabus train --resume {run_dir}" in errors[0]
    assert "Traceback" not in result.stderr, result.stderr
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "failed" and "No space left on device" in meta["reason"]
    assert not [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]
    for checkpoint in (run_dir / "checkpoints").iterdir():
        rd.verify_checkpoint(checkpoint, curriculum=True)
    print(f"\nfull tmpfs: exit 1 after {elapsed:.1f} s (from the start of the run)")


# ------------------------------------------------------------ damaged checkpoints


def test_resume_falls_back_past_damaged_checkpoints_and_says_so(tmp_path, caplog):
    for steps in (64, 128):
        rd.save_checkpoint(tmp_path, f"step_{steps}", _Model(), None, rd.TrainerState(num_timesteps=steps))
    rd.save_checkpoint(tmp_path, rd.FINAL, _Model(), None, rd.TrainerState(num_timesteps=192))
    root = tmp_path / "checkpoints"
    (root / "step_64" / rd.TRAINER_STATE).write_bytes(b"\x80damaged")  # an older one: ignored
    assert rd.latest_checkpoint(tmp_path) == root / rd.FINAL

    def verify(path: Path) -> None:
        rd.verify_checkpoint(path, curriculum=False)

    (root / rd.FINAL / "model.zip").write_bytes(b"truncated")  # the newest: skipped, with a warning
    with caplog.at_level(logging.WARNING, logger="syllabus.train"):
        assert rd.latest_checkpoint(tmp_path, verify) == root / "step_128"
    assert f"skipping damaged checkpoint {root / rd.FINAL}" in caplog.text and "using step_128" in caplog.text
    (root / "step_128" / rd.TRAINER_STATE).write_bytes(b"")
    with pytest.raises(rd.CheckpointError, match=f"{root / rd.FINAL / 'model.zip'} is truncated or corrupt"):
        rd.latest_checkpoint(tmp_path, verify)  # every one damaged: the newest one's damage is named


def test_a_diverged_policy_is_one_line_that_says_what_to_lower():
    """A too-large learning rate makes the policy's logits NaN, which torch refuses (with a tensor dump)."""
    import torch
    from syllabus.cli.errors import describe_failure

    with pytest.raises(ValueError) as info:
        torch.distributions.Categorical(logits=torch.full((256, 2), float("nan")))
    message = describe_failure(info.value)
    assert "\n" not in message and "tensor(" not in message
    assert message.startswith(
        "training diverged: the policy's outputs became NaN or infinite (parameter logits"
    )
    assert message.endswith(
        "lower learner.learning_rate (or learner.max_grad_norm), or check the env's observations and rewards"
    )
