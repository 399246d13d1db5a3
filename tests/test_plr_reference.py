"""PLR's reference mode against hand-derived numbers and an independent re-derivation of the reference.

The reference is facebookresearch/level-replay (``LevelSampler`` fed by ``RolloutStorage`` as its
``train.py`` drives them). Each ``test_item_N_*`` covers item N of the deviation table in
``docs/plr.md``: the reference-mode value and the corrected-mode value, both derived by hand in
the comments. ``ReferenceModel`` at the bottom re-derives the reference's behaviour with plain
loops, written from its documented semantics, for the randomized test.
"""

import copy
import math

import numpy as np
import pytest

from syllabus.curricula.plr import PrioritizedLevelReplay, ReferenceModeError
from syllabus.task_space import DiscreteTaskSpace


def _plr(mode, n=4, **kwargs):
    kwargs.setdefault("random_seed", 0)
    return PrioritizedLevelReplay(DiscreteTaskSpace(n), mode=mode, **kwargs)


def _both(n=4, **kwargs):
    return _plr("reference", n, **kwargs), _plr("corrected", n, **kwargs)


def _col(*values):
    """A (num_steps, 1) array."""
    return np.array(values, dtype=float)[:, None]


def _episodes(plr, scores):
    """Finished two-step episodes of task i with rewards (scores[i], scores[i]) and V = 0.

    Under ``SIMPLE`` every step's GAE is its reward, so task i's score is scores[i] in both modes
    (``gae``; ``value_l1`` for nonnegative scores). Two steps rather than one: after a rollout
    that ended with a done, the reference treats a rollout of one-step episodes specially (see
    the quirk test).
    """
    n = len(scores)
    rewards = np.tile(np.array(scores, dtype=float), (2, 1))
    dones = np.array([[0] * n, [1] * n])
    plr.custom_update(np.tile(np.arange(n), (2, 1)), rewards, dones, np.zeros((2, n)), np.zeros(n))


# V = 0 everywhere and gae_lambda = 0, gamma = 1 make each step's GAE equal to its reward (plus
# V(s_T) on the last step of an unfinished rollout): A_t = r_t + V_{t+1} - V_t.
SIMPLE = {"gamma": 1.0, "gae_lambda": 0.0, "staleness_coef": 0.0}


# ------------------------------------------------------------------------------------ items
def test_item_1_episode_spanning_rollouts():
    reference, corrected = _both(**SIMPLE)
    # Rollout 1: task 0, rewards 1, 3, no done, V(s_T) = 0. Rollout 2: rewards 5, 7, done at the end.
    first = (np.zeros((2, 1), int), _col(1, 3), _col(0, 0), _col(0, 0), np.zeros(1))
    second = (np.zeros((2, 1), int), _col(5, 7), _col(0, 1), _col(0, 0), np.zeros(1))
    for plr in (reference, corrected):
        plr.custom_update(*first)
    # Reference: partial mean (|1| + |3| + |0 - V(s_T)|) / 3 = 4/3, committed after the update.
    assert reference.scores[0] == pytest.approx(4 / 3)
    assert corrected.scores[0] == pytest.approx(2.0)  # (1 + 3) / 2
    for plr in (reference, corrected):
        plr.custom_update(*second)
    # Reference: the continuation alone, (5 + 7) / 2; corrected: the whole episode (1+3+5+7) / 4.
    assert reference.scores[0] == pytest.approx(6.0)
    assert corrected.scores[0] == pytest.approx(4.0)


def test_item_2_partial_episode_is_applied_after_the_finished_ones():
    # Two envs on task 0 for one step: env 0 keeps running (least confidence 1 - 0.7 = 0.3),
    # env 1 ends its episode (1 - 0.9 = 0.1). With alpha = 1 the last applied score wins:
    # corrected applies env 0's partial then env 1's episode (env order) -> 0.1; the reference
    # applies finished episodes first and partials at the end of the update -> 0.3.
    log_dist = np.log(np.array([[[0.7, 0.3], [0.9, 0.1]]]))
    reference, corrected = _both(strategy="least_confidence", **SIMPLE)
    for plr in (reference, corrected):
        plr.custom_update(
            np.zeros((1, 2), int),
            np.zeros((1, 2)),
            np.array([[0, 1]]),
            np.zeros((1, 2)),
            np.zeros(2),
            action_log_dist=log_dist,
        )
    assert reference.scores[0] == pytest.approx(0.3)
    assert corrected.scores[0] == pytest.approx(0.1)


