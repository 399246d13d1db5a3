"""Tests of Prioritized Level Replay: scoring, sampling distributions, schedules, state and Robust PLR."""

import pickle

import numpy as np
import pytest

from syllabus.curricula.plr import PrioritizedLevelReplay, replay_mask
from syllabus.curricula.plr.sampling import CdfSampler, IndexPool, RankedTasks, StalenessTree, transform
from syllabus.curricula.plr.scoring import gae, smooth_scores
from syllabus.task_space import BoxTaskSpace, DiscreteTaskSpace


def _plr(n=5, **kwargs):
    kwargs.setdefault("random_seed", 0)
    return PrioritizedLevelReplay(DiscreteTaskSpace(n), **kwargs)


def _col(*values):
    """A (num_steps, 1) array."""
    return np.array(values, dtype=float)[:, None]


def _set_scores(plr, scores):
    """Scores task i with |scores[i]| through one-step finished episodes (value_l1, V = 0)."""
    n = len(scores)
    tasks = np.arange(n)[None]
    plr.custom_update(
        tasks, np.array(scores, dtype=float)[None], np.ones((1, n)), np.zeros((1, n)), np.zeros(n)
    )


# -------------------------------------------------------------------- GAE
def _reference_gae(rewards, values, dones, next_values, gamma, lam):
    steps, envs = rewards.shape
    adv = np.zeros((steps, envs))
    for env in range(envs):
        running = 0.0
        for t in reversed(range(steps)):
            following = next_values[env] if t == steps - 1 else values[t + 1, env]
            mask = 0.0 if dones[t, env] else 1.0
            delta = rewards[t, env] + gamma * following * mask - values[t, env]
            running = delta + gamma * lam * mask * running
            adv[t, env] = running
    return adv


def test_gae_matches_hand_computed_values():
    rewards, values = _col(1, 0, 2), _col(0.5, 1.0, 2.0)
    adv, td = gae(rewards, values, _col(0, 0, 0), np.array([4.0]), 0.5, 0.5)
    np.testing.assert_allclose(adv[:, 0], [1.125, 0.5, 2.0])
    np.testing.assert_allclose(td[:, 0], [1.0, 0.0, 2.0])
    adv, td = gae(rewards, values, _col(0, 1, 0), np.array([4.0]), 0.5, 0.5)
    np.testing.assert_allclose(adv[:, 0], [0.75, -1.0, 2.0])
    np.testing.assert_allclose(td[:, 0], [1.0, -1.0, 2.0])


def test_gae_matches_scalar_reference_on_random_rollouts():
    rng = np.random.default_rng(1)
    rewards, values = rng.normal(size=(40, 7)), rng.normal(size=(40, 7))
    dones, next_values = rng.random((40, 7)) < 0.2, rng.normal(size=7)
    adv, _ = gae(rewards, values, dones.astype(float), next_values, 0.9, 0.8)
    np.testing.assert_allclose(adv, _reference_gae(rewards, values, dones, next_values, 0.9, 0.8))


# ---------------------------------------------------------------- scoring
def test_segment_scores_split_at_dones():
    plr = _plr(gamma=0.5, gae_lambda=0.5)
    plr.custom_update(
        np.array([[1], [1], [3]]), _col(1, 0, 2), _col(0, 1, 0), _col(0.5, 1.0, 2.0), np.array([4.0])
    )
    # Task 1: finished episode with GAE (0.75, -1); task 3: partial segment with GAE 2.
    np.testing.assert_allclose(plr.scores, [np.nan, 0.875, np.nan, 2.0, np.nan])


def test_episode_crossing_rollouts_is_scored_as_a_whole():
    plr = _plr(gamma=1.0, gae_lambda=1.0)
    plr.custom_update(np.array([[2], [2]]), _col(1, 1), _col(0, 0), _col(0, 0), np.array([0.0]))
    assert plr.scores[2] == pytest.approx(1.5)  # partial: mean |GAE| of (2, 1) so far
    plr.custom_update(np.array([[2], [2]]), _col(0, 4), _col(0, 1), _col(0, 0), np.array([0.0]))
    assert plr.scores[2] == pytest.approx((2 + 1 + 4 + 4) / 4)  # the whole four-step episode
    plr.custom_update(np.array([[2]]), _col(5), _col(1), _col(0), np.array([0.0]))
    assert plr.scores[2] == pytest.approx(5.0)  # the carry ended with the episode


