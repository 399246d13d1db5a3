"""Self-play curricula: win-rate bookkeeping, PFSP sampling, state, the dual wrapper, and every sync backend."""

from __future__ import annotations

import pickle
from collections import Counter, defaultdict
from functools import partial

import gymnasium as gym
import numpy as np
import pytest
from scipy.stats import chisquare
from selfplay_fixtures import RockPaperScissors, make_rps_env, run_ray_rps, snapshot
from sync_fixtures import RecordingCurriculum
from timeouts import scaled

from syllabus.core import (
    CurriculumError,
    DirectSyncWrapper,
    StepBatch,
    make_multiprocessing_curriculum,
)
from syllabus.curricula import (
    DomainRandomization,
    DualCurriculumWrapper,
    FictitiousSelfPlay,
    OpponentPool,
    OpponentTaskSpace,
    PrioritizedFictitiousSelfPlay,
    PrioritizedLevelReplay,
    SelfPlay,
)
from syllabus.task_space import DiscreteTaskSpace, TupleTaskSpace


@pytest.fixture
def pool(tmp_path):
    pool = OpponentPool(tmp_path / "pool", max_agents=5)
    yield pool
    pool.close()


def scripted_outcomes(seed: int, n: int, opponents: int) -> list[tuple[int, float]]:
    """(opponent id, learner return) pairs: returns in {-1, 0, 1} and some other values of each sign."""
    rng = np.random.default_rng(seed)
    values = [-1.0, 0.0, 1.0, 0.25, -3.5]
    return [(int(rng.integers(opponents)), float(rng.choice(values))) for _ in range(n)]


def hand_count(outcomes: list[tuple[int, float]]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"wins": 0, "draws": 0, "losses": 0})
    for agent_id, episode_return in outcomes:
        counts[agent_id]["wins" if episode_return > 0 else "losses" if episode_return < 0 else "draws"] += 1
    return counts


def test_win_rates_equal_a_hand_count(pool):
    curriculum = FictitiousSelfPlay(pool)
    for i in range(4):
        curriculum.add_agent(i)
    outcomes = scripted_outcomes(seed=1, n=500, opponents=4)
    for agent_id, episode_return in outcomes:
        curriculum.update_on_episode(episode_return, 7, agent_id, env_id=0)
    counts = hand_count(outcomes)
    for agent_id in range(4):
        c = counts[agent_id]
        assert curriculum.games(agent_id) == c
        assert curriculum.win_rate(agent_id) == (c["wins"] + 0.5 * c["draws"]) / sum(c.values())
    assert curriculum.win_rates() == {i: curriculum.win_rate(i) for i in range(4)}
    curriculum.add_agent(4)
    assert curriculum.win_rate(4) == 0.5 and curriculum.games(4) == {"wins": 0, "draws": 0, "losses": 0}


def test_windowed_win_rates_and_progress_outcomes(pool):
    curriculum = SelfPlay(pool, outcome="progress", window=10)
    curriculum.add_agent("only")
    scores = np.random.default_rng(2).choice([0.0, 0.5, 1.0], size=37)
    for score in scores:
        curriculum.update_on_episode(-5.0, 3, 0, progress=float(score))  # the return is ignored
    last = list(scores[-10:])
    assert curriculum.games(0) == {
        "wins": last.count(1.0),
        "draws": last.count(0.5),
        "losses": last.count(0.0),
    }
    assert curriculum.win_rate(0) == pytest.approx(sum(last) / 10)
    with pytest.raises(ValueError, match=r"outcome='progress' needs info\['task_completion'\].*got 0.3"):
        curriculum.update_on_episode(1.0, 3, 0, progress=0.3)
    with pytest.raises(ValueError, match="got None"):
        curriculum.update_on_episode(1.0, 3, 0)


def test_updates_for_evicted_opponents_are_stale(tmp_path):
    pool = OpponentPool(tmp_path, max_agents=2)
    curriculum = FictitiousSelfPlay(pool)
    for i in range(3):
        curriculum.add_agent(i)
    curriculum.update_on_episode(1.0, 1, 0)  # opponent 0 already left the pool
    curriculum.update_on_episode(1.0, 1, 2)
    assert (
        curriculum.stale_updates == 1
        and curriculum.games(0)["wins"] == 0
        and curriculum.games(2)["wins"] == 1
    )
    assert curriculum.metrics()["curriculum/stale_updates"] == 1.0