def test_item_3_one_step_td_error_formula():
    # Episode of 3 steps: r = 1, 0, 2; V = 0.5, 1, 2; done at the end; gamma = 0.5.
    # Corrected |r + gamma V' - V| on every step (V' = 0 after the done):
    #   |1 + 0.5 - 0.5| = 1, |0 + 1 - 1| = 0, |2 + 0 - 2| = 0 -> mean 1/3.
    # Reference |r + V - V'| on the first L - 1 steps: |1 + 0.5 - 1| = 0.5, |0 + 1 - 2| = 1 -> 0.75.
    reference, corrected = _both(strategy="one_step_td_error", gamma=0.5)
    rollout = (np.zeros((3, 1), int), _col(1, 0, 2), _col(0, 0, 1), _col(0.5, 1, 2), np.zeros(1))
    for plr in (reference, corrected):
        plr.custom_update(*rollout)
    assert reference.scores[0] == pytest.approx(0.75)
    assert corrected.scores[0] == pytest.approx(1 / 3)


def test_item_3_one_step_episode_is_nan_in_the_reference():
    # A one-step episode has no pair of steps: the reference's mean is NaN. Corrected: |2 - 0.5|.
    reference, corrected = _both(strategy="one_step_td_error")
    rollout = (np.zeros((1, 1), int), _col(2), _col(1), _col(0.5), np.zeros(1))
    corrected.custom_update(*rollout)
    assert corrected.scores[0] == pytest.approx(1.5)
    with pytest.raises(ReferenceModeError, match="single step"):
        reference.custom_update(*rollout)
    assert np.isnan(reference.scores).all()  # left unchanged


def test_item_4_unfinished_mean_includes_the_bootstrap_row():
    # Two steps, no done, r = 1, 1, V = 0, 0, V(s_T) = 3: A = (1 + 0 - 0, 1 + 3 - 0) = (1, 4).
    # Corrected: (1 + 4) / 2 = 2.5. Reference: (1 + 4 + |0 - 3|) / 3 = 8/3.
    reference, corrected = _both(**SIMPLE)
    rollout = (np.zeros((2, 1), int), _col(1, 1), _col(0, 0), _col(0, 0), np.array([3.0]))
    for plr in (reference, corrected):
        plr.custom_update(*rollout)
    assert reference.scores[0] == pytest.approx(8 / 3)
    assert corrected.scores[0] == pytest.approx(2.5)
    # gae: the reference adds 0 - V(s_T) = -3: (1 + 4 - 3) / 3 = 2/3.
    reference = _plr("reference", strategy="gae", **SIMPLE)
    reference.custom_update(*rollout)
    assert reference.scores[0] == pytest.approx(2 / 3)


def test_item_5_first_score_with_alpha_below_one():
    # alpha = 0.25, task 0 scores 2 then 4. Corrected: 2 (as is), then 0.75 * 2 + 0.25 * 4 = 2.5.
    # Reference: 0.75 * 0 + 0.25 * 2 = 0.5, then 0.75 * 0.5 + 0.25 * 4 = 1.375.
    reference, corrected = _both(alpha=0.25, **SIMPLE)
    for plr in (reference, corrected):
        _episodes(plr, [2.0])
    assert (reference.scores[0], corrected.scores[0]) == pytest.approx((0.5, 2.0))
    for plr in (reference, corrected):
        _episodes(plr, [4.0])
    assert (reference.scores[0], corrected.scores[0]) == pytest.approx((1.375, 2.5))


def test_item_6_rank_counts_unseen_tasks_at_a_placeholder_score():
    # Scores: task 0 -> -1, task 1 -> 2 (gae); tasks 2, 3 unseen. Temperature 1.
    # Corrected ranks only scored tasks: task 1 rank 1, task 0 rank 2 -> (1/2, 1) / 1.5.
    # Reference ranks all four with unseen at 0: task 1, task 3, task 2, task 0 -> task 0 has
    # rank 4: (1/4, 1) / 1.25 = (0.2, 0.8).
    reference, corrected = _both(strategy="gae", temperature=1.0, **SIMPLE)
    for plr in (reference, corrected):
        _episodes(plr, [-1.0, 2.0])
    np.testing.assert_allclose(reference.sample_weights(), [0.2, 0.8, 0, 0])
    np.testing.assert_allclose(corrected.sample_weights(), [1 / 3, 2 / 3, 0, 0])