def test_carry_is_dropped_when_the_next_rollout_runs_another_task():
    plr = _plr(gamma=1.0, gae_lambda=1.0)
    plr.custom_update(np.array([[2]]), _col(3), _col(0), _col(0), np.array([0.0]))
    plr.custom_update(np.array([[4]]), _col(1), _col(1), _col(0), np.array([0.0]))
    np.testing.assert_allclose(plr.scores[[2, 4]], [3.0, 1.0])


def test_done_terminates_and_truncation_bootstraps_through_the_reward():
    terminated = _plr(gamma=0.5, gae_lambda=1.0)
    terminated.custom_update(np.array([[0], [0]]), _col(0, 1), _col(0, 1), _col(0, 0), np.array([10.0]))
    assert terminated.scores[0] == pytest.approx((0.5 + 1.0) / 2)  # next_values ignored after a done
    # SB3-style truncation: gamma * V(final obs) = 0.5 * 6 folded into the last reward.
    truncated = _plr(gamma=0.5, gae_lambda=1.0)
    truncated.custom_update(np.array([[0], [0]]), _col(0, 1 + 3), _col(0, 1), _col(0, 0), np.array([10.0]))
    running = _plr(gamma=0.5, gae_lambda=1.0)
    running.custom_update(np.array([[0], [0]]), _col(0, 1), _col(0, 0), _col(0, 0), np.array([6.0]))
    assert truncated.scores[0] == pytest.approx(running.scores[0]) == pytest.approx((2 + 4) / 2)


_PROBS = np.array([[0.7, 0.2, 0.1], [0.5, 0.5, 0.0]])
_ENTROPY = [-(p[p > 0] * np.log(p[p > 0])).sum() / np.log(3) for p in _PROBS]


@pytest.mark.parametrize(
    "strategy, expected",
    [
        # GAE (0.125, -2.5), TD errors (0.75, -2.5), lambda-returns (0.625, -2.0), V = 0.5.
        ("value_l1", (0.125 + 2.5) / 2),
        ("positive_value_loss", 0.125 / 2),
        ("gae", (0.125 - 2.5) / 2),
        ("one_step_td_error", (0.75 + 2.5) / 2),
        ("max_mc", 0.625 - 0.5),
        ("policy_entropy", np.mean(_ENTROPY)),
        ("least_confidence", (0.3 + 0.5) / 2),
        ("min_margin", ((1 - 0.5) + (1 - 0.0)) / 2),
    ],
)
def test_each_strategy_scores_a_tiny_episode(strategy, expected):
    plr = _plr(strategy=strategy, gamma=0.5, gae_lambda=0.5)
    with np.errstate(divide="ignore"):
        log_dist = np.log(_PROBS)[:, None, :]
    plr.custom_update(
        np.zeros((2, 1), dtype=int),
        _col(1, -2),
        _col(0, 1),
        _col(0.5, 0.5),
        np.array([0.0]),
        action_log_dist=log_dist,
    )
    assert plr.scores[0] == pytest.approx(expected)


def test_max_mc_uses_the_best_return_seen_for_the_task():
    plr = _plr(strategy="max_mc", gamma=1.0, gae_lambda=1.0)
    plr.custom_update(np.array([[0]]), _col(5), _col(1), _col(1), np.array([0.0]))
    plr.custom_update(np.array([[0]]), _col(2), _col(1), _col(1), np.array([0.0]))
    assert plr.scores[0] == pytest.approx(5 - 1)


def test_score_smoothing_with_alpha():
    plr = _plr(alpha=0.25)
    _set_scores(plr, [4.0, 0, 0, 0, 0])
    _set_scores(plr, [8.0, 0, 0, 0, 0])
    assert plr.scores[0] == pytest.approx(0.75 * 4 + 0.25 * 8)


