"""Tests of the Constant and DomainRandomization curricula."""

from collections import Counter

import numpy as np
import pytest

from syllabus.core.errors import CurriculumError
from syllabus.curricula.constant import Constant
from syllabus.curricula.domain_randomization import DomainRandomization
from syllabus.task_space import (
    BoxTaskSpace,
    DiscreteTaskSpace,
    MultiDiscreteTaskSpace,
    TaskSpaceError,
    TupleTaskSpace,
)


def _spaces():
    return {
        "discrete": DiscreteTaskSpace(5),
        "named": DiscreteTaskSpace(["easy", "medium", "hard"]),
        "multidiscrete": MultiDiscreteTaskSpace([2, 3]),
        "box": BoxTaskSpace(-1.0, 2.0),
        "box_vector": BoxTaskSpace(0.0, 1.0, shape=(3,)),
        "tuple_mixed": TupleTaskSpace([DiscreteTaskSpace(2), BoxTaskSpace(0.0, 1.0)]),
    }


SPACE_NAMES = list(_spaces())


def _space(name):
    return _spaces()[name]


def _same_tasks(a, b):
    """Task lists are equal (tasks may be numpy arrays)."""
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# ------------------------------------------------------------------ Constant
@pytest.mark.parametrize(
    "space_name, task",
    [
        ("discrete", 3),
        ("named", "hard"),
        ("box", 0.5),
        ("box_vector", np.array([0.1, 0.2, 0.3], dtype=np.float32)),
    ],
)
def test_constant_always_samples_its_task(space_name, task):
    curriculum = Constant(task, _space(space_name))
    samples = curriculum.sample(20) + curriculum.sample()
    assert len(samples) == 21
    assert all(np.array_equal(sample, task) for sample in samples)


def test_constant_rejects_task_outside_space():
    with pytest.raises(TaskSpaceError, match="7"):
        Constant(7, DiscreteTaskSpace(5))
    with pytest.raises(TaskSpaceError, match="impossible"):
        Constant("impossible", DiscreteTaskSpace(["easy", "hard"]))


def test_constant_distribution_is_one_hot_for_enumerable_spaces():
    space = DiscreteTaskSpace(["easy", "medium", "hard"])
    np.testing.assert_array_equal(Constant("medium", space).task_distribution(), [0.0, 1.0, 0.0])
    assert Constant(0.5, BoxTaskSpace(0.0, 1.0)).task_distribution() is None


def test_constant_samples_are_independent_copies():
    curriculum = Constant(np.array([0.1, 0.2, 0.3], dtype=np.float32), BoxTaskSpace(0.0, 1.0, shape=(3,)))
    first, second = curriculum.sample(2)
    first[0] = 0.9
    assert second[0] == pytest.approx(0.1)
    assert curriculum.sample()[0][0] == pytest.approx(0.1)


def test_constant_metrics_report_zero_entropy():
    metrics = Constant(2, DiscreteTaskSpace(4)).metrics()
    assert metrics["curriculum/task_entropy"] == pytest.approx(0.0)
    assert metrics["curriculum/task_2_prob"] == 1.0


# ------------------------------------------------------- DomainRandomization
@pytest.mark.parametrize("space_name", SPACE_NAMES)
def test_domain_randomization_samples_are_in_space(space_name):
    space = _space(space_name)
    samples = DomainRandomization(space, random_seed=0).sample(200)
    assert len(samples) == 200
    assert all(space.contains(task) for task in samples)


@pytest.mark.parametrize("space_name", SPACE_NAMES)
def test_domain_randomization_is_reproducible_with_seed(space_name):
    a = DomainRandomization(_space(space_name), random_seed=42)
    b = DomainRandomization(_space(space_name), random_seed=42)
    c = DomainRandomization(_space(space_name), random_seed=43)
    samples_a, samples_b, samples_c = a.sample(50), b.sample(50), c.sample(50)
    assert _same_tasks(samples_a, samples_b)
    assert not _same_tasks(samples_a, samples_c)


def test_domain_randomization_uses_its_own_generator_not_the_spaces():
    space = DiscreteTaskSpace(100)
    first = DomainRandomization(space, random_seed=1).sample(20)
    space.seed(123)
    space.sample()
    assert DomainRandomization(space, random_seed=1).sample(20) == first