def test_item_6_eps_greedy_spreads_eps_over_all_tasks_in_the_reference():
    # eps = 0.5, scores (-1, 2), tasks 2, 3 unseen.
    # Corrected: eps over the 2 scored tasks -> (0.25, 0.25 + 0.5) = (0.25, 0.75).
    # Reference: eps / 4 on all four, 1 - eps on task 1 -> (0.125, 0.625, ...), zero the unseen
    # and renormalize: (0.125, 0.625) / 0.75 = (1/6, 5/6).
    reference, corrected = _both(strategy="gae", score_transform="eps_greedy", eps=0.5, **SIMPLE)
    for plr in (reference, corrected):
        _episodes(plr, [-1.0, 2.0])
    np.testing.assert_allclose(reference.sample_weights(), [1 / 6, 5 / 6, 0, 0])
    np.testing.assert_allclose(corrected.sample_weights(), [0.25, 0.75, 0, 0])


def test_item_7_rank_ties():
    # Task 0 is scored 1.0 first, task 1 is scored 1.0 in a later update; temperature 1.
    # Corrected: the task that reached the score first ranks first -> (1, 1/2) / 1.5.
    # Reference: the higher index ranks first -> (1/2, 1) / 1.5.
    reference, corrected = _both(n=2, temperature=1.0, **SIMPLE)
    for plr in (reference, corrected):
        plr.custom_update(np.array([[0], [0]]), _col(1, 1), _col(0, 1), _col(0, 0), np.zeros(1))
        plr.custom_update(np.array([[1], [1]]), _col(1, 1), _col(0, 1), _col(0, 0), np.zeros(1))
    np.testing.assert_allclose(reference.sample_weights(), [1 / 3, 2 / 3])
    np.testing.assert_allclose(corrected.sample_weights(), [2 / 3, 1 / 3])


def test_item_8_power_transform():
    # Scores (1, 3), temperature 1, no staleness. Corrected: (1, 3) / 4.
    # Reference: (1 + 1e-3, 3 + 1e-3) / 4.002.
    reference, corrected = _both(n=2, score_transform="power", temperature=1.0, **SIMPLE)
    for plr in (reference, corrected):
        _episodes(plr, [1.0, 3.0])
    np.testing.assert_allclose(reference.sample_weights(), [1.001 / 4.002, 3.001 / 4.002])
    np.testing.assert_allclose(corrected.sample_weights(), [0.25, 0.75])


def test_item_8_power_of_a_negative_score():
    # gae scores (-1, 3). Corrected: max(s, 0) -> (0, 1). Reference: (-0.999, 3.001) / 2.002, a
    # negative probability: an error.
    reference, corrected = _both(n=2, strategy="gae", score_transform="power", temperature=1.0, **SIMPLE)
    for plr in (reference, corrected):
        _episodes(plr, [-1.0, 3.0])
    np.testing.assert_allclose(corrected.sample_weights(), [0.0, 1.0])
    for method in (reference.sample_weights, reference.task_distribution, reference.sample):
        with pytest.raises(ReferenceModeError, match="negative"):
            method()


def test_item_9_mixture_component_without_mass():
    # Both tasks scored 0 under power with staleness: the reference's power adds no 1e-3 when
    # staleness_coef > 0, so the score distribution has no mass. After one sample (of task k)
    # the staleness distribution puts all its mass on the other task.
    # Corrected: the score share goes to staleness -> weight 1 on the other task.
    # Reference: 0.5 * staleness sums to 0.5: its sampler fails -> error.
    reference, corrected = _both(n=2, score_transform="power", staleness_coef=0.5)
    for plr in (reference, corrected):
        _episodes(plr, [0.0, 0.0])
        # Staleness is all 0 too: the reference's weights sum to 0 and it replays uniformly.
        np.testing.assert_allclose(plr.task_distribution(), [0.5, 0.5])
    (first,) = corrected.sample()
    np.testing.assert_allclose(corrected.sample_weights(), np.eye(2)[1 - first])
    reference.sample()
    with pytest.raises(ReferenceModeError, match="no mass"):
        reference.sample()


