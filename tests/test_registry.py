"""The registry is the one list of envs, curricula, sync backends and learners; an env is one module and one YAML."""

from __future__ import annotations

import json
import textwrap

import pytest
from cli_fixtures import TINY, syllabus
from hydra import compose, initialize_config_dir
from syllabus.cli.errors import ConfigError
from syllabus.cli.hydra_app import CONFIG_DIR
from syllabus.cli.registry import GROUPS, PLUGINS_ENV, REGISTRY
from syllabus.cli.schema import validate


@pytest.mark.parametrize("group", GROUPS)
def test_every_entry_has_its_yaml_and_every_yaml_an_entry(group):
    yamls = sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))
    assert yamls == list(REGISTRY.entries(group))
    for option in yamls:  # each YAML composes to a config its entry validates
        with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
            cfg = compose("train", overrides=[f"{group}={option}", *_fitting(group, option)])
        assert getattr(validate(cfg), group).name in REGISTRY.entries(group)


def _fitting(group: str, option: str) -> list[str]:
    """The other choices an option needs to form a valid run."""
    if group == "curriculum" and option in ("sp", "fsp", "pfsp"):
        return ["env=connect_four"]
    if group == "learner" and option == "rllib_ppo":
        return ["sync=ray"]
    return []


def test_every_entry_names_its_extra_with_the_module_that_proves_it():
    for group in GROUPS:
        for entry in REGISTRY.entries(group).values():
            assert (entry.extra is None) == (entry.module is None), entry.name
            assert entry.group == group


def test_an_unknown_name_fails_with_the_valid_choices():
    with pytest.raises(
        ConfigError, match=r"^sync.name: unknown sync 'mpi'; valid choices: multiprocessing, none, ray$"
    ):
        REGISTRY.get("sync", "mpi")


def test_plr_reference_validates_and_builds():
    """The copies of the curriculum list drifted once: plr_reference validated, then had no builder."""
    from syllabus.cli.builders import make_curriculum, task_space_of

    run = validate({**_defaults(), "curriculum": {"name": "plr_reference", "mode": "reference"}})
    assert make_curriculum(run, task_space_of(run.env)) is not None


def _defaults() -> dict:
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        cfg = compose("train", overrides=["sync=none"])
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True)


TOY_MODULE = '''
"""env=toy: CartPole cut to `task` steps per episode (a task is the episode length)."""

from dataclasses import dataclass, field

import gymnasium as gym

from syllabus.cli.errors import ConfigError
from syllabus.cli.registry import EnvEntry
from syllabus.core import ReinitTaskWrapper
from syllabus.task_space import DiscreteTaskSpace


@dataclass
class ToyEnvConfig:
    name: str = "toy"
    lengths: list[int] = field(default_factory=lambda: [10, 20])


def check(env):
    if not env.lengths or min(env.lengths) < 1:
        raise ConfigError(f"env.lengths must list episode lengths >= 1, got {env.lengths}")


def task_space(env, evaluation):
    return DiscreteTaskSpace(list(env.lengths))


def make(env, evaluation):
    return ReinitTaskWrapper(
        lambda length: gym.make("CartPole-v1", max_episode_steps=length), task_space(env, evaluation)
    )


ENTRIES = (EnvEntry("toy", ToyEnvConfig, check, task_space=task_space, make=make),)
'''

TOY_YAML = """
# CartPole cut to `task` steps per episode.
name: toy
lengths: [10, 20]
"""


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    """A plugin env outside the repository: ``toy_env.py`` (on ``PYTHONPATH``, named by
    ``SYLLABUS_PLUGINS``) and ``configs/env/toy.yaml`` (found with ``--config-dir``)."""
    plugin = tmp_path / "plugin"
    (plugin / "configs" / "env").mkdir(parents=True)
    (plugin / "toy_env.py").write_text(textwrap.dedent(TOY_MODULE))
    (plugin / "configs" / "env" / "toy.yaml").write_text(TOY_YAML)
    monkeypatch.syspath_prepend(str(plugin))
    monkeypatch.setenv("PYTHONPATH", str(plugin))
    monkeypatch.setenv(PLUGINS_ENV, "toy_env")
    REGISTRY.reload()
    yield plugin
    monkeypatch.delenv(PLUGINS_ENV)
    REGISTRY.reload()


def test_a_plugin_env_joins_the_registry(toy_plugin):
    assert "toy" in REGISTRY.entries("env")
    with pytest.raises(ConfigError, match=r"env.lengths must list episode lengths >= 1, got \[0\]"):
        validate({**_defaults(), "env": {"name": "toy", "lengths": [0]}})


def test_a_plugin_that_does_not_import_is_named(monkeypatch):
    monkeypatch.setenv(PLUGINS_ENV, "no_such_plugin_module")
    REGISTRY.reload()
    try:
        with pytest.raises(ConfigError, match=r"^SYLLABUS_PLUGINS: cannot import 'no_such_plugin_module' \("):
            REGISTRY.entries("env")
    finally:
        monkeypatch.delenv(PLUGINS_ENV)
        REGISTRY.reload()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_a_plugin_env_trains_through_the_cli(toy_plugin, tmp_path):
    run_dir = tmp_path / "run"
    args = [
        "env=toy",
        "sync=none",
        "curriculum=dr",
        *TINY,
        "logger.tensorboard=false",
        f"hydra.run.dir={run_dir}",
    ]
    syllabus("train", *args, "--config-dir", str(toy_plugin / "configs"), cwd=tmp_path)
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["status"] == "completed"
    configs = syllabus("configs", cwd=tmp_path).stdout
    assert "toy" in next(line for line in configs.splitlines() if line.strip().startswith("env "))
