"""Tests for syllabus.task_space."""

import itertools
import pickle
import re

import gymnasium as gym
import numpy as np
import pytest

from syllabus.task_space import (
    BoxTaskSpace,
    DictTaskSpace,
    DiscreteTaskSpace,
    MultiDiscreteTaskSpace,
    TaskSpace,
    TaskSpaceError,
    TupleTaskSpace,
)

ENUMERABLE = {
    "discrete_n": lambda: DiscreteTaskSpace(5),
    "discrete_names": lambda: DiscreteTaskSpace(["easy", "medium", "hard"]),
    "discrete_seeds": lambda: DiscreteTaskSpace([3, 17, 42]),
    "multi_nvec": lambda: MultiDiscreteTaskSpace([2, 3, 4]),
    "multi_options": lambda: MultiDiscreteTaskSpace([["a", "b"], [0.5, 1.0, 2.0]]),
    "tuple": lambda: TupleTaskSpace([DiscreteTaskSpace(3), MultiDiscreteTaskSpace([2, 2])]),
    "dict": lambda: DictTaskSpace({"level": DiscreteTaskSpace(["a", "b"]), "seed": DiscreteTaskSpace(4)}),
}
CONTINUOUS = {
    "box": lambda: BoxTaskSpace(0.0, 1.0, (2,)),
    "box_scalar": lambda: BoxTaskSpace(-1.0, 1.0, ()),
    "box_float64": lambda: BoxTaskSpace([0.0, -1.0], [1.0, 1.0], dtype=np.float64),
    "tuple_box": lambda: TupleTaskSpace([DiscreteTaskSpace(3), BoxTaskSpace(0.0, 1.0, ())]),
    "dict_box": lambda: DictTaskSpace({"goal": BoxTaskSpace(-2.0, 2.0, (3,)), "level": DiscreteTaskSpace(2)}),
}
ALL = {**ENUMERABLE, **CONTINUOUS}

enumerable_spaces = pytest.mark.parametrize("make", ENUMERABLE.values(), ids=ENUMERABLE.keys())
continuous_spaces = pytest.mark.parametrize("make", CONTINUOUS.values(), ids=CONTINUOUS.keys())
all_spaces = pytest.mark.parametrize("make", ALL.values(), ids=ALL.keys())