@pytest.mark.parametrize(
    ("weighting", "f"),
    [
        ("hard", lambda p: (1 - p) ** 2),
        ("variance", lambda p: p * (1 - p)),
        ("linear", lambda p: 1 - p),
        ("squared", lambda p: (1 - p) ** 2),
    ],
)
def test_pfsp_sampling_frequencies_match_its_weights(pool, weighting, f):
    curriculum = PrioritizedFictitiousSelfPlay(pool, weighting=weighting, random_seed=0)
    for i in range(5):
        curriculum.add_agent(i)
    # win rates 0.1, 0.25, 0.5, 0.8, and 0.5 (no games) against opponents 0..4
    for agent_id, (wins, losses) in enumerate([(1, 9), (1, 3), (2, 2), (4, 1)]):
        for episode_return in [1.0] * wins + [-1.0] * losses:
            curriculum.update_on_episode(episode_return, 1, agent_id)
    rates = np.array([0.1, 0.25, 0.5, 0.8, 0.5])
    assert list(curriculum.win_rates().values()) == pytest.approx(rates)
    expected = f(rates) / f(rates).sum()
    np.testing.assert_allclose(curriculum.task_distribution(), expected)
    n = 20_000
    counts = Counter(curriculum.sample(n))
    observed = [counts[i] for i in range(5)]
    assert chisquare(observed, expected * n).pvalue > 0.001


def test_pfsp_hard_exponent_and_uniform_when_all_weights_are_zero(pool):
    curriculum = PrioritizedFictitiousSelfPlay(pool, weighting="hard", exponent=3, random_seed=0)
    curriculum.add_agent(0)
    curriculum.add_agent(1)
    curriculum.update_on_episode(-1.0, 1, 0)
    curriculum.update_on_episode(1.0, 1, 0)  # p = 0.5 against 0, and 0.5 (no games) against 1
    curriculum.update_on_episode(-1.0, 1, 1)  # p = 0 against 1
    np.testing.assert_allclose(curriculum.weights([0, 1]), [0.125, 1.0])
    curriculum = PrioritizedFictitiousSelfPlay(pool, weighting="variance")
    for agent_id in (0, 1):
        curriculum.update_on_episode(1.0, 1, agent_id)  # p = 1: f = 0 for both
    np.testing.assert_allclose(curriculum.task_distribution(), [0.5, 0.5])
    counts = Counter(curriculum.sample(2000))
    assert chisquare([counts[0], counts[1]]).pvalue > 0.001


def test_self_play_is_the_latest_and_fsp_uniform(pool):
    sp, fsp = SelfPlay(pool), FictitiousSelfPlay(pool, random_seed=0)
    for curriculum in (sp, fsp):
        with pytest.raises(CurriculumError, match=r"opponent pool is empty.*add_agent"):
            curriculum.sample(1)
    for i in range(7):
        pool.add_agent(i)  # max_agents=5: opponents 2..6
        assert sp.sample(3) == [i, i, i]
    counts = Counter(fsp.sample(10_000))
    assert set(counts) == {2, 3, 4, 5, 6}
    assert chisquare([counts[i] for i in range(2, 7)]).pvalue > 0.001
    np.testing.assert_allclose(fsp.task_distribution(), np.full(5, 0.2))


def test_opponent_task_space():
    space = OpponentTaskSpace()
    assert space.contains(0) and space.contains(np.int64(12)) and 10**9 in space
    assert not any(space.contains(bad) for bad in (-1, True, 1.0, "3", None))
    assert space.encode(5) == space.decode(5) == 5 and not space.is_enumerable
    assert space == pickle.loads(pickle.dumps(space)) and space == OpponentTaskSpace()
    assert TupleTaskSpace([DiscreteTaskSpace(3), space]).contains((2, 7))
    with pytest.raises(CurriculumError, match="samples them from its pool"):
        space.sample()