def test_smooth_scores_equals_sequential_updates():
    rng = np.random.default_rng(3)
    scores, scored = rng.normal(size=6), np.array([True, False, True, False, True, True])
    tasks, new = rng.integers(6, size=30), rng.normal(size=30)
    expected, known = scores.copy(), scored.copy()
    for task, value in zip(tasks, new, strict=True):
        expected[task] = 0.3 * expected[task] + 0.7 * value if known[task] else value
        known[task] = True
    unique, values = smooth_scores(scores, scored, tasks, new, 0.7)
    np.testing.assert_allclose(values, expected[unique])
    np.testing.assert_array_equal(unique, np.unique(tasks))


def test_random_strategy_samples_uniformly_and_ignores_updates():
    plr = _plr(n=4, strategy="random")
    _set_scores(plr, [9.0, 0, 0, 0])
    np.testing.assert_allclose(plr.sample_weights(), 0.25)
    np.testing.assert_allclose(plr.task_distribution(), 0.25)
    counts = np.bincount(plr.sample(4000), minlength=4)
    assert counts.min() > 850


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tasks": np.full((2, 1), 0.5)}, "integers"),
        ({"tasks": np.full((2, 1), 5)}, "0..4"),
        ({"tasks": np.array([[0], [1]])}, "changed"),
        ({"rewards": np.zeros((3, 1))}, "rewards"),
        ({"next_values": np.zeros((2,))}, "next_values"),
    ],
)
def test_custom_update_rejects_bad_rollouts(kwargs, message):
    rollout = {
        "tasks": np.zeros((2, 1), dtype=int),
        "rewards": np.zeros((2, 1)),
        "dones": np.zeros((2, 1)),
        "values": np.zeros((2, 1)),
        "next_values": np.zeros(1),
    }
    rollout.update(kwargs)
    with pytest.raises(ValueError, match=message):
        _plr().custom_update(**rollout)


def test_policy_strategy_needs_action_log_dist():
    with pytest.raises(ValueError, match="action_log_dist"):
        _plr(strategy="min_margin").custom_update(
            np.zeros((1, 1), int), _col(0), _col(1), _col(0), np.zeros(1)
        )


# ------------------------------------------------------- sampling weights
def _closed_form(name, values, temperature, eps=0.05):
    """Normalized transform written independently of the implementation."""
    values = np.asarray(values, dtype=float)
    if name == "rank":
        order = sorted(range(len(values)), key=lambda i: -values[i])
        weights = np.array([1 / (order.index(i) + 1) ** (1 / temperature) for i in range(len(values))])
    elif name == "power":
        weights = values ** (1 / temperature)
    elif name == "softmax":
        weights = np.exp(values / temperature)
    elif name == "eps_greedy":
        weights = np.where(values == values.max(), 1 - eps, 0.0) + eps / len(values)
    else:
        weights = np.ones(len(values))
    return weights / weights.sum()


@pytest.mark.parametrize("score_transform", ["rank", "power", "softmax", "eps_greedy", "constant"])
def test_sample_weights_follow_the_score_transform(score_transform):
    scores = [3.0, 1.0, 4.0, 0.5, 2.0]
    plr = _plr(score_transform=score_transform, temperature=0.5, staleness_coef=0.0)
    _set_scores(plr, scores)
    np.testing.assert_allclose(plr.sample_weights(), _closed_form(score_transform, scores, 0.5))


@pytest.mark.parametrize("staleness_transform, temperature", [("power", 1.0), ("power", 0.5), ("rank", 1.0)])
def test_sample_weights_mix_scores_and_staleness(staleness_transform, temperature):
    scores = [3.0, 1.0, 4.0, 0.5, 2.0, 0.0]
    plr = _plr(
        n=6, staleness_coef=0.3, staleness_transform=staleness_transform, staleness_temperature=temperature
    )
    _set_scores(plr, scores)
    drawn = plr.sample(7)
    last = {task: step + 1 for step, task in enumerate(drawn)}
    staleness = [7 - last.get(task, 0) for task in range(6)]
    expected = 0.7 * _closed_form("rank", scores, 0.1) + 0.3 * _closed_form(
        staleness_transform, staleness, temperature
    )
    np.testing.assert_allclose(plr.sample_weights(), expected)
    np.testing.assert_allclose(plr.task_distribution(), expected)  # every task seen: always replay