def test_item_10_seen_means_sampled_or_scored():
    # n = 4, proportionate with rho = 0.5: draw two tasks a, b without scoring them.
    # Corrected: they are seen (fraction 0.5 >= rho): replay with p = 0.5, by staleness only
    # (a: 1, b: 0) -> a gets 0.5, the two unseen 0.25 each.
    # Reference: nothing is scored, nothing is seen: uniform 0.25 over all four.
    reference, corrected = _both(rho=0.5, staleness_coef=0.1)
    reference.sample(2)
    a, b = corrected.sample(2)
    np.testing.assert_allclose(reference.task_distribution(), [0.25] * 4)
    expected = np.full(4, 0.25)
    expected[[a, b]] = [0.5, 0.0]
    np.testing.assert_allclose(corrected.task_distribution(), expected)


@pytest.mark.parametrize("mode", ["reference", "corrected"])
def test_item_11_fixed_schedule_waits_for_rho_then_replays_with_one_minus_nu(mode):
    # Both modes: n = 4, fixed schedule, rho = 0.5 and the default replay_prob = 1 - nu = 0.5.
    plr = _plr(mode, replay_schedule="fixed", rho=0.5, **SIMPLE)
    assert plr.replay_prob == 0.5
    _episodes(plr, [1.0])  # seen fraction 0.25 < rho: no replay, new tasks uniform
    np.testing.assert_allclose(plr.task_distribution(), [0, 1 / 3, 1 / 3, 1 / 3])
    _episodes(plr, [1.0, 2.0])  # seen fraction 0.5: replay half the time
    replay = plr.sample_weights()[:2]
    np.testing.assert_allclose(plr.task_distribution(), [*(0.5 * replay), 0.25, 0.25])
    _episodes(plr, [1.0, 2.0, 3.0, 4.0])  # everything seen: always replay
    np.testing.assert_allclose(plr.task_distribution(), plr.sample_weights())


# ------------------------------------------------------------------ more reference behaviour
def test_reference_quirk_all_dones_after_a_done_leaves_the_last_step_open():
    # The reference keeps the first T of its T + 1 mask rows: when the previous rollout ended
    # with a done and every step of this one is a done, the last step is scored as an unfinished
    # episode (mean over L + 1 values, committed after the update).
    plr = _plr("reference", **SIMPLE)
    plr.custom_update(np.array([[0]]), _col(1), _col(1), _col(0), np.zeros(1))  # ends with a done
    # Now two one-step episodes: task 1 (r = 2), task 2 (r = 4, the last step), V(s_T) = 6.
    plr.custom_update(np.array([[1], [2]]), _col(2, 4), _col(1, 1), _col(0, 0), np.array([6.0]))
    assert plr.scores[1] == pytest.approx(2.0)
    assert plr.scores[2] == pytest.approx((4 + 6) / 2)  # |A| = 4, then |0 - V(s_T)| = 6
    corrected = _plr("corrected", **SIMPLE)
    corrected.custom_update(np.array([[0]]), _col(1), _col(1), _col(0), np.zeros(1))
    corrected.custom_update(np.array([[1], [2]]), _col(2, 4), _col(1, 1), _col(0, 0), np.array([6.0]))
    assert corrected.scores[2] == pytest.approx(4.0)


def test_reference_partial_score_of_exactly_zero_is_never_committed():
    plr = _plr("reference", **SIMPLE)
    plr.custom_update(np.zeros((2, 1), int), _col(0, 0), _col(0, 0), _col(0, 0), np.zeros(1))
    assert np.isnan(plr.scores[0])
    np.testing.assert_allclose(plr.task_distribution(), [0.25] * 4)  # task 0 is still unseen


def test_reference_sampling_does_not_mark_tasks_seen():
    plr = _plr("reference", n=3)
    assert [meta["replay"] for _, meta in plr.sample_with_metadata(30)] == [False] * 30
    np.testing.assert_allclose(plr.task_distribution(), [1 / 3] * 3)


def test_reference_softmax_overflow_is_an_error():
    plr = _plr("reference", n=2, score_transform="softmax", temperature=0.001, **SIMPLE)
    _episodes(plr, [1.0, 2.0])  # exp(2000) overflows: NaN weights in the reference
    with pytest.raises(ReferenceModeError, match="NaN"):
        plr.sample_weights()
    corrected = _plr("corrected", n=2, score_transform="softmax", temperature=0.001, **SIMPLE)
    _episodes(corrected, [1.0, 2.0])
    np.testing.assert_allclose(corrected.sample_weights(), [0.0, 1.0])