def test_bad_arguments(pool):
    with pytest.raises(TypeError, match="pool must be an OpponentPool"):
        SelfPlay("pool")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"outcome must be one of \['return', 'progress'\], got 'sign'"):
        SelfPlay(pool, outcome="sign")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window must be None or an integer >= 1, got 0"):
        SelfPlay(pool, window=0)
    with pytest.raises(
        ValueError, match=r"weighting must be one of \['hard', 'variance', 'linear', 'squared'\]"
    ):
        PrioritizedFictitiousSelfPlay(pool, weighting="easy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exponent must be a finite number > 0"):
        PrioritizedFictitiousSelfPlay(pool, exponent=0)
    curriculum = SelfPlay(pool)
    curriculum.add_agent(0)
    with pytest.raises(Exception, match="task -1 is not in OpponentTaskSpace"):
        curriculum.update_on_episode(1.0, 1, -1)


def same_state(a: dict, b: dict) -> bool:
    """Equal states: snapshot bytes, counts, floats and generator states exactly equal. Task spaces compare
    as spaces (each holds its own unseeded generator for ``TaskSpace.sample``, which no curriculum state restores)."""
    strip = lambda state: {k: v for k, v in state.items() if k != "task_space"}  # noqa: E731
    return a["task_space"] == b["task_space"] and strip(a) == strip(b)


def test_state_dict_resumes_bit_for_bit(tmp_path):
    def build(directory):
        pool = OpponentPool(tmp_path / directory, max_agents=3, retain_evicted=1)
        return PrioritizedFictitiousSelfPlay(
            pool, weighting="variance", window=20, random_seed=4, record_stats=True
        )

    curriculum = build("run")
    for tag in range(5):
        curriculum.add_agent(snapshot(tag))
        for agent_id, episode_return in scripted_outcomes(seed=tag, n=30, opponents=tag + 1):
            if agent_id in curriculum.pool:
                curriculum.update_on_episode(episode_return, 1, agent_id)
        curriculum.sample(3)
    state = pickle.dumps(curriculum.state_dict())

    resumed = build("resumed")
    resumed.load_state_dict(pickle.loads(state))
    assert same_state(resumed.state_dict(), pickle.loads(state))
    assert resumed.win_rates() == curriculum.win_rates()
    assert resumed.pool.loadable_ids == [1, 2, 3, 4]
    for agent_id in resumed.pool.loadable_ids:
        assert resumed.pool.load(agent_id)["tag"] == agent_id
    assert resumed.sample(50) == curriculum.sample(50)
    for c in (curriculum, resumed):
        c.add_agent(snapshot(5))
        c.update_on_episode(1.0, 1, 5)
    assert same_state(resumed.state_dict(), curriculum.state_dict())
    with pytest.raises(
        ValueError, match="the state is of a PrioritizedFictitiousSelfPlay, this curriculum is a SelfPlay"
    ):
        SelfPlay(resumed.pool).load_state_dict(pickle.loads(state))


def test_metrics(pool):
    curriculum = PrioritizedFictitiousSelfPlay(pool, random_seed=0)
    for i in range(3):
        curriculum.add_agent(i)
    curriculum.update_on_episode(-1.0, 1, 0)
    writer: dict[str, float] = {}
    out = curriculum.log_metrics(writer, step=1, max_tasks=2)
    assert writer == out
    assert out["curriculum/pool_size"] == 3.0 and out["curriculum/mean_win_rate"] == pytest.approx(1 / 3)
    assert out["curriculum/opponent_0_prob"] == pytest.approx(1 / 1.5)
    assert out["curriculum/opponent_0_win_rate"] == 0.0 and out["curriculum/opponent_0_games"] == 1.0
    assert "curriculum/opponent_2_prob" not in out  # only the max_tasks most likely
    assert out["curriculum/task_entropy"] > 0


