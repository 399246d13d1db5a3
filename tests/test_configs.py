"""Every config group option composes, validates and builds; bad values fail naming the key."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from syllabus.cli.builders import (
    make_curriculum,
    make_task_env,
    task_space_of,
)
from syllabus.cli.config_listing import default_choices, describe_configs, group_options
from syllabus.cli.hydra_app import CONFIG_DIR
from syllabus.cli.learners.sb3 import policy_for, ppo_kwargs
from syllabus.cli.schema import ConfigError, group_schemas, validate

from syllabus.core import Curriculum

GROUPS = group_options()


def compose_train(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        return compose("train", overrides=list(overrides))


def test_every_group_has_a_schema_for_every_option():
    for group in ("env", "curriculum", "sync", "learner", "logger"):
        assert set(GROUPS[group]) == set(group_schemas()[group]), group


def test_defaults_are_cartpole_plr_multiprocessing():
    run = validate(compose_train())
    assert (run.env.name, run.curriculum.name, run.sync.name, run.learner.name) == (
        "cartpole",
        "plr",
        "multiprocessing",
        "sb3_ppo",
    )
    assert (run.seed, run.total_timesteps, run.num_envs) == (0, 80_000, 4)
    assert default_choices()["env"] == "cartpole"


@pytest.mark.parametrize("curriculum", GROUPS["curriculum"])
def test_each_curriculum_builds_on_cartpole(curriculum):
    # Self-play curricula choose opponents: they build on the env whose task is the opponent.
    env = "connect_four" if curriculum in ("sp", "fsp", "pfsp") else "cartpole"
    run = validate(compose_train(f"curriculum={curriculum}", f"env={env}"))
    space = task_space_of(run.env)
    built = make_curriculum(run, space)
    if curriculum == "none":
        assert built is None
    else:
        assert isinstance(built, Curriculum)
        tasks = built.task_space if env == "connect_four" else space  # self-play: the pool's opponent ids
        assert all(tasks.contains(task) for task in built.sample(5))
        if env == "connect_four":
            built.pool.close()  # its snapshots' temporary directory


@pytest.mark.parametrize("env", GROUPS["env"])
def test_each_env_builds_with_its_tuned_learner(env):
    run = validate(compose_train(f"env={env}", "curriculum=dr"))
    space = task_space_of(run.env)
    task_env = make_task_env(run.env)
    try:
        obs, info = task_env.reset(seed=0, new_task=space.decode(space.num_tasks - 1))
        assert task_env.observation_space.contains(obs)
        assert task_env.task == space.decode(space.num_tasks - 1)
        expected_policy = "impala" if env == "procgen" else "MlpPolicy"  # the IMPALA agent on Procgen
        assert policy_for(run.learner, task_env.observation_space) == expected_policy
    finally:
        task_env.close()
    kwargs = ppo_kwargs(run)
    assert kwargs["batch_size"] * run.learner.n_minibatches == run.learner.n_steps * run.num_envs
    if env == "procgen":  # the Procgen PPO settings, as data in learner/tuned/sb3_ppo_procgen.yaml
        assert (kwargs["learning_rate"], kwargs["n_steps"], kwargs["gamma"], kwargs["n_epochs"]) == (
            5e-4,
            256,
            0.999,
            3,
        )
        assert (run.learner.n_minibatches, kwargs["ent_coef"], kwargs["gae_lambda"]) == (8, 0.01, 0.95)


def test_procgen_eval_tasks_are_held_out():
    run = validate(
        compose_train("env=procgen", "env.num_levels=50", "env.start_level=10", "env.eval_num_levels=5")
    )
    assert task_space_of(run.env).tasks == list(range(10, 60))
    assert task_space_of(run.env, evaluation=True).tasks == list(range(60, 65))


@pytest.mark.parametrize("option", GROUPS["sync"] + GROUPS["logger"])
def test_sync_and_logger_options_validate(option):
    group = "sync" if option in GROUPS["sync"] else "logger"
    run = validate(compose_train(f"{group}={option}"))
    assert getattr(run, group).name == option


@pytest.mark.parametrize("experiment", GROUPS["experiment"])
def test_experiment_presets_compose(experiment):
    run = validate(compose_train(f"experiment={experiment}"))
    if experiment.startswith("procgen"):
        assert (run.env.name, run.num_envs, run.total_timesteps) == ("procgen", 64, 25_000_000)
        assert run.curriculum.name == experiment.removeprefix("procgen_")
        assert run.learner.learning_rate == 5e-4


def test_plr_takes_the_learners_discount():
    run = validate(compose_train("env=procgen"))
    assert (run.curriculum.gamma, run.curriculum.gae_lambda) == (0.999, 0.95)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": "abc"}, "seed must be an integer, got 'abc'"),
        ({"learner": {"n_steps": "many"}}, "learner.n_steps: Value 'many'"),
        (
            {"curriculum": {"temprature": 1.0}},
            "curriculum.temprature: unknown key 'temprature' (did you mean temperature, staleness_temperature?); "
            "valid keys of curriculum=plr: strategy, score_transform, temperature,",
        ),
        (
            {"extra": 1},
            "unknown top-level key 'extra'; valid keys: env, curriculum, sync, learner, logger, seed,",
        ),
        (
            {"env": {"name": "atari"}},
            "env.name: unknown env 'atari'; valid choices: cartpole, connect_four, minigrid, mpe, procgen",
        ),
        (
            {"logger": {"progress": "fancy"}},
            "logger.progress: invalid value 'fancy'; valid choices: auto, bar, log",
        ),
        ({"num_envs": 0}, "num_envs must be >= 1, got 0"),
        ({"learner": {"n_minibatches": 3}}, "learner.n_minibatches=3 must divide"),
    ],
)
def test_bad_values_fail_naming_the_key(change, message):
    cfg = compose_train()
    OmegaConf.set_struct(cfg, False)  # like a hand-edited config.yaml, which has no struct flag
    cfg = OmegaConf.merge(cfg, change)
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["curriculum=constant", "curriculum.task_index=9"], "curriculum.task_index must be in [0, 4]"),
        (
            ["curriculum=sequential", "curriculum.stage_fractions=[0.5,1.5,1.0]"],
            "stage_fractions[1] must be in (0, 1]",
        ),
        (["curriculum=plr", "curriculum.strategy=best"], "curriculum (plr): strategy"),
        (
            ["curriculum=sequential", 'curriculum.stopping_conditions=["steps>>3","steps>1"]'],
            "unknown operator '>>'",
        ),
    ],
)
def test_bad_curriculum_parameters_fail_before_training(overrides, message):
    # Validation checks what it can alone (stage fractions); the curriculum's constructor the rest.
    with pytest.raises(ConfigError) as info:
        run = validate(compose_train(*overrides))
        make_curriculum(run, task_space_of(run.env))
    assert message in str(info.value)


def test_minigrid_needs_one_kind_of_task_list():
    with pytest.raises(ConfigError, match="either env.env_ids"):
        validate(compose_train("env=minigrid", "env.seeds=[1,2]"))


def test_saved_config_validates_like_the_composed_one(tmp_path):
    cfg = compose_train("curriculum=lp", "seed=7")
    OmegaConf.save(cfg, tmp_path / "config.yaml")
    assert validate(OmegaConf.load(tmp_path / "config.yaml")) == validate(cfg)


def test_config_listing_shows_groups_options_and_defaults():
    text = describe_configs()
    assert "plr*" in text and "cartpole*" in text and "multiprocessing*" in text
    for group in ("env", "curriculum", "sync", "learner", "logger", "experiment"):
        assert f"  {group} " in text