def test_reference_policy_entropy_with_a_zero_probability_action_is_an_error():
    log_dist = np.array([[[0.0, -np.inf]]])  # probabilities (1, 0)
    rollout = (np.zeros((1, 1), int), _col(0), _col(1), _col(0), np.zeros(1))
    with pytest.raises(ReferenceModeError, match="probability 0"):
        _plr("reference", strategy="policy_entropy").custom_update(*rollout, action_log_dist=log_dist)
    corrected = _plr("corrected", strategy="policy_entropy")
    corrected.custom_update(*rollout, action_log_dist=log_dist)
    assert corrected.scores[0] == 0.0


def test_reference_max_transform_poisons_tasks_unseen_at_an_update():
    # After each update (where train.py logs the weights) the reference's 'max' transform sets the
    # score of every unseen task to -inf. A task first scored later gets (1 - alpha) * -inf +
    # alpha * s: NaN for alpha = 1 (its sampler then fails), -inf for alpha < 1.
    plr = _plr("reference", n=3, score_transform="max", **SIMPLE)
    _episodes(plr, [1.0])
    with pytest.raises(ReferenceModeError, match="NaN score"):
        plr.custom_update(np.array([[1], [1]]), _col(5, 5), _col(0, 1), _col(0, 0), np.zeros(1))
    smoothed = _plr("reference", n=3, score_transform="max", alpha=0.5, **SIMPLE)
    _episodes(smoothed, [1.0])
    smoothed.custom_update(np.array([[1], [1]]), _col(5, 5), _col(0, 1), _col(0, 0), np.zeros(1))
    assert smoothed.scores[1] == -np.inf
    np.testing.assert_allclose(smoothed.sample_weights(), [1.0, 0.0, 0.0])
    corrected = _plr("corrected", n=3, score_transform="max", **SIMPLE)
    _episodes(corrected, [1.0])
    corrected.custom_update(np.array([[1], [1]]), _col(5, 5), _col(0, 1), _col(0, 0), np.zeros(1))
    np.testing.assert_allclose(corrected.sample_weights(), [0.0, 1.0, 0.0])


def test_reference_mode_rejects_strategies_the_reference_lacks():
    for strategy in ("positive_value_loss", "max_mc"):
        with pytest.raises(ValueError, match="reference"):
            _plr("reference", strategy=strategy)


def test_reference_state_round_trip_and_mode_check():
    plr = _plr("reference", n=6, staleness_coef=0.0, rho=0.0, replay_schedule="fixed")
    rng = np.random.default_rng(0)
    for _ in range(3):
        tasks = np.array(plr.sample(2))
        dones = np.zeros((3, 2))
        dones[-1] = 1
        plr.custom_update(
            np.tile(tasks, (3, 1)), rng.normal(size=(3, 2)), dones, rng.normal(size=(3, 2)), np.zeros(2)
        )
    restored = _plr("reference", n=6, staleness_coef=0.0, rho=0.0, replay_schedule="fixed", random_seed=9)
    restored.load_state_dict(plr.state_dict())
    assert restored.sample(50) == plr.sample(50)
    np.testing.assert_array_equal(restored.task_distribution(), plr.task_distribution())
    with pytest.raises(ValueError, match="mode"):
        _plr("corrected", n=6).load_state_dict(plr.state_dict())


@pytest.mark.parametrize(
    "staleness",
    [
        {"staleness_coef": 0.4},
        {"staleness_coef": 0.0},
        {"staleness_coef": 0.4, "staleness_transform": "rank"},
    ],
    ids=["linear-staleness", "no-staleness", "rank-staleness"],
)
def test_reference_next_sample_follows_task_distribution(staleness):
    plr = _plr("reference", n=6, replay_schedule="fixed", rho=0.3, **staleness)
    plr.sample(4)  # nothing scored: new tasks only, but staleness counts
    _episodes(plr, [3.0, 1.0, 0.5])
    expected = plr.task_distribution()
    state = plr.state_dict()
    counts = np.zeros(6)
    for seed in range(4000):
        plr.load_state_dict(state)
        plr.rng = np.random.default_rng(seed)
        counts[plr.sample()[0]] += 1
    np.testing.assert_allclose(counts / counts.sum(), expected, atol=0.025)