# ---------------------------------------------------------------- the dual wrapper
def test_dual_wrapper_routes_samples_and_updates(pool):
    levels = DiscreteTaskSpace(20)
    plr = PrioritizedLevelReplay(levels, random_seed=0)
    recorder = RecordingCurriculum(step_updates=True)
    fsp = FictitiousSelfPlay(pool, random_seed=0)
    dual = DualCurriculumWrapper(plr, fsp, random_seed=0)
    assert dual.task_space == TupleTaskSpace([levels, OpponentTaskSpace()])
    assert dual.add_agent("first") == 0 and dual.add_agent("second") == 1 and pool.agent_ids == [0, 1]
    tasks = dual.sample_with_metadata(4)
    assert all(dual.task_space.contains(task) for task, _ in tasks)
    assert all(
        meta is not None and set(meta) == {"env", "agent"} and "replay" in meta["env"] for _, meta in tasks
    )
    assert {task[1] for task, _ in tasks} <= {0, 1}

    dual.update_on_episode(1.0, 5, (3, 1), progress=None, env_id=2)
    dual.update_on_episode(-1.0, 5, (4, 1), env_id=2)
    assert fsp.games(1) == {"wins": 1, "draws": 0, "losses": 1}
    assert dual.requires_step_updates is False

    steps = DualCurriculumWrapper(recorder, fsp)
    assert steps.requires_step_updates is True
    batch = StepBatch(
        [(5, 0), (5, 0)], [0, 0], [0.5, 1.0], [False, True], [False, False], [{}, {}], [None, None]
    )
    steps.update_on_step_batch(batch, env_id=1)
    steps.update_on_episode(1.5, 2, (5, 0), env_id=1)
    steps.custom_update("value scores")
    assert recorder.steps[1] == [(5, 0.5), (5, 1.0)]
    assert recorder.episodes[1] == [(5, 1.5, 2)] and fsp.games(0)["wins"] == 1
    assert recorder.custom == [(("value scores",), {})]
    with pytest.raises(ValueError, match=r"tasks are \(env_task, agent_task\) pairs, got 5"):
        steps.update_on_episode(1.0, 1, 5)

    metrics = dual.metrics()
    assert metrics["curriculum/agent/pool_size"] == 2.0 and "curriculum/env/task_entropy" in metrics
    with pytest.raises(CurriculumError, match="DomainRandomization takes no snapshots"):
        DualCurriculumWrapper(plr, DomainRandomization(levels)).add_agent("x")


def test_dual_wrapper_state_round_trip(tmp_path):
    def build(directory):
        pool = OpponentPool(tmp_path / directory, max_agents=3)
        return DualCurriculumWrapper(
            DomainRandomization(DiscreteTaskSpace(10), random_seed=1),
            PrioritizedFictitiousSelfPlay(pool, random_seed=2),
        )

    dual = build("run")
    for i in range(4):
        dual.add_agent(snapshot(i))
    for task in dual.sample(40):
        dual.update_on_episode(float(task[0] % 3 - 1), 1, task)
    resumed = build("resumed")
    resumed.load_state_dict(pickle.loads(pickle.dumps(dual.state_dict())))
    assert resumed.sample(30) == dual.sample(30)
    assert resumed.agent_curriculum.win_rates() == dual.agent_curriculum.win_rates()


# ---------------------------------------------------------------- through the sync backends
def test_dual_wrapper_through_direct_sync(pool):
    levels = DiscreteTaskSpace(["small", "large"])
    dual = DualCurriculumWrapper(
        DomainRandomization(levels, random_seed=0, record_stats=True), FictitiousSelfPlay(pool, random_seed=0)
    )
    tags = {dual.add_agent(snapshot(tag)): tag for tag in range(3)}
    env = DirectSyncWrapper(RockPaperScissors(pool, TupleTaskSpace([levels, OpponentTaskSpace()])), dual)
    played = []
    for _ in range(60):
        _, info = env.reset()
        level, agent_id = info["task"]
        assert level in ("small", "large") and tags[agent_id] == info["opponent_tag"]
        _, reward, *_ = env.step(1)
        played.append((agent_id, reward))
    env.close()
    for agent_id, counts in hand_count(played).items():
        assert dual.agent_curriculum.games(agent_id) == counts
    assert dual.env_curriculum.stat_recorder.episodes == 60


