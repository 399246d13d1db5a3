"""Self-play in the runner: `env=connect_four curriculum=sp|fsp|pfsp`, its pool, snapshots, eval and plot."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
from cli_fixtures import read_csv, syllabus
from hydra import compose, initialize_config_dir
from syllabus.cli.builders import make_curriculum, make_task_env, task_space_of
from syllabus.cli.hydra_app import CONFIG_DIR
from syllabus.cli.learners.sb3 import learner_callbacks, make_ppo, ppo_class
from syllabus.cli.learners.sb3_callbacks import SnapshotCallback
from syllabus.cli.schema import ConfigError, validate
from syllabus.cli.selfplay import PolicyOpponent, PoolOpponents, policy_snapshot, with_opponent_pool
from timeouts import scaled

from syllabus.core import DirectSyncWrapper
from syllabus.envs.connect_four import RandomOpponent

# A Connect Four run of a few seconds: 2 envs, rollouts of 2 x 64 moves, a snapshot every 256 steps.
TINY = [
    "env=connect_four",
    "num_envs=2",
    "learner.n_steps=64",
    "learner.n_minibatches=2",
    "curriculum.snapshot_interval=256",
    "logger.log_interval=256",
    "logger.tensorboard=false",
]


def compose_run(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR), job_name="test"):
        return validate(compose("train", overrides=list(overrides)))


@pytest.mark.parametrize("curriculum", ["sp", "fsp", "pfsp"])
def test_self_play_curricula_start_with_the_initial_opponents(curriculum):
    run = compose_run(
        "env=connect_four", f"curriculum={curriculum}", "env.initial_opponents=[random,heuristic]"
    )
    assert (
        run.learner.name == "sb3_ppo" and run.learner.n_steps == 256
    )  # learner/tuned/sb3_ppo_connect_four.yaml
    built = make_curriculum(run, task_space_of(run.env))
    try:
        assert (
            type(built).__name__
            == {
                "sp": "SelfPlay",
                "fsp": "FictitiousSelfPlay",
                "pfsp": "PrioritizedFictitiousSelfPlay",
            }[curriculum]
        )
        expected = [1] if curriculum == "sp" else [0, 1]  # self-play keeps only the latest (max_agents=1)
        assert built.pool.agent_ids == expected
        assert [built.pool.load(i) for i in built.pool.loadable_ids] == [
            {"fixed": "random"},
            {"fixed": "heuristic"},
        ]
        assert set(built.sample(20)) <= set(expected)
    finally:
        built.pool.close()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["curriculum=pfsp"],
            "curriculum=pfsp chooses opponents; it needs an env whose task is the opponent",
        ),
        (
            ["env=connect_four", "curriculum=pfsp", "curriculum.weighting=easy"],
            "curriculum.weighting: unknown",
        ),
        (
            ["env=connect_four", "curriculum=fsp", "curriculum.snapshot_interval=0"],
            "snapshot_interval must be >= 1",
        ),
        (["env=connect_four", "curriculum=sp", "env.initial_opponents=[]"], "needs an opponent before"),
        (["env=connect_four", "env.eval_opponents=[randm]"], "did you mean random"),
        (["env=connect_four", "env.seat=left"], "env.seat: unknown seat 'left'"),
        (["env=connect_four", "curriculum=robust_plr"], "cannot mask actions"),
        (["env=connect_four", "learner=rllib_ppo", "sync=ray"], "trains with learner=sb3_ppo (MaskablePPO)"),
    ],
)
def test_bad_self_play_configs_fail_naming_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compose_run(*overrides)


def test_a_bad_value_is_one_line_and_exit_2(tmp_path):
    result = syllabus(
        "train", "env=connect_four", "curriculum=pfsp", "env.seat=left", cwd=tmp_path, check=False
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "env.seat: unknown seat 'left'" in result.stderr


def test_pool_envs_play_fixed_opponents_and_policy_snapshots():
    """Envs of a self-play run load each opponent id from the pool: fixed ones by name, policies rebuilt."""
    run = compose_run("env=connect_four", "curriculum=fsp", "sync=none", "num_envs=1", "learner.n_steps=64")
    curriculum = make_curriculum(run, task_space_of(run.env))
    try:
        env = make_task_env(with_opponent_pool(run, curriculum).env)
        from stable_baselines3.common.vec_env import DummyVecEnv

        model = make_ppo(run, DummyVecEnv([lambda: make_task_env(run.env)]))
        assert type(model).__name__ == "MaskablePPO" and ppo_class(run).__name__ == "MaskablePPO"
        policy_id = curriculum.add_agent(policy_snapshot(model.policy))
        handle = pickle.loads(pickle.dumps(curriculum.pool))  # what an env process gets
        opponents = PoolOpponents(handle)
        assert isinstance(opponents(0), RandomOpponent)
        opponent = opponents(policy_id)
        assert isinstance(opponent, PolicyOpponent) and opponents(policy_id) is opponent  # built once
        for name, value in model.policy.state_dict().items():
            assert np.array_equal(opponent.policy.state_dict()[name].numpy(), value.cpu().numpy()), name
        rng = np.random.default_rng(0)
        only_3 = np.array([0, 0, 0, 1, 0, 0, 0], np.int8)
        assert {opponent.act(np.zeros((6, 7, 2), np.int8), only_3, rng) for _ in range(20)} == {3}
        for task in (0, policy_id):
            _, info = env.reset(seed=task, new_task=task)
            done = False
            while not done:
                _, _, done, _, info = env.step(int(np.flatnonzero(env.action_masks())[0]))
            assert info["outcome"] in ("win", "draw", "loss")
        env.close()
    finally:
        curriculum.pool.close()


def test_snapshot_callback_adds_the_policy_every_interval():
    run = compose_run(
        "env=connect_four",
        "curriculum=pfsp",
        "sync=none",
        "num_envs=1",
        "learner.n_steps=64",
        "learner.n_minibatches=1",
        "curriculum.snapshot_interval=128",
    )
    curriculum = make_curriculum(run, task_space_of(run.env))
    try:
        from stable_baselines3.common.vec_env import DummyVecEnv

        env_cfg = with_opponent_pool(run, curriculum).env
        venv = DummyVecEnv([lambda: DirectSyncWrapper(make_task_env(env_cfg), curriculum)])
        model = make_ppo(run, venv)
        (callback,) = learner_callbacks(run, curriculum)
        assert isinstance(callback, SnapshotCallback)
        model.learn(64 * 6, callback=callback)  # rollouts start at 0, 64, ..., 320: snapshots at 128 and 256
        assert curriculum.pool.agent_ids == [0, 1, 2]
        games = sum(sum(curriculum.games(i).values()) for i in curriculum.pool.agent_ids)
        assert games > 0  # the envs' episode updates counted wins and losses
        venv.close()
    finally:
        curriculum.pool.close()


@pytest.mark.timeout(420)
@pytest.mark.slow
def test_connect_four_pfsp_trains_resumes_evaluates_and_plots(tmp_path):
    """End to end: train (multiprocessing envs), resume, eval against fixed opponents, plot; the pool and the
    win records come back from the checkpoint bit for bit."""
    run_dir = tmp_path / "run"
    syllabus(
        "train",
        *TINY,
        "curriculum=pfsp",
        "total_timesteps=768",
        f"hydra.run.dir={run_dir}",
        "--quiet",
        cwd=tmp_path,
        timeout=scaled(200),
    )
    final = run_dir / "checkpoints" / "final"
    saved = pickle.loads((final / "curriculum.pkl").read_bytes())
    # Snapshots at the rollout starts at 256 and 512 (768 ends training): the random opponent and two policies.
    assert saved["pool"]["ids"] == [0, 1, 2] and saved["pool"]["next_id"] == 3
    assert pickle.loads(saved["pool"]["snapshots"][0]) == {"fixed": "random"}
    assert "state_dict" in pickle.loads(saved["pool"]["snapshots"][2])
    episodes = read_csv(run_dir / "logs" / "episodes.csv")
    assert {row["task"] for row in episodes} <= {"0", "1", "2"} and {
        float(r["episode_return"]) for r in episodes
    } <= {-1.0, 0.0, 1.0}
    counted = sum(sum(r["counts"].values()) for r in saved["records"].values())
    assert (
        0 < counted <= len(episodes)
    )  # the envs' episode updates (a few may be in flight at the checkpoint)
    shutil.copytree(final, tmp_path / "before_resume")

    # Resume to 1024 steps: the next snapshot would be due at the rollout start at 1024, after training ends,
    # so the pool must be exactly the checkpoint's, and the win records go on from it.
    syllabus(
        "train",
        "--resume",
        str(run_dir),
        "total_timesteps=1024",
        "--quiet",
        cwd=tmp_path,
        timeout=scaled(200),
    )
    resumed = pickle.loads((final / "curriculum.pkl").read_bytes())
    assert resumed["pool"] == saved["pool"]  # ids, evicted ids, next id and every snapshot's bytes
    new_episodes = read_csv(run_dir / "logs" / "episodes.csv")
    assert len(new_episodes) > len(episodes)
    for agent_id, record in resumed["records"].items():
        before = saved["records"].get(agent_id, {"counts": {"wins": 0, "draws": 0, "losses": 0}})["counts"]
        assert all(record["counts"][k] >= before[k] for k in before)
    assert counted < sum(sum(r["counts"].values()) for r in resumed["records"].values()) <= len(new_episodes)

    result = syllabus("eval", str(run_dir), "-n", "4", "--mode", "greedy", cwd=tmp_path, timeout=scaled(120))
    assert "against heuristic: win rate" in result.stdout and "against random: win rate" in result.stdout
    (path,) = (run_dir / "eval").glob("final-greedy-seed*.json")
    evaluation = json.loads(path.read_text())
    assert set(evaluation["tasks"]) == {"random", "heuristic"} and evaluation["episodes"] == 8
    for stats in evaluation["tasks"].values():
        assert stats["wins"] + stats["draws"] + stats["losses"] == 4 and 0 <= stats["win_rate"] <= 1
    assert list(evaluation["pool"]) == ["random", "snapshot 1", "snapshot 2"]  # the checkpoint's pool
    assert [entry["id"] for entry in evaluation["pool"].values()] == [0, 1, 2]
    assert "training win rates against the pool (games): random " in result.stdout

    result = syllabus("plot", str(run_dir), cwd=tmp_path, timeout=scaled(120))
    assert (run_dir / "plots" / "self_play.png").stat().st_size > 0
    assert str(run_dir / "plots" / "self_play.png") in result.stdout