# ------------------------------------------------------------------ independent re-derivation
class ModelCrash(Exception):
    """The reference would fail here, or produce NaN or negative probabilities."""


class ReferenceModel:
    """The reference's level sampler, rollout storage and training loop, as plain loops.

    Written from the reference's documented semantics: scores start at 0 and a level counts as
    seen once scored; each rollout is stored with T + 1 rows of value predictions, returns and
    masks (row 0 of the masks carries the previous rollout's last done, the return of row T is
    never computed and stays 0); each actor's episodes are read from the done rows (keeping the
    first T of them), finished ones update the score, the last one is kept as a partial score and
    committed (if non-zero) after the update; then the weights are logged, and on every replay draw
    they are computed again (its 'max' transform writes -inf into the values of unseen levels).
    """

    def __init__(self, n, num_envs, cfg):
        self.n, self.cfg = n, cfg
        self.scores = [0.0] * n
        self.unseen = [True] * n
        self.staleness = [0.0] * n
        self.last_mask = [1.0] * num_envs
        self.partial = [[0.0] * n for _ in range(num_envs)]
        self.partial_steps = [[0] * n for _ in range(num_envs)]
        self.random_tie = False

    # -- scoring
    def _update_score(self, actor, level, score, steps):
        score = self._partial(actor, level, score, steps, done=True)
        self.unseen[level] = False
        alpha = self.cfg["alpha"]
        with np.errstate(invalid="ignore"):
            self.scores[level] = float(np.float64(1 - alpha) * self.scores[level] + alpha * score)

    def _partial(self, actor, level, score, steps, done):
        old, old_steps = self.partial[actor][level], self.partial_steps[actor][level]
        running = old_steps + steps
        merged = old + (score - old) * steps / running if running else old
        self.partial[actor][level] = 0.0 if done else merged
        self.partial_steps[actor][level] = 0 if done else running
        return merged

    def _episode_score(self, rows):
        """Score of one episode from the storage rows of its steps (value rows may have one more)."""
        strategy = self.cfg["strategy"]
        if strategy in ("value_l1", "gae"):
            adv = [ret - v for ret, v in zip(rows["returns"], rows["values"], strict=True)]
            terms = [abs(a) for a in adv] if strategy == "value_l1" else adv
        elif strategy == "one_step_td_error":
            r, v = rows["rewards"], rows["values"]
            terms = [abs(r[i] + v[i] - v[i + 1]) for i in range(len(r) - 1)]
        else:
            terms = []
            for log_p in rows["log_dist"]:
                p = [math.exp(x) for x in log_p]
                top = sorted(p, reverse=True)
                if strategy == "policy_entropy":
                    terms.append(-sum(pi * x for pi, x in zip(p, log_p, strict=True)) / math.log(len(p)))
                elif strategy == "least_confidence":
                    terms.append(1 - top[0])
                else:
                    terms.append(1 - (top[0] - top[1]))
        return sum(terms) / len(terms) if terms else math.nan

    def update(self, tasks, rewards, dones, values, next_values, log_dist):
        steps, envs = tasks.shape
        gamma, lam = self.cfg["gamma"], self.cfg["gae_lambda"]
        for e in range(envs):
            masks = [self.last_mask[e]] + [0.0 if dones[t, e] else 1.0 for t in range(steps)]
            preds = [values[t, e] for t in range(steps)] + [next_values[e]]
            returns = [0.0] * (steps + 1)
            running = 0.0
            for t in reversed(range(steps)):
                delta = rewards[t, e] + gamma * preds[t + 1] * masks[t + 1] - preds[t]
                running = delta + gamma * lam * masks[t + 1] * running
                returns[t] = running + preds[t]

            def rows(start, stop, e=e, preds=preds, returns=returns):
                extra = 1 if stop is None else 0  # an open slice of T+1-row arrays reaches row T
                end = steps if stop is None else stop
                return {
                    "returns": returns[start : end + extra],
                    "values": preds[start : end + extra],
                    "rewards": [rewards[t, e] for t in range(start, end)],
                    "log_dist": [list(log_dist[t, e]) for t in range(start, end)]
                    if log_dist is not None
                    else [],
                }

            done_rows = [row for row in range(steps + 1) if masks[row] == 0.0][:steps]
            start = 0
            for row in done_rows:
                if row == 0:
                    continue
                score = self._episode_score(rows(start, row))
                if math.isnan(score):
                    raise ModelCrash("NaN episode score")
                self._update_score(e, int(tasks[start, e]), score, row - start)
                start = row
            if start < steps:
                score = self._episode_score(rows(start, None))
                if math.isnan(score):
                    raise ModelCrash("NaN episode score")
                self._partial(e, int(tasks[start, e]), score, steps - start, done=False)
            self.last_mask[e] = masks[steps]
        for e in range(envs):  # after_update
            for level in range(self.n):
                if self.partial[e][level] != 0:
                    self._update_score(e, level, 0.0, 0)
            self.partial[e] = [0.0] * self.n
            self.partial_steps[e] = [0] * self.n
        if any(math.isnan(s) for s in self.scores):
            raise ModelCrash("NaN score")
        self.weights()  # train.py logs the weights after every update

    # -- sampling
    def _transform(self, name, temperature, values):
        """Transformed values over all levels; ``values`` is the model's own list (the 'max' transform writes to it)."""
        n, eps = self.n, self.cfg["eps"]
        if name == "constant":
            return [1.0] * n
        if name == "max":
            for i in range(n):
                if self.unseen[i]:
                    values[i] = -math.inf
            top = max(values)
            ties = [i for i in range(n) if values[i] == top or abs(values[i] - top) <= 1e-8 + 1e-5 * abs(top)]
            if len({self.unseen[i] for i in ties}) > 1:
                self.random_tie = True  # its draw may land on an unseen level: no mass
            return [1.0 / len(ties) if i in ties else 0.0 for i in range(n)]
        if name == "eps_greedy":
            best = values.index(max(values))
            return [eps / n + (1 - eps if i == best else 0.0) for i in range(n)]
        if name == "rank":
            order = sorted(range(n), key=lambda i: (-values[i], -i))
            return [1 / (order.index(i) + 1) ** (1 / temperature) for i in range(n)]
        with np.errstate(all="ignore"):
            if name == "power":
                shift = 0.0 if self.cfg["staleness_coef"] > 0 else 1e-3
                return [float(np.float64(v + shift) ** (1 / temperature)) for v in values]
            return [float(np.exp(np.float64(v) / temperature)) for v in values]

    def _component(self, name, temperature, values):
        raw = self._transform(name, temperature, values)
        masked = [w * (0.0 if self.unseen[i] else 1.0) for i, w in enumerate(raw)]
        total = sum(masked)
        return [w / total for w in masked] if total > 0 else masked

    def weights(self):
        c = self.cfg["staleness_coef"]
        weights = self._component(self.cfg["score_transform"], self.cfg["temperature"], self.scores)
        if c > 0:
            stale = self._component(
                self.cfg["staleness_transform"], self.cfg["staleness_temperature"], self.staleness
            )
            weights = [(1 - c) * w + c * s for w, s in zip(weights, stale, strict=True)]
        return weights

    def replay_distribution(self):
        self.random_tie = False
        weights = self.weights()
        if self.random_tie:
            raise ModelCrash("random tie-break between seen and unseen levels")
        if any(math.isnan(w) or math.isinf(w) or w < 0 for w in weights):
            raise ModelCrash("invalid weights")
        total = sum(weights)
        if abs(total) <= 1e-8:
            return [1.0 / self.n] * self.n
        if abs(total - 1) > math.sqrt(np.finfo(float).eps):
            raise ModelCrash("weights do not sum to 1")
        return [w / total for w in weights]

    def replay_probability(self):
        seen = (self.n - sum(self.unseen)) / self.n
        if seen < self.cfg["rho"]:
            return 0.0
        if self.cfg["replay_schedule"] == "fixed":
            return self.cfg["replay_prob"] if seen < 1 else 1.0
        return seen

    def next_distribution(self):
        p = self.replay_probability()
        unseen = sum(self.unseen)
        new = [(1.0 / unseen if u else 0.0) for u in self.unseen] if unseen else [0.0] * self.n
        replay = copy.deepcopy(self).replay_distribution() if p > 0 else [0.0] * self.n
        return [p * r + (1 - p) * w for r, w in zip(replay, new, strict=True)]

    def observe_sample(self, level, replay):
        if replay:
            self.weights()  # the replay draw computes the weights again
        if self.cfg["staleness_coef"] > 0:
            self.staleness = [s + 1 for s in self.staleness]
            self.staleness[level] = 0.0


