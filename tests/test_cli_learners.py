"""The learner interface: picked by ``learner.name``; the run records the steps its learner trained."""

from __future__ import annotations

import json

import pytest
from hydra import compose, initialize_config_dir
from syllabus.cli.errors import RunFailure
from syllabus.cli.hydra_app import CONFIG_DIR
from syllabus.cli.learners import Learner, learner_class
from syllabus.cli.registry import REGISTRY
from syllabus.cli.schema import ConfigError, validate
from syllabus.cli.training import train


def test_every_learner_config_has_a_learner_class():
    for name in REGISTRY.entries("learner"):
        assert issubclass(learner_class(name), Learner)


def test_unknown_learner_name_lists_the_choices():
    with pytest.raises(
        ConfigError, match="learner.name: unknown learner 'dqn'; valid choices: rllib_ppo, sb3_ppo"
    ):
        learner_class("dqn")


@pytest.mark.timeout(120)
def test_a_failed_run_records_the_steps_it_trained(tmp_path):
    """The first interval checkpoint cannot be written (``checkpoints`` is a file): the run fails at step 256
    and meta.json says so, with the steps trained rather than 0."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        cfg = compose(
            "train",
            overrides=["sync=none", "curriculum=dr", "num_envs=2", "learner.n_steps=128", "total_timesteps=1024",
                       "logger.checkpoint_interval=256", "logger.log_interval=256", "logger.tensorboard=false"],
        )  # fmt: skip
    run = validate(cfg)
    (tmp_path / "checkpoints").write_text("not a directory")
    with pytest.raises(RunFailure, match="FileExistsError") as failure:
        train(run, tmp_path, resume=False, command="test", quiet=True, multirun=False)
    assert failure.value.steps == 256
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert (meta["status"], meta["steps"]) == ("failed", 256)
    assert "FileExistsError" in meta["reason"]