def test_sampled_but_unscored_tasks_get_only_staleness():
    plr = _plr(n=4, staleness_coef=0.2, rho=0.0)
    _set_scores(plr, [2.0, 1.0])  # scores tasks 0 and 1
    assert plr.sample_weights()[2:].sum() == 0  # unseen
    tasks = plr.sample(3)
    seen = sorted({0, 1, *tasks})
    last = {task: step + 1 for step, task in enumerate(tasks)}
    staleness = np.array([3 - last.get(task, 0) if task in seen else 0 for task in range(4)], dtype=float)
    score_part = np.zeros(4)
    score_part[:2] = _closed_form("rank", [2.0, 1.0], 0.1)
    expected = 0.8 * score_part + 0.2 * staleness / staleness.sum()
    np.testing.assert_allclose(plr.sample_weights(), expected)


@pytest.mark.parametrize(
    "staleness",
    [{}, {"staleness_transform": "softmax", "staleness_temperature": 2.0}],
    ids=["linear-staleness", "softmax-staleness"],
)
def test_next_sample_follows_task_distribution(staleness):
    plr = _plr(n=6, staleness_coef=0.4, replay_schedule="fixed", replay_prob=0.6, **staleness)
    _set_scores(plr, [3.0, 1.0, 0.0])
    plr.sample(4)
    expected = plr.task_distribution()
    state = plr.state_dict()
    counts = np.zeros(6)
    for seed in range(4000):
        plr.load_state_dict(state)
        plr.rng = np.random.default_rng(seed)
        counts[plr.sample()[0]] += 1
    np.testing.assert_allclose(counts / counts.sum(), expected, atol=0.025)
    assert expected.sum() == pytest.approx(1.0)


# -------------------------------------------------------------- schedules
def test_proportionate_rho_one_visits_every_task_before_replaying():
    plr = _plr(n=50)
    first = plr.sample_with_metadata(50)
    assert sorted(task for task, _ in first) == list(range(50))
    assert not any(meta["replay"] for _, meta in first)
    assert all(meta["replay"] for _, meta in plr.sample_with_metadata(20))


def test_proportionate_replays_with_the_seen_fraction_above_rho():
    plr = _plr(n=10, rho=0.2)
    first = plr.sample(2)  # a seen fraction of 0.1 < rho never replays
    assert len(set(first)) == 2
    unseen = [task for task in range(10) if task not in first]
    assert plr.task_distribution()[unseen].sum() == pytest.approx(0.8)


@pytest.mark.parametrize("schedule", ["proportionate", "fixed"])
def test_schedules_keep_sampling_long_after_full_coverage(schedule):
    plr = _plr(n=8, replay_schedule=schedule, rho=0.5)
    rng = np.random.default_rng(0)
    for _ in range(60):
        tasks = np.array(plr.sample(4))
        plr.custom_update(
            np.tile(tasks, (5, 1)),
            rng.normal(size=(5, 4)),
            np.zeros((5, 4)),
            rng.normal(size=(5, 4)),
            np.zeros(4),
        )
        samples = plr.sample(100)
        assert all(0 <= task < 8 for task in samples)
    assert plr.sample_weights().min() > 0  # every task seen
    assert plr.sample_weights().sum() == pytest.approx(1.0)
    assert plr.task_distribution().sum() == pytest.approx(1.0)


def test_fixed_schedule_draws_new_tasks_with_one_minus_replay_prob():
    plr = _plr(n=5000, replay_schedule="fixed", replay_prob=0.25, rho=0.0)
    metas = [meta for _, meta in plr.sample_with_metadata(2000)]
    assert not metas[0]["replay"]
    assert 0.22 < np.mean([meta["replay"] for meta in metas[1:]]) < 0.28