def test_direct_sync_vector_env_counts_every_game(pool):
    curriculum = PrioritizedFictitiousSelfPlay(pool, random_seed=0)
    curriculum.add_agent(snapshot(0))
    venv = gym.vector.SyncVectorEnv([lambda: DirectSyncWrapper(RockPaperScissors(pool), curriculum)] * 3)
    played = play(venv, curriculum, steps=150, add_every=40)
    venv.close()
    check_games(curriculum, played)


def play(venv: gym.vector.VectorEnv, curriculum, steps: int, add_every: int) -> list[tuple[int, float]]:
    """The learner's loop: always plays paper, adds a snapshot every ``add_every`` steps; returns
    (opponent id, reward) of every round after checking each env loaded the snapshot of its task."""
    tags = {0: 0}
    _, info = venv.reset(seed=0)
    current = list(zip(info["task"], info["opponent_tag"], strict=True))
    played = []
    for step in range(1, steps + 1):
        if step % add_every == 0:
            tag = len(tags)
            tags[curriculum.add_agent(snapshot(tag))] = tag
        _, rewards, terminated, _, info = venv.step(np.ones(venv.num_envs, dtype=np.int64))
        if step % 2:  # a round's end: every env finished its one-step episode
            assert terminated.all()
            for (task, tag), reward in zip(current, rewards, strict=True):
                assert tags[int(task)] == tag, "an env loaded another snapshot than its task's"
                played.append((int(task), float(reward)))
        else:  # gymnasium's next-step autoreset: every env starts its next round
            current = list(zip(info["task"], info["opponent_tag"], strict=True))
    return played


def check_games(curriculum, played: list[tuple[int, float]]) -> None:
    counts = hand_count(played)
    assert len({agent_id for agent_id, _ in played}) > 1, "the curriculum never chose a newer opponent"
    for agent_id in curriculum.pool.agent_ids:
        assert curriculum.games(agent_id) == counts.get(agent_id, {"wins": 0, "draws": 0, "losses": 0})


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_multiprocessing_envs_load_opponents_from_the_pool(tmp_path, context):
    pool = OpponentPool(tmp_path / "pool", max_agents=10)
    raw = PrioritizedFictitiousSelfPlay(pool, random_seed=0)
    raw.add_agent(snapshot(0))
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(raw, timeout=scaled(60))
    with curriculum:
        venv = gym.vector.AsyncVectorEnv(
            [partial(make_rps_env, task_queue, update_queue, pool)] * 3, context=context
        )
        try:
            played = play(venv, curriculum, steps=120, add_every=30)
        finally:
            venv.close()  # each env's close waits until the curriculum has its updates
    check_games(raw, played)


@pytest.fixture(scope="module")
def ray_session():
    from ray_fixtures import local_ray

    with local_ray():
        yield


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_ray_envs_load_opponents_from_a_ray_store(ray_session):
    import ray

    from syllabus.core import make_ray_curriculum
    from syllabus.curricula import RayStore

    pool = OpponentPool(RayStore(timeout=scaled(30)), max_agents=10)  # a unique actor name
    curriculum = make_ray_curriculum(FictitiousSelfPlay(pool, random_seed=0), timeout=scaled(60))
    try:
        tags = {
            curriculum.add_agent(snapshot(tag)): tag for tag in range(3)
        }  # stored by the curriculum actor
        reports = ray.get(
            [ray.remote(num_cpus=0)(run_ray_rps).remote(pool, 10) for _ in range(2)], timeout=scaled(120)
        )
        played = [game for report in reports for game in report]
        assert all(tags[agent_id] == tag for agent_id, tag, _ in played)
        counts = hand_count([(agent_id, reward) for agent_id, _, reward in played])
        assert len(counts) > 1
        for agent_id in tags:
            assert curriculum.games(agent_id) == counts.get(agent_id, {"wins": 0, "draws": 0, "losses": 0})
        state = curriculum.state_dict()
        assert pickle.loads(state["pool"]["snapshots"][2])["tag"] == 2
    finally:
        curriculum.close()
