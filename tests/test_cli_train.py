"""`syllabus train` end to end in subprocesses: every curriculum under every sync, sweeps, Procgen, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cli_fixtures import SYLLABUS, TINY, cli_env, header, read_csv, syllabus
from syllabus.cli.config_listing import group_options
from timeouts import scaled

# Self-play curricula choose opponents, not CartPole tasks: tests/test_cli_selfplay.py runs them.
CURRICULA = [c for c in group_options()["curriculum"] if c not in ("sp", "fsp", "pfsp")]
# sync=ray starts a Ray per job; tests/test_cli_ray.py covers it end to end.
SYNCS = [sync for sync in group_options()["sync"] if sync != "ray"]
PROGRESS_HEADER = ["step", "time", "steps_per_sec", "episodes", "episode_return_mean", "episode_length_mean"]
EPISODES_HEADER = ["step", "env_id", "task", "episode_return", "episode_length"]
CARTPOLE_TASKS = {"0.02", "0.05", "0.1", "0.15", "0.2"}


@pytest.mark.timeout(240)
@pytest.mark.slow
def test_every_curriculum_under_every_sync_in_one_sweep(tmp_path):
    """One basic-launcher multirun over the curriculum x sync grid: each job trains and logs its tasks."""
    result = syllabus(
        "train",
        "-m",
        f"curriculum={','.join(CURRICULA)}",
        f"sync={','.join(SYNCS)}",
        *TINY,
        "logger=csv",
        f"hydra.sweep.dir={tmp_path}",
        cwd=tmp_path,
        timeout=scaled(230),
    )
    jobs = sorted((p for p in tmp_path.iterdir() if p.is_dir()), key=lambda p: int(p.name))
    assert len(jobs) == len(CURRICULA) * len(SYNCS), result.stdout
    seen = set()
    for job in jobs:
        meta = json.loads((job / "meta.json").read_text())
        assert meta["status"] == "completed" and meta["steps"] >= 512, job
        episodes = read_csv(job / "logs" / "episodes.csv")
        assert episodes and {row["task"] for row in episodes} <= CARTPOLE_TASKS, job
        assert (job / "checkpoints" / "final" / "model.zip").exists()
        assert header(job / "logs" / "progress.csv") == PROGRESS_HEADER
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        chosen = [
            line.split("=")[1]
            for line in overrides.splitlines()
            if line.startswith(("- curriculum", "- sync"))
        ]
        seen.add(tuple(chosen))
        if "curriculum=constant" in overrides:
            assert {row["task"] for row in episodes} == {"0.02"}
        if "curriculum=none" in overrides:
            assert {row["task"] for row in episodes} == {"0.05"}  # the env's default task
            assert not (job / "checkpoints" / "final" / "curriculum.pkl").exists()
        else:
            assert (job / "checkpoints" / "final" / "curriculum.pkl").exists()
    assert seen == {(c, s) for c in CURRICULA for s in SYNCS}


@pytest.mark.timeout(120)
@pytest.mark.slow
def test_parallel_sweep_with_joblib_launcher(tmp_path):
    syllabus(
        "train",
        "--multirun",
        "seed=0,1",
        *TINY,
        "logger=csv",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
        timeout=scaled(110),
    )
    metas = [json.loads((tmp_path / "sweep" / str(i) / "meta.json").read_text()) for i in range(2)]
    assert [m["seed"] for m in metas] == [0, 1]
    assert all(m["status"] == "completed" for m in metas)
    assert (tmp_path / "sweep" / "multirun.yaml").exists()


MISTAKES = [
    (["curriculum=nope"], f"Available options in 'curriculum': {', '.join(group_options()['curriculum'])}"),
    (["seed=abc"], "seed must be an integer, got 'abc'"),
    (["seed=-1"], "seed must be in [0, 4294967295], got -1"),
    (["+curriculum.temprature=1"], "curriculum.temprature: unknown key 'temprature' (did you mean temperature"),
    (["learner.n_epochs=ten"], "learner.n_epochs: Value 'ten'"),
    (["curriculum.temprature=1"], "curriculum.temprature: unknown key 'temprature' (did you mean temperature"),
    (["curriculum=lp", "curriculum.temperature=1"], "valid keys of curriculum=lp: ema_alpha, p_theta, eps, success_threshold"),
    (["env.foo.bar=1"], "env.foo: unknown key 'foo'; valid keys of env=cartpole: tasks, eval_tasks, success_threshold"),
    (["-m", "curriculum=plr,lp", "curriculum.temperature=1"], "curriculum.temperature: unknown key 'temperature'; valid keys of curriculum=lp:"),
    (["num_env=8"], "unknown top-level key 'num_env' (did you mean num_envs"),
    (["learner.policy_kwargs.foo=1"], "To append to your config use +learner.policy_kwargs.foo=1"),  # a free-form mapping
    (["env=procgen", "env.game=bigfsh"], "env.game: unknown Procgen game 'bigfsh' (did you mean bigfish?)"),
    (["env=procgen", "env.distribution_mode=hardd"], "unknown distribution mode 'hardd' (did you mean hard?); valid: easy, hard"),
    (["env=minigrid", "env.env_ids=[MiniGrid-Emty-5x5-v0]"], "unknown MiniGrid env id 'MiniGrid-Emty-5x5-v0' (did you mean MiniGrid-Empty-5x5-v0"),
    (["env.tasks=[0.1,-0.05]"], "env.tasks: a CartPole task is the half-width of the initial-state range and must be > 0, got -0.05"),
    (["learner.policy=MlpPolcy"], "learner.policy: invalid value 'MlpPolcy'; valid choices: auto, MlpPolicy"),
    (["sync.timeout=0"], "sync.timeout must be > 0 seconds, got 0.0"),
    (["seed=[1"], "no viable alternative at input '[1'"),  # Hydra's override grammar
    (["--config-name", "nope"], "Cannot find primary config 'nope'"),
]  # fmt: skip


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("args", "expected"), MISTAKES)
def test_mistakes_are_one_line_and_exit_2_before_anything_starts(tmp_path, args, expected):
    result = syllabus("train", *args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert expected in output
    assert "Traceback" not in output
    assert not (tmp_path / "run").exists()
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("args", [["env=procgen", "env.game=bigfsh"], ["env=minigrid", "seed=-1"]])
def test_values_are_checked_before_torch_or_env_packages_are_imported(tmp_path, args):
    """What keeps a typo's report under 2 s: nothing heavy is imported before the config is checked."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *SYLLABUS[1:], "train", *args], cwd=tmp_path, env=cli_env(),
        capture_output=True, text=True, timeout=scaled(50),
    )  # fmt: skip
    assert result.returncode == 2
    imported = {
        line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    assert not imported & {"torch", "stable_baselines3", "procgen", "minigrid", "gymnasium", "ray", "numpy"}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("debug", [["--debug"], "SYLLABUS_DEBUG"])
def test_debug_shows_the_traceback(tmp_path, debug):
    env = cli_env() | ({"SYLLABUS_DEBUG": "1"} if debug == "SYLLABUS_DEBUG" else {})
    flags = debug if isinstance(debug, list) else []
    result = subprocess.run(
        [*SYLLABUS, *flags, "train", "seed=-1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(50),
    )
    assert result.returncode == 2
    assert "Traceback" in result.stderr and "seed must be in" in result.stderr


def test_static_env_names_match_the_installed_packages():
    from syllabus.cli.envs.minigrid import MINIGRID_ENV_IDS
    from syllabus.cli.envs.procgen import PROCGEN_DISTRIBUTION_MODES, PROCGEN_GAMES

    from syllabus.envs import procgen as procgen_env
    from syllabus.envs.minigrid import minigrid_env_ids

    procgen = procgen_env.import_procgen()
    assert PROCGEN_GAMES == tuple(procgen.env.ENV_NAMES) == tuple(procgen_env.GAMES)
    assert PROCGEN_DISTRIBUTION_MODES == procgen_env.DISTRIBUTION_MODES
    assert set(PROCGEN_DISTRIBUTION_MODES) <= set(procgen.env.DISTRIBUTION_MODE_DICT)
    assert list(MINIGRID_ENV_IDS) == minigrid_env_ids()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("module", "override", "extra"), [("procgen", "env=procgen", "procgen"), ("ray", "sync=ray", "ray")]
)
def test_missing_optional_dependency_names_the_extra(tmp_path, module, override, extra):
    code = f"import sys; sys.modules[{module!r}] = None; from syllabus.cli.app import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "train", override, f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=scaled(50),
    )
    assert result.returncode == 2
    assert f'pip install "syllabus-curriculum[{extra}]"' in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.timeout(60)