STRATEGY_CHOICES = [
    "value_l1",
    "gae",
    "one_step_td_error",
    "policy_entropy",
    "least_confidence",
    "min_margin",
]
TRANSFORM_CHOICES = ["rank", "power", "softmax", "eps_greedy", "constant", "max"]


def _random_config(rng):
    return {
        "strategy": str(rng.choice(STRATEGY_CHOICES)),
        "score_transform": str(rng.choice(TRANSFORM_CHOICES)),
        "temperature": float(rng.choice([0.1, 0.5, 1.0, 2.0])),
        "staleness_coef": float(rng.choice([0.0, 0.3])),
        "staleness_transform": str(rng.choice(["power", "rank", "softmax", "eps_greedy", "max"])),
        "staleness_temperature": float(rng.choice([0.5, 1.0])),
        "alpha": float(rng.choice([1.0, 0.6])),
        "replay_schedule": str(rng.choice(["proportionate", "fixed"])),
        "rho": float(rng.choice([0.0, 0.3, 1.0])),
        "replay_prob": float(rng.choice([0.5, 0.8])),
        "gamma": float(rng.choice([0.9, 0.999])),
        "gae_lambda": float(rng.choice([0.0, 0.95])),
        "eps": float(rng.choice([0.05, 0.3])),
    }