def same_task(a, b) -> bool:
    """Structural task equality, comparing arrays by dtype and value."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b)
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same_task(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(same_task, a, b))
    return type(a) is type(b) and a == b


# Round trips, counts and task order


@enumerable_spaces
def test_enumerable_round_trip_over_all_tasks(make):
    space = make()
    tasks = space.tasks
    assert space.is_enumerable
    assert len(tasks) == space.num_tasks
    for index, task in enumerate(tasks):
        assert task in space
        assert type(space.encode(task)) is int
        assert space.encode(task) == index
        assert same_task(space.decode(index), task)
        assert same_task(space.decode(np.int64(index)), task)


@continuous_spaces
def test_continuous_round_trip_over_samples(make):
    space = make()
    space.seed(0)
    assert not space.is_enumerable
    assert space.num_tasks is None
    for _ in range(50):
        task = space.sample()
        assert same_task(space.decode(space.encode(task)), task)
        encoding = space.encode(task)
        assert same_task(space.encode(space.decode(encoding)), encoding)


@continuous_spaces
def test_continuous_space_has_no_task_list(make):
    space = make()
    with pytest.raises(TypeError, match=re.escape(f"{space!r} is not enumerable")):
        _ = space.tasks


@pytest.mark.parametrize(
    ("space", "tasks"),
    [
        (DiscreteTaskSpace(3), [0, 1, 2]),
        (DiscreteTaskSpace(["hard", "easy"]), ["hard", "easy"]),
        (DiscreteTaskSpace(np.array([42, 3])), [42, 3]),
        (MultiDiscreteTaskSpace([2, 3]), list(itertools.product(range(2), range(3)))),
        (MultiDiscreteTaskSpace([["x", "y"], [5]]), [("x", 5), ("y", 5)]),
        (
            TupleTaskSpace([DiscreteTaskSpace(["a", "b"]), DiscreteTaskSpace(2)]),
            [("a", 0), ("a", 1), ("b", 0), ("b", 1)],
        ),
        (
            DictTaskSpace({"z": DiscreteTaskSpace(2), "a": DiscreteTaskSpace(["p", "q"])}),
            [{"z": 0, "a": "p"}, {"z": 0, "a": "q"}, {"z": 1, "a": "p"}, {"z": 1, "a": "q"}],
        ),
    ],
    ids=["discrete_n", "discrete_names", "discrete_numpy", "multi_nvec", "multi_options", "tuple", "dict"],
)
def test_tasks_are_listed_in_encoding_order(space, tasks):
    assert space.num_tasks == len(tasks)
    assert all(same_task(a, b) for a, b in zip(space.tasks, tasks, strict=True))


def test_dict_keeps_key_order():
    space = DictTaskSpace({"z": DiscreteTaskSpace(2), "a": DiscreteTaskSpace(3)})
    assert list(space.decode(0)) == ["z", "a"]
    assert list(space.spaces) == ["z", "a"]
    assert space.encode({"a": 2, "z": 1}) == 1 * 3 + 2


def test_multi_discrete_encoding_is_row_major():
    nvec = (3, 4, 5)
    space = MultiDiscreteTaskSpace(list(nvec))
    assert space.nvec == nvec
    assert space.num_tasks == 60
    for task in itertools.product(*map(range, nvec)):
        assert space.encode(task) == np.ravel_multi_index(task, nvec)


def test_decoded_tasks_are_python_values():
    assert DiscreteTaskSpace(np.array([3, 17])).decode(1) == 17
    assert type(DiscreteTaskSpace(np.array([3, 17])).decode(1)) is int
    task = MultiDiscreteTaskSpace([np.arange(2), ["a", "b"]]).decode(3)
    assert task == (1, "b")
    assert [type(value) for value in task] == [int, str]


def test_box_tasks_are_arrays_or_floats():
    box = BoxTaskSpace(0.0, 1.0, (2,), dtype=np.float64)
    encoding = box.encode([0.25, 0.5])
    assert isinstance(encoding, np.ndarray)
    assert encoding.dtype == np.float64
    assert encoding.shape == (2,)
    scalar = BoxTaskSpace(0.0, 1.0)
    assert scalar.shape == ()
    assert type(scalar.sample()) is float
    assert type(scalar.decode(np.float32(0.25))) is float
    assert scalar.encode(0.25) == 0.25


def test_box_casts_to_dtype_and_does_not_alias_input():
    box = BoxTaskSpace(0.0, 1.0, (2,))
    task = np.array([0.1, 0.5], dtype=np.float64)
    encoding = box.encode(task)
    assert encoding.dtype == np.float32
    assert np.array_equal(encoding, task.astype(np.float32))
    same_dtype = np.array([0.1, 0.5], dtype=np.float32)
    box.encode(same_dtype)[0] = 0.9
    assert same_dtype[0] == np.float32(0.1)


def test_box_bounds_broadcast_to_shape():
    box = BoxTaskSpace([0.0, -1.0], 1.0)
    assert box.shape == (2,)
    assert np.array_equal(box.low, [0.0, -1.0])
    assert np.array_equal(box.high, [1.0, 1.0])
    assert BoxTaskSpace(0.0, 1.0, (2, 3)).low.shape == (2, 3)


# Sampling


@all_spaces
def test_samples_are_in_the_space(make):
    space = make()
    space.seed(1)
    for _ in range(100):
        assert space.contains(space.sample())


@all_spaces
def test_sampling_is_reproducible_under_seed(make):
    space = make()
    space.seed(123)
    first = [space.sample() for _ in range(20)]
    space.seed(123)
    second = [space.sample() for _ in range(20)]
    assert all(map(same_task, first, second))


@all_spaces
def test_sampling_with_explicit_rng_is_reproducible_and_leaves_own_generator(make):
    space = make()
    first = [space.sample(np.random.default_rng(7)) for _ in range(5)]
    second = [space.sample(np.random.default_rng(7)) for _ in range(5)]
    assert all(map(same_task, first, second))

    space.seed(0)
    expected = space.sample()
    space.seed(0)
    space.sample(np.random.default_rng(99))
    assert same_task(space.sample(), expected)


@all_spaces
def test_sampling_does_not_touch_global_random_state(make):
    space = make()
    np.random.seed(0)
    state = np.random.get_state()
    space.sample()
    space.seed(5)
    space.sample()
    after = np.random.get_state()
    assert state[0] == after[0]
    assert np.array_equal(state[1], after[1])
    assert state[2:] == after[2:]


@pytest.mark.parametrize(
    "space",
    [DiscreteTaskSpace(4), DiscreteTaskSpace(["a", "b", "c"]), MultiDiscreteTaskSpace([2, 2])],
    ids=repr,
)
def test_discrete_sampling_is_uniform(space):
    rng = np.random.default_rng(0)
    draws = 4000
    counts = np.bincount([space.encode(space.sample(rng)) for _ in range(draws)], minlength=space.num_tasks)
    expected = draws / space.num_tasks
    assert np.all(np.abs(counts - expected) < 0.15 * expected)


def test_box_sampling_covers_the_bounds():
    box = BoxTaskSpace([0.0, 10.0], [1.0, 20.0])
    samples = np.stack([box.sample(np.random.default_rng(i)) for i in range(500)])
    assert np.all(samples >= box.low)
    assert np.all(samples <= box.high)
    assert np.allclose(samples.mean(axis=0), [0.5, 15.0], atol=0.1 * np.array([1.0, 10.0]))


def test_degenerate_box_samples_its_single_point():
    box = BoxTaskSpace(0.5, 0.5, (2,))
    assert np.array_equal(box.sample(), [0.5, 0.5])


# Membership

D5 = DiscreteTaskSpace(5)
NAMES = DiscreteTaskSpace(["easy", "hard"])
SEEDS = DiscreteTaskSpace([3, 17, 42])
MULTI = MultiDiscreteTaskSpace([2, 3])
MULTI_OPTIONS = MultiDiscreteTaskSpace([["a", "b"], [0.5, 1.0]])
BOX = BoxTaskSpace(0.0, 1.0, (2,))
SCALAR_BOX = BoxTaskSpace(0.0, 1.0, ())
TUPLE = TupleTaskSpace([DiscreteTaskSpace(3), SCALAR_BOX])
DICT = DictTaskSpace({"level": DiscreteTaskSpace(2), "goal": BOX})


@pytest.mark.parametrize(
    ("space", "task", "expected"),
    [
        (D5, 0, True),
        (D5, 4, True),
        (D5, np.int64(3), True),
        (D5, 5, False),
        (D5, -1, False),
        (D5, True, False),
        (D5, 1.0, False),
        (D5, "1", False),
        (D5, None, False),
        (NAMES, "easy", True),
        (NAMES, np.str_("hard"), True),
        (NAMES, "medium", False),
        (NAMES, 0, False),
        (NAMES, ["easy"], False),
        (SEEDS, 17, True),
        (SEEDS, np.int32(42), True),
        (SEEDS, 4, False),
        (SEEDS, 17.0, False),
        (DiscreteTaskSpace([0, 1]), True, False),
        (MULTI, (1, 2), True),
        (MULTI, [1, 2], True),
        (MULTI, np.array([1, 2]), True),
        (MULTI, (2, 0), False),
        (MULTI, (1,), False),
        (MULTI, (1, 2, 0), False),
        (MULTI, (True, 0), False),
        (MULTI, np.array(1), False),
        (MULTI, 4, False),
        (MULTI_OPTIONS, ("b", 1.0), True),
        (MULTI_OPTIONS, ("c", 1.0), False),
        (BOX, [0.0, 1.0], True),
        (BOX, np.array([0.5, 0.5]), True),
        (BOX, np.array([0, 1]), True),
        (BOX, [0.0, 1.5], False),
        (BOX, [-0.1, 0.5], False),
        (BOX, [0.5], False),
        (BOX, [[0.5, 0.5]], False),
        (BOX, [np.nan, 0.5], False),
        (BOX, [np.inf, 0.5], False),
        (BOX, [True, False], False),
        (BOX, ["a", "b"], False),
        (BOX, [[0.5], 0.5], False),
        (BOX, {"x": 1}, False),
        (SCALAR_BOX, 0.5, True),
        (SCALAR_BOX, np.float32(1.0), True),
        (SCALAR_BOX, 1.5, False),
        (SCALAR_BOX, [0.5], False),
        (SCALAR_BOX, np.nan, False),
        (SCALAR_BOX, 1e300, False),
        (TUPLE, (1, 0.5), True),
        (TUPLE, [2, 0.0], True),
        (TUPLE, (3, 0.5), False),
        (TUPLE, (1,), False),
        (TUPLE, "ab", False),
        (DICT, {"level": 1, "goal": [0.5, 0.5]}, True),
        (DICT, {"goal": [0.5, 0.5], "level": 0}, True),
        (DICT, {"level": 1}, False),
        (DICT, {"level": 1, "goal": [0.5, 0.5], "extra": 0}, False),
        (DICT, {"level": 2, "goal": [0.5, 0.5]}, False),
        (DICT, (1, [0.5, 0.5]), False),
    ],
    ids=lambda value: repr(value) if not isinstance(value, TaskSpace) else type(value).__name__,
)
def test_contains(space, task, expected):
    assert space.contains(task) is expected
    assert (task in space) is expected


# Errors for bad tasks and encodings

BAD = [
    (DiscreteTaskSpace(5), 7, 9),
    (DiscreteTaskSpace(5), 1.0, -1),
    (DiscreteTaskSpace(5), "0", True),
    (DiscreteTaskSpace(["easy", "hard"]), "medium", 2),
    (DiscreteTaskSpace(["easy", "hard"]), ["easy"], 1.0),
    (DiscreteTaskSpace([3, 17, 42]), 4, "3"),
    (MultiDiscreteTaskSpace([2, 3]), (2, 0), 6),
    (MultiDiscreteTaskSpace([2, 3]), (1,), (1, 2)),
    (MultiDiscreteTaskSpace([["a", "b"]]), ("c",), np.int64(2)),
    (TupleTaskSpace([DiscreteTaskSpace(3), DiscreteTaskSpace(2)]), (3, 0), 6),
    (DictTaskSpace({"a": DiscreteTaskSpace(2)}), {"b": 0}, {"a": 0}),
    (BoxTaskSpace(0.0, 1.0, (2,)), [0.5, 2.0], [0.5]),
    (BoxTaskSpace(0.0, 1.0, ()), 1.5, np.nan),
    (TupleTaskSpace([DiscreteTaskSpace(3), BoxTaskSpace(0.0, 1.0, ())]), (3, 0.5), 0),
    (TupleTaskSpace([DiscreteTaskSpace(3), BoxTaskSpace(0.0, 1.0, ())]), (1, 2.0), (3, 0.5)),
    (DictTaskSpace({"goal": BoxTaskSpace(0.0, 1.0, (2,))}), {"goal": [2.0, 0.0]}, {"goal": [0.5]}),
]


@pytest.mark.parametrize(("space", "task", "encoding"), BAD, ids=lambda v: repr(v)[:40])
def test_bad_task_raises_task_space_error_naming_task_and_space(space, task, encoding):
    with pytest.raises(TaskSpaceError, match=re.escape(f"task {task!r} is not in {space!r}")):
        space.encode(task)


@pytest.mark.parametrize(("space", "task", "encoding"), BAD, ids=lambda v: repr(v)[:40])
def test_bad_encoding_raises_task_space_error_naming_encoding_and_space(space, task, encoding):
    with pytest.raises(TaskSpaceError, match=re.escape(f"encoding {encoding!r} is not valid for {space!r}")):
        space.decode(encoding)


def test_error_messages():
    space = DiscreteTaskSpace(5)
    with pytest.raises(TaskSpaceError, match=r"^task 7 is not in DiscreteTaskSpace\(5\)$"):
        space.encode(7)
    with pytest.raises(
        TaskSpaceError,
        match=r"^encoding 9 is not valid for DiscreteTaskSpace\(5\) \(valid: integers 0\.\.4\)$",
    ):
        space.decode(9)
    with pytest.raises(TaskSpaceError, match=r"\(valid: float32 arrays of shape \(2,\) within the bounds\)$"):
        BoxTaskSpace(0.0, 1.0, (2,)).decode([3.0, 0.0])


def test_task_space_error_is_a_value_error():
    assert issubclass(TaskSpaceError, ValueError)


def test_composite_error_chains_the_sub_space_error():
    space = TupleTaskSpace([DiscreteTaskSpace(3), DiscreteTaskSpace(["a"])])
    with pytest.raises(TaskSpaceError) as info:
        space.encode((0, "b"))
    assert isinstance(info.value.__cause__, TaskSpaceError)
    assert "DiscreteTaskSpace(['a'])" in str(info.value.__cause__)


# Constructor errors


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: DiscreteTaskSpace(0), ValueError, "n=0"),
        (lambda: DiscreteTaskSpace(-2), ValueError, "n=-2"),
        (lambda: DiscreteTaskSpace([]), ValueError, "empty"),
        (lambda: DiscreteTaskSpace(["a", "b", "a"]), ValueError, "'a' twice"),
        (lambda: DiscreteTaskSpace([[1], [2]]), TypeError, r"hashable, got \[1\]"),
        (lambda: DiscreteTaskSpace(True), TypeError, "True"),
        (lambda: DiscreteTaskSpace(2.5), TypeError, "2.5"),
        (lambda: DiscreteTaskSpace("abc"), TypeError, "'abc'"),
        (lambda: DiscreteTaskSpace(np.bool_(True)), TypeError, "True"),
        (lambda: MultiDiscreteTaskSpace([]), ValueError, "MultiDiscreteTaskSpace"),
        (lambda: MultiDiscreteTaskSpace([2, 0]), ValueError, "n=0"),
        (lambda: MultiDiscreteTaskSpace(3), TypeError, "got 3"),
        (lambda: MultiDiscreteTaskSpace([["a", "a"]]), ValueError, "'a' twice"),
        (lambda: BoxTaskSpace(1.0, 0.0), ValueError, "low <= high"),
        (lambda: BoxTaskSpace([0.0, 2.0], [1.0, 1.0]), ValueError, "low <= high"),
        (lambda: BoxTaskSpace(np.zeros(2), np.ones(3)), ValueError, "do not fit"),
        (lambda: BoxTaskSpace(np.zeros(2), 1.0, (3,)), ValueError, r"shape \(3,\)"),
        (lambda: BoxTaskSpace(0.0, np.inf), ValueError, "finite"),
        (lambda: BoxTaskSpace(np.nan, 1.0), ValueError, "finite"),
        (lambda: BoxTaskSpace(0, 1, (2,), dtype=np.int64), TypeError, "int64"),
        (lambda: TupleTaskSpace([]), ValueError, "TupleTaskSpace"),
        (lambda: TupleTaskSpace([DiscreteTaskSpace(2), "x"]), TypeError, "'x'"),
        (lambda: DictTaskSpace({}), ValueError, "DictTaskSpace"),
        (lambda: DictTaskSpace({1: DiscreteTaskSpace(2)}), TypeError, "got 1"),
        (lambda: DictTaskSpace({"a": 3}), TypeError, "3"),
    ],
)
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


# Pickling, gymnasium spaces, equality, repr


@all_spaces
def test_pickle_round_trip(make):
    space = make()
    space.seed(3)
    clone = pickle.loads(pickle.dumps(space))
    assert clone == space
    assert repr(clone) == repr(space)
    task = space.sample()
    assert same_task(clone.sample(), task)
    assert same_task(clone.encode(task), space.encode(task))


@enumerable_spaces
def test_enumerable_gym_space_is_discrete_over_encodings(make):
    space = make()
    gym_space = space.to_gym_space()
    assert gym_space == gym.spaces.Discrete(space.num_tasks)
    assert all(gym_space.contains(space.encode(task)) for task in space.tasks)


def test_box_gym_space():
    box = BoxTaskSpace([0.0, -1.0], 1.0, dtype=np.float64)
    assert box.to_gym_space() == gym.spaces.Box(np.array([0.0, -1.0]), np.ones(2), (2,), np.float64)


def test_composite_gym_spaces_with_box():
    box = BoxTaskSpace(0.0, 1.0, (2,))
    tuple_space = TupleTaskSpace([DiscreteTaskSpace(3), box]).to_gym_space()
    assert tuple_space == gym.spaces.Tuple([gym.spaces.Discrete(3), box.to_gym_space()])
    dict_space = DictTaskSpace({"z": box, "a": DiscreteTaskSpace(["x", "y"])}).to_gym_space()
    assert isinstance(dict_space, gym.spaces.Dict)
    assert list(dict_space.spaces) == ["z", "a"]
    assert dict_space["a"] == gym.spaces.Discrete(2)


@pytest.mark.filterwarnings("ignore:.*Casting input x to numpy array")  # float encodings of shape-() boxes
@continuous_spaces
def test_continuous_encodings_are_in_the_gym_space(make):
    space = make()
    space.seed(0)
    gym_space = space.to_gym_space()
    assert all(gym_space.contains(space.encode(space.sample())) for _ in range(20))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (DiscreteTaskSpace(3), DiscreteTaskSpace(3)),
        (DiscreteTaskSpace(["a", "b"]), DiscreteTaskSpace(("a", "b"))),
        (MultiDiscreteTaskSpace([2, 3]), MultiDiscreteTaskSpace(np.array([2, 3]))),
        (BoxTaskSpace(0.0, 1.0, (2,)), BoxTaskSpace([0.0, 0.0], [1.0, 1.0])),
        (TupleTaskSpace([DiscreteTaskSpace(2)]), TupleTaskSpace((DiscreteTaskSpace(2),))),
        (DictTaskSpace({"a": DiscreteTaskSpace(2)}), DictTaskSpace({"a": DiscreteTaskSpace(2)})),
    ],
    ids=repr,
)
def test_equal_spaces(a, b):
    assert a == b
    assert hash(a) == hash(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (DiscreteTaskSpace(3), DiscreteTaskSpace(4)),
        (DiscreteTaskSpace(3), DiscreteTaskSpace([0, 1, 2])),
        (DiscreteTaskSpace(["a", "b"]), DiscreteTaskSpace(["b", "a"])),
        (DiscreteTaskSpace([1, 2]), DiscreteTaskSpace([1.0, 2.0])),
        (MultiDiscreteTaskSpace([2, 3]), MultiDiscreteTaskSpace([3, 2])),
        (MultiDiscreteTaskSpace([2, 3]), TupleTaskSpace([DiscreteTaskSpace(2), DiscreteTaskSpace(3)])),
        (BoxTaskSpace(0.0, 1.0, (2,)), BoxTaskSpace(0.0, 2.0, (2,))),
        (BoxTaskSpace(0.0, 1.0, (2,)), BoxTaskSpace(0.0, 1.0, (2,), dtype=np.float64)),
        (BoxTaskSpace(0.0, 1.0, (2,)), BoxTaskSpace(0.0, 1.0, (1, 2))),
        (
            DictTaskSpace({"a": DiscreteTaskSpace(2), "b": DiscreteTaskSpace(3)}),
            DictTaskSpace({"b": DiscreteTaskSpace(3), "a": DiscreteTaskSpace(2)}),
        ),
        (DiscreteTaskSpace(3), 3),
    ],
    ids=repr,
)
def test_unequal_spaces(a, b):
    assert a != b


@pytest.mark.parametrize(
    ("space", "text"),
    [
        (DiscreteTaskSpace(5), "DiscreteTaskSpace(5)"),
        (DiscreteTaskSpace(["easy", "hard"]), "DiscreteTaskSpace(['easy', 'hard'])"),
        (DiscreteTaskSpace(range(1000)), "DiscreteTaskSpace([0, 1, 2, <996 more>, 999])"),
        (MultiDiscreteTaskSpace([2, ["a", "b"]]), "MultiDiscreteTaskSpace([2, ['a', 'b']])"),
        (BoxTaskSpace(0.0, 1.0, (2,)), "BoxTaskSpace(0.0, 1.0, (2,), float32)"),
        (
            TupleTaskSpace([DiscreteTaskSpace(2), BoxTaskSpace(-1, 1, ())]),
            "TupleTaskSpace([DiscreteTaskSpace(2), BoxTaskSpace(-1.0, 1.0, (), float32)])",
        ),
        (DictTaskSpace({"a": DiscreteTaskSpace(2)}), "DictTaskSpace({'a': DiscreteTaskSpace(2)})"),
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_repr(space, text):
    assert repr(space) == text


def test_box_repr_abbreviates_large_bounds():
    assert len(repr(BoxTaskSpace(np.zeros(1000), np.arange(1, 1001)))) < 100
