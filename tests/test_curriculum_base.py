"""The Curriculum base class and StatRecorder."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest

from syllabus.core import Curriculum, CurriculumError, StatRecorder, StepBatch
from syllabus.task_space import BoxTaskSpace, DiscreteTaskSpace, MultiDiscreteTaskSpace


class Weighted(Curriculum):
    """A curriculum with a fixed, non-uniform task distribution; records step updates."""

    def __init__(self, task_space, probs, **kwargs) -> None:
        super().__init__(task_space, **kwargs)
        self.probs = np.asarray(probs, dtype=float)
        self.steps: list[tuple] = []

    def task_distribution(self) -> np.ndarray:
        return self.probs

    def update_on_step(self, task, obs, reward, terminated, truncated, info, progress=None, env_id=None):
        self.steps.append((task, obs, reward, terminated, truncated, info, progress, env_id))


NAMED = DiscreteTaskSpace(["a", "b", "c", "d"])
PROBS = [0.1, 0.2, 0.3, 0.4]


def _weighted(seed=0, record_stats=False):
    return Weighted(NAMED, PROBS, random_seed=seed, record_stats=record_stats)


# ---------------------------------------------------------------- StatRecorder
def test_stat_recorder_running_mean_and_std_match_numpy():
    rng = np.random.default_rng(7)
    space = DiscreteTaskSpace(3)
    recorder = StatRecorder(space)
    returns = {task: rng.normal(loc=10 * task, scale=1 + task, size=200) for task in range(3)}
    lengths = {task: rng.integers(1, 500, size=200) for task in range(3)}
    for i in range(200):
        for task in range(3):
            recorder.record(returns[task][i], lengths[task][i], task)

    assert recorder.episodes == 600
    for task in range(3):
        assert recorder.returns[task].count == 200
        assert recorder.returns[task].mean == pytest.approx(returns[task].mean(), rel=1e-12)
        assert recorder.returns[task].std == pytest.approx(returns[task].std(), rel=1e-10)
        assert recorder.lengths[task].mean == pytest.approx(lengths[task].mean(), rel=1e-12)
        assert recorder.lengths[task].std == pytest.approx(lengths[task].std(), rel=1e-10)
        assert recorder.mean_return(task) == pytest.approx(returns[task].mean(), rel=1e-12)

    all_returns = np.concatenate(list(returns.values()))
    assert recorder.metrics()["stats/mean_return"] == pytest.approx(all_returns.mean(), rel=1e-12)


def test_stat_recorder_keys_are_encodings_for_enumerable_spaces():
    recorder = StatRecorder(NAMED)
    recorder.record(1.0, 10, "c")
    recorder.record(3.0, 30, "c")
    recorder.record(5.0, 50, "a")
    assert set(recorder.returns) == {0, 2}
    assert set(recorder.lengths) == {0, 2}
    assert recorder.mean_return("c") == 2.0
    assert recorder.mean_return("b") == 0.0  # never recorded

    multi = StatRecorder(MultiDiscreteTaskSpace([2, 3]))
    multi.record(1.0, 1, (1, 2))
    assert set(multi.returns) == {5}


def test_stat_recorder_uses_one_key_for_box_spaces():
    recorder = StatRecorder(BoxTaskSpace(0.0, 1.0, shape=()))
    for i, task in enumerate([0.1, 0.5, 0.9, 0.5]):
        recorder.record(float(i), 10, task)
    assert set(recorder.returns) == {None}
    assert recorder.returns[None].count == 4
    assert recorder.mean_return(0.7) == pytest.approx(1.5)
    assert not any(key.startswith("stats/task_") for key in recorder.metrics())


def test_stat_recorder_normalize():
    recorder = StatRecorder(DiscreteTaskSpace(2))
    data = np.array([1.0, 2.0, 4.0, 9.0])
    for value in data:
        recorder.record(value, 1, 0)

    assert recorder.normalize(5.0, 0) == pytest.approx((5.0 - data.mean()) / data.std())
    batch = np.array([0.0, 4.0, 8.0])
    np.testing.assert_allclose(recorder.normalize(batch, 0), (batch - data.mean()) / data.std())
    # a task without statistics is returned as is
    assert recorder.normalize(5.0, 1) == 5.0

    box = StatRecorder(BoxTaskSpace(0.0, 1.0, shape=()))
    box.record(2.0, 1, 0.2)
    box.record(4.0, 1, 0.8)
    assert box.normalize(5.0, 0.5) == pytest.approx(2.0)


def test_stat_recorder_normalize_with_one_episode_only_centers():
    """The docstring: 'With fewer than two recorded episodes the value is only centered.'"""
    recorder = StatRecorder(DiscreteTaskSpace(2))
    recorder.record(3.0, 1, 0)
    assert recorder.normalize(5.0, 0) == pytest.approx(2.0)


def test_stat_recorder_metrics():
    recorder = StatRecorder(NAMED)
    for value, length, task in [(1.0, 10, "a"), (3.0, 20, "a"), (5.0, 30, "a"), (10.0, 40, "d")]:
        recorder.record(value, length, task)
    metrics = recorder.metrics()
    assert metrics["stats/episodes"] == 4.0
    assert metrics["stats/mean_return"] == pytest.approx(19.0 / 4)
    assert metrics["stats/task_0/mean_return"] == pytest.approx(3.0)
    assert metrics["stats/task_0/mean_length"] == pytest.approx(20.0)
    assert metrics["stats/task_0/episodes"] == 3.0
    assert metrics["stats/task_3/mean_return"] == pytest.approx(10.0)
    assert "stats/task_1/mean_return" not in metrics

    # max_tasks keeps the most played tasks
    limited = recorder.metrics(max_tasks=1)
    assert "stats/task_0/mean_return" in limited and "stats/task_3/mean_return" not in limited


def test_stat_recorder_state_dict_round_trip():
    rng = np.random.default_rng(3)
    recorder = StatRecorder(NAMED)
    for _ in range(50):
        recorder.record(rng.normal(), int(rng.integers(1, 100)), NAMED.sample(rng))
    state = recorder.state_dict()

    restored = StatRecorder(NAMED)
    restored.load_state_dict(state)
    assert restored.episodes == recorder.episodes
    assert restored.metrics() == recorder.metrics()
    for task in NAMED.tasks:
        assert restored.normalize(0.5, task) == recorder.normalize(0.5, task)

    # the state is a snapshot: later records do not change it
    recorder.record(100.0, 1, "a")
    assert restored.metrics() != recorder.metrics()
    again = StatRecorder(NAMED)
    again.load_state_dict(state)
    assert again.metrics() == restored.metrics()


# ------------------------------------------------------------------ Curriculum
def test_constructor_rejects_non_task_space():
    with pytest.raises(TypeError, match="TaskSpace"):
        Curriculum([0, 1, 2])
    with pytest.raises(TypeError):
        Curriculum(gym.spaces.Discrete(3))


def test_sample_follows_task_distribution():
    curriculum = _weighted(seed=1)
    samples = curriculum.sample(20_000)
    assert set(samples) <= set(NAMED.tasks)
    freqs = np.array([samples.count(task) for task in NAMED.tasks]) / len(samples)
    np.testing.assert_allclose(freqs, PROBS, atol=0.02)
    assert curriculum.sample(0) == []
    assert len(curriculum.sample()) == 1


def test_sample_is_reproducible_with_random_seed():
    assert _weighted(seed=5).sample(50) == _weighted(seed=5).sample(50)
    assert _weighted(seed=5).sample(50) != _weighted(seed=6).sample(50)


def test_sample_is_independent_of_global_numpy_seed():
    expected = _weighted(seed=9)
    expected_samples = [expected.sample(5) for _ in range(4)]

    np.random.seed(0)
    curriculum = _weighted(seed=9)
    samples = []
    for i in range(4):
        np.random.seed(i)  # reseeding the global generator changes nothing
        np.random.random(10)
        samples.append(curriculum.sample(5))
    assert samples == expected_samples


def test_sample_negative_k_raises():
    with pytest.raises(ValueError, match="k must be an integer >= 0 .*got -1"):
        _weighted().sample(-1)


def test_base_sample_without_distribution_raises():
    with pytest.raises(NotImplementedError, match="Curriculum"):
        Curriculum(NAMED).sample()


def test_custom_update_raises_curriculum_error_naming_the_class():
    with pytest.raises(CurriculumError, match="Weighted"):
        _weighted().custom_update(np.zeros((2, 2)))


def test_normalize_without_record_stats_raises():
    with pytest.raises(CurriculumError, match="record_stats"):
        _weighted().normalize(1.0, "a")


def test_update_on_episode_records_stats_and_normalize_uses_them():
    curriculum = _weighted(record_stats=True)
    curriculum.update_on_episode(2.0, 10, "b")
    curriculum.update_on_episode(6.0, 30, "b")
    assert curriculum.stat_recorder.mean_return("b") == 4.0
    assert curriculum.normalize(6.0, "b") == pytest.approx(1.0)
    # without record_stats, episode updates are accepted and ignored
    _weighted().update_on_episode(1.0, 1, "a")


def test_metrics_and_log_metrics_into_a_dict():
    curriculum = _weighted(record_stats=True)
    curriculum.update_on_episode(2.0, 10, "b")
    logged = {"other": 1.0}
    out = curriculum.log_metrics(logged)
    assert logged == {"other": 1.0, **out}
    entropy = -sum(p * np.log(p) for p in PROBS)
    assert out["curriculum/task_entropy"] == pytest.approx(entropy)
    assert out["curriculum/task_d_prob"] == pytest.approx(0.4)
    assert out["curriculum/task_a_prob"] == pytest.approx(0.1)
    assert out["stats/episodes"] == 1.0
    assert out["stats/task_1/mean_return"] == 2.0

    top = curriculum.metrics(max_tasks=2)
    assert {k for k in top if k.endswith("_prob")} == {"curriculum/task_d_prob", "curriculum/task_c_prob"}


def test_log_metrics_into_a_writer_object():
    class Writer:
        def __init__(self) -> None:
            self.calls = []

        def add_scalar(self, tag, value, step):
            self.calls.append((tag, value, step))

    writer = Writer()
    out = _weighted().log_metrics(writer, step=42)
    assert sorted(writer.calls) == sorted((tag, value, 42) for tag, value in out.items())
    assert len(writer.calls) == 5  # entropy + 4 task probabilities


def test_log_metrics_into_tensorboard(tmp_path):
    tensorboard = pytest.importorskip("torch.utils.tensorboard")
    writer = tensorboard.SummaryWriter(log_dir=str(tmp_path))
    try:
        _weighted().log_metrics(writer, step=1)
        writer.flush()
    finally:
        writer.close()
    events = list(tmp_path.glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(tmp_path))
    accumulator.Reload()
    assert "curriculum/task_entropy" in accumulator.Tags()["scalars"]
    (event,) = accumulator.Scalars("curriculum/task_d_prob")
    assert event.step == 1 and event.value == pytest.approx(0.4)


@pytest.mark.parametrize("writer", [object(), "runs/", [1, 2]])
def test_log_metrics_bad_writer_raises_type_error(writer):
    with pytest.raises(TypeError, match="add_scalar"):
        _weighted().log_metrics(writer)


def test_state_dict_round_trip_restores_rng_and_stats():
    curriculum = _weighted(seed=3, record_stats=True)
    curriculum.sample(17)
    for i in range(5):
        curriculum.update_on_episode(float(i), 10 + i, NAMED.tasks[i % 4])
    state = curriculum.state_dict()
    expected = curriculum.sample(30)
    expected_metrics = curriculum.metrics()

    restored = _weighted(seed=999, record_stats=True)
    restored.load_state_dict(state)
    assert restored.sample(30) == expected
    assert restored.metrics() == expected_metrics
    assert restored.normalize(3.0, "a") == curriculum.normalize(3.0, "a")

    # the original curriculum can also be rewound
    curriculum.load_state_dict(state)
    assert curriculum.sample(30) == expected


def test_update_on_step_batch_calls_update_on_step_in_order():
    curriculum = _weighted()
    batch = StepBatch(
        tasks=["a", "a", "b"],
        obs=[0, 1, 2],
        rewards=[0.5, 1.0, 1.5],
        terminated=[False, True, False],
        truncated=[False, False, True],
        infos=[{"i": 0}, {"i": 1}, {"i": 2}],
        progress=[None, 0.5, 1.0],
    )
    curriculum.update_on_step_batch(batch, env_id=3)
    assert curriculum.steps == [
        ("a", 0, 0.5, False, False, {"i": 0}, None, 3),
        ("a", 1, 1.0, True, False, {"i": 1}, 0.5, 3),
        ("b", 2, 1.5, False, True, {"i": 2}, 1.0, 3),
    ]


def test_update_on_step_batch_rejects_ragged_batch():
    batch = StepBatch(["a"], [0, 1], [0.0], [False], [False], [{}], [None])
    with pytest.raises(ValueError):
        _weighted().update_on_step_batch(batch)


# ---------------------------------------------------- load_state_dict checks, for every curriculum
def _curricula(n: int) -> dict[str, Curriculum]:
    """One of every curriculum over ``n`` discrete tasks (Box schedules over a box of size ``n``)."""
    from syllabus.curricula import (
        Constant,
        DomainRandomization,
        ExpandingBox,
        Learnability,
        LearningProgress,
        PrioritizedLevelReplay,
        SequentialCurriculum,
        SimulatedAnnealing,
    )

    space = DiscreteTaskSpace(n)
    box = BoxTaskSpace(0.0, float(n), (2,))
    return {
        "Constant": Constant(0, space),
        "DomainRandomization": DomainRandomization(space),
        "Learnability": Learnability(space),
        "LearningProgress": LearningProgress(space),
        "PrioritizedLevelReplay": PrioritizedLevelReplay(space),
        "SequentialCurriculum": SequentialCurriculum([[0], [1]], space, ["episodes>=2"]),
        "SimulatedAnnealing": SimulatedAnnealing(box, [0.0, 0.0], [1.0, 1.0], 100),
        "ExpandingBox": ExpandingBox(box, [0.0, 0.0], [1.0, 1.0]),
    }


CURRICULA = list(_curricula(3))


@pytest.mark.parametrize("name", CURRICULA)
def test_state_round_trips_within_a_class_and_size(name):
    source, target = _curricula(3)[name], _curricula(3)[name]
    target.load_state_dict(source.state_dict())
    assert np.array_equal(np.asarray(target.sample(5)), np.asarray(source.sample(5)))


@pytest.mark.parametrize(("name", "other"), list(itertools.permutations(CURRICULA, 2)))
def test_state_of_another_class_is_refused_naming_both(name, other):
    state = _curricula(3)[other].state_dict()
    with pytest.raises(
        ValueError, match=rf"{name}.load_state_dict: the state is of a {other}, this curriculum is a {name}"
    ):
        _curricula(3)[name].load_state_dict(state)


@pytest.mark.parametrize("name", CURRICULA)
def test_state_of_another_task_space_is_refused_saying_what_differs(name):
    state = _curricula(5)[name].state_dict()
    target = _curricula(3)[name]
    if isinstance(target.task_space, BoxTaskSpace):
        expected = (
            r"over a BoxTaskSpace with not enumerable: BoxTaskSpace\(0.0, 5.0.*this curriculum over .*3.0"
        )
    else:
        expected = r"over a DiscreteTaskSpace with 5 tasks: .*, this curriculum over a DiscreteTaskSpace with 3 tasks"
    with pytest.raises(ValueError, match=expected):
        target.load_state_dict(state)


def test_state_of_another_kind_of_task_space_is_refused():
    state = _weighted().state_dict()
    target = Weighted(MultiDiscreteTaskSpace([2, 2]), PROBS)
    with pytest.raises(
        ValueError, match="over a DiscreteTaskSpace with 4 tasks.*over a MultiDiscreteTaskSpace with 4 tasks"
    ):
        target.load_state_dict(state)


@pytest.mark.parametrize(
    ("state", "error", "message"),
    [
        ([1, 2], TypeError, "needs the dict from state_dict\\(\\), got list"),
        ({"rng": {}}, ValueError, "no 'curriculum' and 'task_space' entries"),
    ],
)
def test_state_that_is_not_a_state_dict_is_refused(state, error, message):
    with pytest.raises(error, match=message):
        _weighted().load_state_dict(state)


# --------------------------------------------------------------------- episode update values
@pytest.mark.parametrize(
    ("episode_return", "length", "message"),
    [
        (1.0, -1, "length must be an integer >= 0 .*got -1"),
        (1.0, 2.5, "length must be an integer >= 0 .*got 2.5"),
        (1.0, True, "length must be an integer >= 0 .*got True"),
        (float("nan"), 3, "episode_return must be finite, got nan"),
        (float("inf"), 3, "episode_return must be finite, got inf"),
        ("1.0", 3, "episode_return must be a number, got '1.0'"),
    ],
)
@pytest.mark.parametrize(
    "name", ["DomainRandomization", "Learnability", "SimulatedAnnealing", "ExpandingBox"]
)
def test_bad_episode_values_are_refused(name, episode_return, length, message):
    curriculum = _curricula(3)[name]
    task = curriculum.sample(1)[0]
    with pytest.raises(ValueError, match=message):
        curriculum.update_on_episode(episode_return, length, task, progress=1.0)


def test_simulated_annealing_does_not_move_on_a_refused_episode():
    curriculum = _curricula(3)["SimulatedAnnealing"]
    with pytest.raises(ValueError, match="length"):
        curriculum.update_on_episode(0.0, -50, curriculum.sample(1)[0])
    assert curriculum.steps == 0
    curriculum.update_on_episode(0.0, np.int64(50), curriculum.sample(1)[0])  # numpy integers are fine
    assert curriculum.fraction == 0.5


@pytest.mark.parametrize("k", [-1, 1.5, True, "2"])
def test_sample_refuses_a_bad_k(k):
    with pytest.raises(ValueError, match="k must be an integer >= 0"):
        _weighted().sample(k)