# ------------------------------------------------------------------ state
def test_state_dict_round_trip_preserves_sampling_and_carries():
    rng = np.random.default_rng(5)
    original = _plr(n=20, staleness_coef=0.3, alpha=0.5)

    def rollout(tasks):
        return (
            np.tile(tasks, (6, 1)),
            rng.normal(size=(6, 3)),
            np.zeros((6, 3)),
            rng.normal(size=(6, 3)),
            np.zeros(3),
        )

    for _ in range(5):
        original.custom_update(*rollout(np.array(original.sample(3))))
        original.sample(7)
    state = pickle.loads(pickle.dumps(original.state_dict()))
    restored = _plr(n=20, staleness_coef=0.3, alpha=0.5, random_seed=99)
    restored.load_state_dict(state)
    assert restored.sample_with_metadata(200) == original.sample_with_metadata(200)
    # The carried partial episodes continue identically.
    update = rollout(np.array(original.sample(3)))
    restored.sample(3)
    original.custom_update(*update)
    restored.custom_update(*update)
    np.testing.assert_array_equal(restored.scores, original.scores)
    assert restored.sample(100) == original.sample(100)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"mode": "reference"}, {"strategy": "random"}, {"mode": "reference", "strategy": "random"}],
    ids=["corrected", "reference", "random", "reference-random"],
)
def test_state_dict_has_one_layout_in_every_mode(kwargs):
    """Every mode saves the same entries with the same dtypes and shapes (a checkpoint's format)."""
    plr = _plr(n=4, **kwargs)
    plr.sample(3)
    _set_scores(plr, [0.5, 1.0, 0.0, 2.0])
    plr.sample(3)
    state = plr.state_dict()["plr"]
    layout = {
        key: (value.dtype.str, value.shape) if isinstance(value, np.ndarray) else type(value).__name__
        for key, value in state.items()
        if key != "partial"
    }
    num_envs = 0 if kwargs.get("mode") != "reference" or "strategy" in kwargs else 4
    assert layout == {
        "num_tasks": "int",
        "mode": "str",
        "scores": ("<f8", (4,)),
        "scored": ("|b1", (4,)),
        "rank_order": ("<i8", (4 if kwargs == {} else 0,)),
        "max_returns": ("<f8", (4,)),
        "last_sampled": ("<i8", (4,)),
        "count": "int",
        "seen": "list",
        "unseen": "list",
        "previous_last_done": ("|b1", (num_envs,)),
        "stale_poisoned": ("|b1", (4,)),
    }
    num_carried = 4 if kwargs == {} else 0
    assert {key: (value.dtype.str, value.shape) for key, value in state["partial"].items()} == {
        "task": ("<i8", (num_carried,)),
        "sum": ("<f8", (num_carried,)),
        "count": ("<i8", (num_carried,)),
    }


def test_load_state_dict_rejects_another_task_count():
    with pytest.raises(ValueError, match="tasks"):
        _plr(n=3).load_state_dict(_plr(n=4).state_dict())