@pytest.mark.parametrize("space_name", ["discrete", "named", "multidiscrete"])
def test_domain_randomization_is_uniform_on_enumerable_spaces(space_name):
    space = _space(space_name)
    curriculum = DomainRandomization(space, random_seed=0)
    np.testing.assert_allclose(curriculum.task_distribution(), np.full(space.num_tasks, 1 / space.num_tasks))
    draws = 30_000
    counts = Counter(space.encode(task) for task in curriculum.sample(draws))
    assert set(counts) == set(range(space.num_tasks))
    expected = draws / space.num_tasks
    for count in counts.values():
        assert abs(count - expected) < 0.05 * expected


def test_domain_randomization_box_covers_bounds_uniformly():
    samples = np.array(DomainRandomization(BoxTaskSpace(-1.0, 2.0), random_seed=0).sample(20_000))
    assert samples.min() >= -1.0 and samples.max() <= 2.0
    assert samples.mean() == pytest.approx(0.5, abs=0.05)
    histogram, _ = np.histogram(samples, bins=3, range=(-1.0, 2.0))
    np.testing.assert_allclose(histogram / len(samples), 1 / 3, atol=0.02)


def test_domain_randomization_box_vector_tasks_have_space_shape():
    curriculum = DomainRandomization(BoxTaskSpace(0.0, 1.0, shape=(3,)), random_seed=0)
    samples = np.array(curriculum.sample(1000))
    assert samples.shape == (1000, 3)
    assert ((samples >= 0.0) & (samples <= 1.0)).all()
    assert curriculum.task_distribution() is None


def test_domain_randomization_metrics_report_uniform_entropy():
    metrics = DomainRandomization(DiscreteTaskSpace(4)).metrics()
    assert metrics["curriculum/task_entropy"] == pytest.approx(np.log(4))
    assert metrics["curriculum/task_0_prob"] == pytest.approx(0.25)


# ------------------------------------------------------------- shared behaviour
def _make(kind, space_name, **kwargs):
    space = _space(space_name)
    if kind == "constant":
        return Constant(space.sample(np.random.default_rng(0)), space, **kwargs)
    return DomainRandomization(space, **kwargs)


BOTH = pytest.mark.parametrize("kind", ["constant", "domain_randomization"])


@BOTH
@pytest.mark.parametrize("space_name", SPACE_NAMES)
def test_state_dict_round_trip_preserves_next_samples(kind, space_name):
    original = _make(kind, space_name, random_seed=5, record_stats=True)
    original.sample(7)
    for task in original.sample(3):
        original.update_on_episode(1.5, 10, task)
    state = original.state_dict()
    restored = _make(kind, space_name, random_seed=999, record_stats=True)
    restored.load_state_dict(state)
    assert _same_tasks(restored.sample(25), original.sample(25))
    assert restored.stat_recorder.episodes == original.stat_recorder.episodes == 3


@BOTH
def test_custom_update_is_rejected(kind):
    curriculum = _make(kind, "discrete")
    with pytest.raises(CurriculumError, match="custom_update"):
        curriculum.custom_update({"values": [1.0]})


@BOTH
def test_stats_are_recorded_with_record_stats(kind):
    curriculum = _make(kind, "discrete", random_seed=0, record_stats=True)
    task = curriculum.sample()[0]
    curriculum.update_on_episode(2.0, 5, task)
    curriculum.update_on_episode(4.0, 7, task)
    assert curriculum.stat_recorder.episodes == 2
    assert curriculum.stat_recorder.mean_return(task) == pytest.approx(3.0)
    assert curriculum.metrics()[f"stats/task_{task}/mean_length"] == pytest.approx(6.0)


@BOTH
def test_stats_are_not_recorded_by_default(kind):
    curriculum = _make(kind, "discrete")
    curriculum.update_on_episode(1.0, 5, curriculum.sample()[0])
    assert curriculum.stat_recorder is None
    with pytest.raises(CurriculumError, match="record_stats"):
        curriculum.normalize(1.0, 0)


@BOTH
def test_rejects_a_non_task_space(kind):
    with pytest.raises(TypeError, match="TaskSpace"):
        Constant(0, [0, 1]) if kind == "constant" else DomainRandomization([0, 1])