def test_cfg_job_prints_the_composed_config_without_running(tmp_path):
    result = syllabus("train", "--cfg", "job", "env=procgen", "seed=5", cwd=tmp_path)
    assert "name: procgen" in result.stdout and "seed: 5" in result.stdout
    assert "learning_rate: 0.0005" in result.stdout  # the tuned Procgen learner settings
    assert not (tmp_path / "outputs").exists()


@pytest.mark.timeout(60)
def test_configs_lists_groups_and_user_config_dir_adds_options(tmp_path):
    out = syllabus("configs", cwd=tmp_path).stdout
    assert "curriculum" in out and "plr*" in out and "robust_plr" in out
    user = tmp_path / "my_configs" / "curriculum"
    user.mkdir(parents=True)
    (user / "my_dr.yaml").write_text("name: dr\n")
    result = syllabus(
        "train",
        "--config-dir",
        str(tmp_path / "my_configs"),
        "curriculum=my_dr",
        "--cfg",
        "job",
        cwd=tmp_path,
    )
    assert "curriculum:\n  name: dr\n" in result.stdout


@pytest.mark.timeout(60)
def test_a_refused_config_leaves_no_empty_output_directories(tmp_path):
    """Hydra makes outputs/DATE/TIME before the config is checked; a refused run removes all of it."""
    (tmp_path / "outputs" / "earlier-run").mkdir(parents=True)
    result = syllabus("train", "seed=-1", cwd=tmp_path, check=False, timeout=scaled(50))
    assert result.returncode == 2, result.stderr
    assert [p.relative_to(tmp_path).as_posix() for p in sorted(tmp_path.rglob("*"))] == [
        "outputs",
        "outputs/earlier-run",
    ]