def _check_against_model(plr, model):
    """Scores, sample_weights() and the next-sample distribution agree (or both are invalid)."""
    np.testing.assert_array_equal(np.isnan(plr.scores), model.unseen)
    seen = ~np.array(model.unseen)
    np.testing.assert_allclose(plr.scores[seen], np.array(model.scores)[seen], rtol=1e-12, atol=1e-12)
    try:
        copy.deepcopy(model).replay_distribution()
        weights = copy.deepcopy(model).weights()
    except ModelCrash:
        with pytest.raises(ReferenceModeError):
            plr.sample_weights()
    else:
        np.testing.assert_allclose(plr.sample_weights(), weights, rtol=1e-10, atol=1e-12)
    try:
        expected = model.next_distribution()
    except ModelCrash:
        with pytest.raises(ReferenceModeError):
            plr.task_distribution()
        return False
    np.testing.assert_allclose(plr.task_distribution(), expected, rtol=1e-10, atol=1e-12)
    return True


@pytest.mark.parametrize("scenario", range(120))
def test_reference_mode_equals_an_independent_re_derivation(scenario):
    rng = np.random.default_rng(scenario)
    cfg = _random_config(rng)
    n, envs, steps, actions = 6, 3, 5, 3
    plr = PrioritizedLevelReplay(DiscreteTaskSpace(n), mode="reference", random_seed=scenario, **cfg)
    model = ReferenceModel(n, envs, cfg)
    current = []
    for _ in range(envs):
        if not _check_against_model(plr, model):
            return
        (task, meta) = plr.sample_with_metadata()[0]
        model.observe_sample(task, meta["replay"])
        current.append(task)
    for _ in range(8):
        dones = rng.random((steps, envs)) < rng.choice([0.2, 0.5, 0.9])
        tasks = np.zeros((steps, envs), dtype=int)
        for t in range(steps):
            tasks[t] = current
            for e in np.flatnonzero(dones[t]):
                if not _check_against_model(plr, model):
                    return
                (task, meta) = plr.sample_with_metadata()[0]
                model.observe_sample(task, meta["replay"])
                current[e] = task
        logits = rng.normal(size=(steps, envs, actions))
        log_dist = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        rollout = (
            tasks,
            rng.normal(size=(steps, envs)),
            dones,
            rng.normal(size=(steps, envs)),
            rng.normal(size=envs),
        )
        try:
            model.update(*rollout, log_dist)
        except ModelCrash:
            with pytest.raises(ReferenceModeError):
                plr.custom_update(*rollout, action_log_dist=log_dist)
            return
        plr.custom_update(*rollout, action_log_dist=log_dist)
        if not _check_against_model(plr, model):
            return