# -------------------------------------------------------- constructor args
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"strategy": "value"}, "value_l1"),
        ({"score_transform": "linear"}, "rank"),
        ({"staleness_transform": "exp"}, "softmax"),
        ({"replay_schedule": "always"}, "proportionate"),
        ({"temperature": 0.0}, "temperature"),
        ({"staleness_temperature": -1.0}, "staleness_temperature"),
        ({"staleness_coef": 1.5}, "staleness_coef"),
        ({"alpha": 0.0}, "alpha"),
        ({"rho": -0.1}, "rho"),
        ({"replay_prob": 2}, "replay_prob"),
        ({"gamma": "0.9"}, "gamma"),
        ({"gae_lambda": 1.1}, "gae_lambda"),
        ({"eps": True}, "eps"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _plr(**kwargs)


def test_non_enumerable_task_space_is_rejected():
    with pytest.raises(ValueError, match="enumerable"):
        PrioritizedLevelReplay(BoxTaskSpace(0.0, 1.0))


# ------------------------------------------------------------- robust PLR
def test_robust_metadata_marks_replays_and_train_flags():
    robust = _plr(n=3, robust=True)
    metas = [meta for _, meta in robust.sample_with_metadata(6)]
    assert [m["replay"] for m in metas] == [False] * 3 + [True] * 3
    assert [m["train"] for m in metas] == [m["replay"] for m in metas]
    plain = _plr(n=3)
    assert all(meta["train"] for _, meta in plain.sample_with_metadata(6))
    np.testing.assert_array_equal(replay_mask([metas[0], metas[4], None]), [False, True, True])
    batched = {"replay": np.array([False, True, False]), "train": np.array([False, True, False])}
    batched.update({"_replay": np.array([True, True, False]), "_train": np.array([True, True, False])})
    np.testing.assert_array_equal(replay_mask(batched), [False, True, True])


# -------------------------------------------------------------- learning
def test_sampling_moves_toward_tasks_with_large_value_errors():
    """Tasks 5..9 have large value errors, 0..4 small ones; PLR should replay the former."""
    plr = _plr(n=10, random_seed=1)
    rng = np.random.default_rng(1)
    error = np.where(np.arange(10) >= 5, 2.0, 0.05)
    steps, envs = 8, 4
    hard = []
    for _ in range(40):
        tasks = np.array(plr.sample(envs))
        hard.append(np.mean(tasks >= 5))
        rewards = np.zeros((steps, envs))
        rewards[-1] = 1.0
        values = 1.0 + error[tasks] * rng.normal(size=(steps, envs))
        dones = np.zeros((steps, envs))
        dones[-1] = 1
        plr.custom_update(np.tile(tasks, (steps, 1)), rewards, dones, values, np.zeros(envs))
    assert plr.sample_weights()[5:].sum() > 0.85
    assert np.mean(hard[-20:]) > 0.8


# --------------------------------------------------------------- samplers
def test_transform_rejects_unknown_names():
    with pytest.raises(ValueError, match="rank"):
        transform("linear", np.ones(2), 1.0, 0.0)


def test_ranked_tasks_stay_sorted_through_incremental_updates():
    rng = np.random.default_rng(4)
    scores, scored = np.zeros(50), np.zeros(50, dtype=bool)
    ranked = RankedTasks(50, temperature=0.5)
    for _ in range(20):
        changed = np.unique(rng.integers(50, size=8))
        scores[changed] = rng.normal(size=len(changed))
        scored[changed] = True
        ranked.update(scores, changed)
    expected = np.flatnonzero(scored)[np.argsort(-scores[scored])]
    np.testing.assert_array_equal(ranked.order, expected)
    weights = ranked.weights()
    np.testing.assert_allclose(weights[expected], np.arange(1, len(expected) + 1) ** -2.0)
    assert weights[~scored].sum() == 0


def test_staleness_tree_intervals_match_brute_force():
    rng = np.random.default_rng(2)
    seen = rng.random(37) < 0.6
    last = rng.integers(0, 50, size=37)
    tree = StalenessTree(seen, last)
    new = int(np.flatnonzero(~seen)[0])
    tree.insert(new, 10)
    seen[new], last[new] = True, 10
    old = int(np.flatnonzero(seen)[0])
    tree.shift(old, 3)
    last[old] += 3
    weights = np.where(seen, 60 - np.where(seen, last, 0), 0)
    owners = np.repeat(np.arange(37), weights)
    assert tree.total(60) == weights.sum()
    picks = [tree.sample((target + 0.5) / weights.sum(), 60) for target in range(weights.sum())]
    np.testing.assert_array_equal(picks, owners)


def test_cdf_sampler_never_returns_zero_weight_indices():
    sampler = CdfSampler(np.array([0.0, 1.0, 0.0, 2.0, 0.0]))
    assert {sampler.sample(u) for u in np.linspace(0, 1 - 1e-16, 101)} == {1, 3}
    assert sampler.sample(1.0 - 2**-53) == 3


def test_index_pool_removes_in_constant_time_order():
    pool = IndexPool([0, 1, 2, 3], 4)
    pool.remove(1)
    pool.remove(3)
    assert pool.items == [0, 2] and 1 not in pool and 2 in pool and len(pool) == 2
    assert pool.pick(0.0) == 0 and pool.pick(0.99) == 2
