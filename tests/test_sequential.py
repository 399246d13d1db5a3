"""Tests of SequentialCurriculum and its stopping conditions."""

from collections import defaultdict
from functools import partial

import gymnasium as gym
import numpy as np
import pytest
from sync_fixtures import make_counting_env
from timeouts import scaled

from syllabus.core import make_multiprocessing_curriculum
from syllabus.core.curriculum import Curriculum, StepBatch
from syllabus.core.errors import CurriculumError
from syllabus.curricula.constant import Constant
from syllabus.curricula.domain_randomization import DomainRandomization
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.curricula.sequential import SequentialCurriculum
from syllabus.curricula.stop_conditions import And, Comparison, Or, parse_condition
from syllabus.task_space import BoxTaskSpace, DiscreteTaskSpace, TaskSpaceError

SPACE = DiscreteTaskSpace(5)


def _sequential(conditions, stages=None, **kwargs):
    stages = stages if stages is not None else list(range(len(conditions) + 1))
    return SequentialCurriculum(stages, SPACE, conditions, **kwargs)


def _episode(curriculum, episode_return=0.0, length=1):
    curriculum.update_on_episode(episode_return, length, curriculum.sample()[0])


class Recorder(Curriculum):
    """A stage curriculum that records the updates it receives."""

    REQUIRES_STEP_UPDATES = True

    def __init__(self, task_space, task):
        super().__init__(task_space)
        self.task = task
        self.calls = []

    def sample(self, k=1):
        return [self.task] * k

    def update_on_episode(self, episode_return, length, task, progress=None, env_id=None):
        self.calls.append(("episode", episode_return, length, task))

    def update_on_step(self, task, obs, reward, terminated, truncated, info, progress=None, env_id=None):
        self.calls.append(("step", task, reward, env_id))

    def update_on_step_batch(self, batch, env_id=None):
        self.calls.append(("batch", len(batch.tasks), env_id))

    def update_task_progress(self, task, progress, env_id=None):
        self.calls.append(("progress", task, progress))

    def custom_update(self, *args, **kwargs):
        self.calls.append(("custom", args, kwargs))


# ---------------------------------------------------------------- advancement
def test_episodes_advance_exactly_at_threshold():
    curriculum = _sequential(["episodes>=3"])
    for _ in range(2):
        _episode(curriculum)
    assert curriculum.current_stage == 0
    _episode(curriculum)
    assert curriculum.current_stage == 1
    assert curriculum.sample(4) == [1, 1, 1, 1]


def test_steps_count_episode_lengths():
    curriculum = _sequential(["steps>=10"])
    _episode(curriculum, length=4)
    _episode(curriculum, length=5)
    assert curriculum.current_stage == 0
    _episode(curriculum, length=1)
    assert curriculum.current_stage == 1


def test_tasks_count_samples_and_a_batch_comes_from_one_stage():
    curriculum = _sequential(["tasks>=3"])
    assert curriculum.sample() == [0]
    assert curriculum.sample() == [0]
    assert curriculum.current_stage == 0
    assert curriculum.sample() == [0]
    assert curriculum.current_stage == 1
    assert curriculum.sample(2) == [1, 1]


def test_sample_with_metadata_counts_tasks():
    curriculum = _sequential(["tasks>=2"])
    assert curriculum.sample_with_metadata(2) == [(0, None), (0, None)]
    assert curriculum.current_stage == 1


def test_episode_return_is_false_before_any_episode():
    curriculum = _sequential(["episode_return<1"])
    curriculum.sample(10)
    assert curriculum.current_stage == 0
    assert "episode_return" not in curriculum.stopping_metrics()
    _episode(curriculum, episode_return=0.0)
    assert curriculum.current_stage == 1


def test_episode_return_averages_over_the_return_window():
    windowed = _sequential(["episode_return<0.5"], return_window=2)
    unwindowed = _sequential(["episode_return<0.5"])
    for episode_return, windowed_stage in [(1.0, 0), (1.0, 0), (0.0, 0), (0.0, 1)]:
        _episode(windowed, episode_return)
        _episode(unwindowed, episode_return)
        assert windowed.current_stage == windowed_stage
    assert unwindowed.current_stage == 0
    assert unwindowed.stopping_metrics()["episode_return"] == pytest.approx(0.5)


def test_stage_metrics_restart_with_each_stage():
    curriculum = _sequential(["episodes>=2", "episodes>=2"])
    for expected_stage in [0, 1, 1, 2]:
        _episode(curriculum, episode_return=float(expected_stage), length=3)
        assert curriculum.current_stage == expected_stage
    metrics = curriculum.stopping_metrics()
    assert (metrics["episodes"], metrics["steps"], metrics["tasks"]) == (0, 0, 0)
    assert (metrics["total_episodes"], metrics["total_steps"], metrics["total_tasks"]) == (4, 12, 4)
    assert "episode_return" not in metrics


@pytest.mark.parametrize(
    "condition, drive",
    [
        ("total_episodes>=3", lambda c: c.update_on_episode(0.0, 1, 0)),
        ("total_steps>=3", lambda c: c.update_on_episode(0.0, 1, 0)),
        ("total_tasks>=3", lambda c: c.sample()),
    ],
)
def test_total_metrics_count_since_construction(condition, drive):
    curriculum = _sequential(["episodes>=2 | tasks>=2", condition])
    drive(curriculum)
    drive(curriculum)
    assert curriculum.current_stage == 1
    drive(curriculum)
    assert curriculum.current_stage == 2


@pytest.mark.parametrize(
    "condition, advances_after",
    [("episodes>2", 3), ("episodes>=2", 2), ("episodes==2", 2), ("episodes=2", 2), ("episodes>=1.5", 2)],
)
def test_operators_advance_at_the_right_episode(condition, advances_after):
    curriculum = _sequential([condition])
    for _ in range(advances_after - 1):
        _episode(curriculum)
    assert curriculum.current_stage == 0
    _episode(curriculum)
    assert curriculum.current_stage == 1


@pytest.mark.parametrize(
    "condition, value, expected",
    [
        ("episodes<2", 1, True),
        ("episodes<2", 2, False),
        ("episodes<=2", 2, True),
        ("episodes<=2", 3, False),
        ("episodes==2", 2, True),
        ("episodes=2", 3, False),
        ("episodes>=2", 1, False),
        ("episodes>2", 3, True),
        ("episodes > -0.5e1", -5, False),
    ],
)
def test_comparison_operators(condition, value, expected):
    assert parse_condition(condition)({"episodes": value}) is expected


def test_several_conditions_can_hold_at_once():
    curriculum = _sequential(["episodes>=1", "total_episodes>=1", "tasks>=1"])
    _episode(curriculum)
    assert curriculum.current_stage == 2
    assert curriculum.sample() == [2]
    assert curriculum.current_stage == 3


def test_last_stage_stays_forever():
    curriculum = _sequential(["episodes>=1"])
    for _ in range(50):
        _episode(curriculum, episode_return=100.0, length=100)
    assert curriculum.current_stage == 1
    assert set(curriculum.sample(100)) == {1}


def test_a_single_stage_needs_no_condition():
    curriculum = SequentialCurriculum([3], SPACE, [])
    _episode(curriculum)
    assert curriculum.current_stage == 0
    assert curriculum.sample(3) == [3, 3, 3]


# ------------------------------------------------------------------ conditions
def test_and_binds_tighter_than_or():
    condition = parse_condition("episodes>=1 | steps>=1 & tasks>=1")
    assert condition == Or(
        Comparison("episodes", ">=", 1), And(Comparison("steps", ">=", 1), Comparison("tasks", ">=", 1))
    )
    assert condition({"episodes": 1, "steps": 0, "tasks": 0})
    assert not condition({"episodes": 0, "steps": 1, "tasks": 0})
    assert condition({"episodes": 0, "steps": 1, "tasks": 1})


def test_parentheses_group():
    condition = parse_condition("(episodes>=1 | steps>=1) & tasks>=1")
    assert not condition({"episodes": 1, "steps": 0, "tasks": 0})
    assert condition({"episodes": 1, "steps": 0, "tasks": 1})


def test_precedence_drives_advancement():
    curriculum = _sequential(["tasks>=100 | episodes>=2 & steps>=10"])
    _episode(curriculum, length=1)
    _episode(curriculum, length=1)
    assert curriculum.current_stage == 0
    _episode(curriculum, length=8)
    assert curriculum.current_stage == 1


def test_whitespace_is_free():
    assert parse_condition("  episodes >=3&steps< 4 |tasks ==  1 ") == parse_condition(
        "episodes>=3 & steps<4 | tasks==1"
    )


def test_condition_objects_combine_with_and_or():
    episodes, steps = Comparison("episodes", ">=", 2), Comparison("steps", ">=", 10)
    curriculum = _sequential([episodes & steps, "episodes>=1", episodes | steps])
    _episode(curriculum, length=9)
    _episode(curriculum, length=0)
    assert curriculum.current_stage == 0
    _episode(curriculum, length=1)
    assert curriculum.current_stage == 1
    _episode(curriculum, length=10)
    assert curriculum.current_stage == 2
    _episode(curriculum, length=10)
    assert curriculum.current_stage == 3


@pytest.mark.parametrize(
    "text",
    ["episodes>=1 | steps>=1 & tasks>=1", "(episodes>=1 | steps>=1) & tasks>=1", "episode_return>-0.25"],
)
def test_condition_str_parses_back(text):
    condition = parse_condition(text)
    assert parse_condition(str(condition)) == condition


def test_comparison_normalizes_equals():
    assert Comparison("episodes", "=", 3) == Comparison("episodes", "==", 3.0)


@pytest.mark.parametrize(
    "args, error, match",
    [
        (("episode", ">=", 1), ValueError, "unknown metric 'episode'.*valid metrics: episodes"),
        (("episodes", "!=", 1), ValueError, "unknown operator '!='.*valid operators"),
        (("episodes", ">=", "1"), TypeError, "must be a number"),
        (("episodes", ">=", float("nan")), ValueError, "finite"),
    ],
)
def test_bad_comparison_is_rejected(args, error, match):
    with pytest.raises(error, match=match):
        Comparison(*args)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("foo>1", "unknown metric 'foo'"),
        ("episodes=>1", "unknown operator '=>'"),
        ("episodes!=1", "unknown operator '!='"),
        ("episodes>", "expected a number after 'episodes >' at the end"),
        ("episodes>abc", "expected a number after 'episodes >', got 'abc'"),
        ("episodes", "expected an operator after 'episodes' at the end"),
        ("episodes 3", "expected an operator after 'episodes', got '3'"),
        ("episodes>1&", "expected a metric name at the end"),
        ("episodes>1 |", "expected a metric name at the end"),
        ("& episodes>1", "expected a metric name at position 0, got '&'"),
        ("10<episodes", "expected a metric name at position 0, got '10'"),
        ("episodes>1 steps>2", "unexpected 'steps' at position 11 \\(expected & or \\|\\)"),
        ("(episodes>1", "expected '\\)' at the end"),
        ("(episodes>1 & steps>1 tasks>1)", "expected '\\)' at position 22, got 'tasks'"),
        ("episodes>1)", "unexpected '\\)'"),
        ("episodes#1", "unexpected character '#' at position 8"),
        ("", "the condition is empty"),
        ("   ", "the condition is empty"),
    ],
)
def test_malformed_condition_is_rejected_at_construction(text, problem):
    with pytest.raises(ValueError, match=problem) as info:
        _sequential([text])
    message = str(info.value)
    assert repr(text) in message
    assert (
        "valid metrics: episodes, steps, tasks, episode_return, total_episodes, total_steps, total_tasks"
        in message
    )
    assert "valid operators: < <= == = >= >" in message


@pytest.mark.parametrize("conditions", [[], ["episodes>=1", "episodes>=2"]])
def test_wrong_number_of_conditions_is_rejected(conditions):
    with pytest.raises(ValueError, match=f"2 stages need 1 stopping conditions.*got {len(conditions)}"):
        SequentialCurriculum([0, 1], SPACE, conditions)


def test_single_condition_not_in_a_list_is_rejected():
    with pytest.raises(TypeError, match="list"):
        SequentialCurriculum([0, 1], SPACE, "episodes>=1")


def test_non_string_condition_is_rejected():
    with pytest.raises(TypeError, match="string or a Condition"):
        SequentialCurriculum([0, 1], SPACE, [5])


def test_no_stages_is_rejected():
    with pytest.raises(ValueError, match="at least one stage"):
        SequentialCurriculum([], SPACE, [])


@pytest.mark.parametrize("window", [0, -1, 2.5, True])
def test_bad_return_window_is_rejected(window):
    with pytest.raises(ValueError, match="return_window must be an integer >= 1"):
        _sequential(["episodes>=1"], return_window=window)


# ---------------------------------------------------------------------- stages
def test_list_stage_is_uniform_over_its_tasks():
    space = DiscreteTaskSpace(["a", "b", "c", "d"])
    curriculum = SequentialCurriculum(["a", ["b", "c"]], space, ["episodes>=1"], random_seed=0)
    curriculum.update_on_episode(0.0, 1, "a")
    samples = curriculum.sample(4000)
    assert set(samples) == {"b", "c"}
    assert samples.count("b") == pytest.approx(2000, rel=0.1)
    np.testing.assert_allclose(curriculum.task_distribution(), [0.0, 0.5, 0.5, 0.0])


def test_list_stage_returns_the_original_task_values():
    curriculum = SequentialCurriculum([[0.25, 0.75]], BoxTaskSpace(0.0, 1.0), [], random_seed=0)
    assert set(curriculum.sample(100)) == {0.25, 0.75}
    assert curriculum.task_distribution() is None


def test_single_task_stage_is_constant():
    space = DiscreteTaskSpace(["a", "b", "c"])
    curriculum = SequentialCurriculum(["c", "a"], space, ["tasks>=5"])
    assert curriculum.sample(5) == ["c"] * 5
    np.testing.assert_array_equal(curriculum.task_distribution(), [1.0, 0.0, 0.0])


def test_curriculum_stage_is_sampled():
    curriculum = SequentialCurriculum([DomainRandomization(SPACE, random_seed=0), 4], SPACE, ["tasks>=500"])
    np.testing.assert_allclose(curriculum.task_distribution(), np.full(5, 0.2))
    assert set(curriculum.sample(500)) == set(range(5))
    assert curriculum.sample(3) == [4, 4, 4]


def test_curriculum_stage_over_a_subspace_is_mapped_onto_the_full_space():
    space = DiscreteTaskSpace(["a", "b", "c"])
    stage = Constant("c", DiscreteTaskSpace(["c", "a"]))
    curriculum = SequentialCurriculum([stage], space, [])
    np.testing.assert_array_equal(curriculum.task_distribution(), [0.0, 0.0, 1.0])


@pytest.mark.parametrize(
    "stages, match",
    [
        ([0, 7], "stage 1: .*7"),
        ([[0, 1], [2, 9]], "stage 1: .*9"),
        ([[]], "stage 0: .*at least one task"),
        ([DomainRandomization(DiscreteTaskSpace(8))], "stage 0: .*\\[5, 6, 7\\]"),
    ],
)
def test_stage_with_tasks_outside_the_space_is_rejected(stages, match):
    with pytest.raises(ValueError, match=match) as info:
        SequentialCurriculum(stages, SPACE, ["episodes>=1"] * (len(stages) - 1))
    if stages != [[]]:
        assert isinstance(info.value, TaskSpaceError)


def test_list_stages_are_reproducible_with_seed():
    def make(seed):
        return SequentialCurriculum([[0, 1, 2], [3, 4]], SPACE, ["tasks>=20"], random_seed=seed)

    a, b = make(3), make(3)
    assert [a.sample() for _ in range(40)] == [b.sample() for _ in range(40)]
    assert make(3).sample(20) != make(4).sample(20)


# --------------------------------------------------------------------- updates
def test_updates_are_forwarded_to_the_current_stage():
    first, second = Recorder(SPACE, 0), Recorder(SPACE, 1)
    curriculum = SequentialCurriculum([first, second], SPACE, ["episodes>=1"])
    assert curriculum.requires_step_updates
    batch = StepBatch([0, 0], [None, None], [0.0, 1.0], [False, True], [False, False], [{}, {}], [None, None])

    curriculum.update_on_step(0, "obs", 0.5, False, False, {}, env_id=3)
    curriculum.update_on_step_batch(batch, env_id=2)
    curriculum.update_task_progress(0, 0.25)
    curriculum.custom_update("values", scale=2)
    curriculum.update_on_episode(1.0, 2, 0)
    curriculum.update_task_progress(1, 0.5)

    assert first.calls == [
        ("step", 0, 0.5, 3),
        ("batch", 2, 2),
        ("progress", 0, 0.25),
        ("custom", ("values",), {"scale": 2}),
        ("episode", 1.0, 2, 0),
    ]
    assert second.calls == [("progress", 1, 0.5)]


def test_requires_step_updates_only_when_a_stage_does():
    assert not _sequential(["episodes>=1"]).requires_step_updates
    assert SequentialCurriculum([0, Recorder(SPACE, 1)], SPACE, ["episodes>=1"]).requires_step_updates


def test_custom_update_raises_for_stages_without_it():
    with pytest.raises(CurriculumError, match="custom_update"):
        _sequential(["episodes>=1"]).custom_update([1.0])


def test_stats_are_recorded_with_record_stats():
    curriculum = _sequential(["episodes>=1"], record_stats=True)
    curriculum.update_on_episode(2.0, 3, 0)
    curriculum.update_on_episode(4.0, 3, 1)
    assert curriculum.stat_recorder.episodes == 2
    assert curriculum.stat_recorder.mean_return(1) == pytest.approx(4.0)


def test_metrics_report_the_stage():
    curriculum = _sequential(["episodes>=1"])
    assert curriculum.metrics()["curriculum/stage"] == 0.0
    _episode(curriculum)
    metrics = curriculum.metrics()
    assert metrics["curriculum/stage"] == 1.0
    assert metrics["curriculum/task_1_prob"] == 1.0


# ----------------------------------------------------------------------- state
def _mid_sequence(seed):
    stages = [DomainRandomization(SPACE, random_seed=seed), [2, 3, 4], [0, 1]]
    return SequentialCurriculum(
        stages,
        SPACE,
        ["episodes>=2", "episode_return>=1 & tasks>=6"],
        random_seed=seed,
        return_window=3,
        record_stats=True,
    )


def test_state_dict_round_trip_mid_sequence():
    original = _mid_sequence(seed=1)
    for episode_return in [0.0, 0.0, 3.0, 0.0]:
        _episode(original, episode_return, length=2)
    assert original.current_stage == 1
    state = original.state_dict()

    restored = _mid_sequence(seed=2)
    restored.load_state_dict(state)
    assert restored.current_stage == 1
    assert restored.stopping_metrics() == original.stopping_metrics()
    assert restored.stat_recorder.episodes == 4
    for _ in range(3):
        assert restored.sample(2) == original.sample(2)
        assert restored.current_stage == original.current_stage
    assert restored.current_stage == 2
    assert restored.sample(10) == original.sample(10)


def test_state_dict_keeps_the_return_window():
    original = _sequential(["episode_return<0.5"], return_window=2)
    _episode(original, 1.0)
    _episode(original, 1.0)
    restored = _sequential(["episode_return<0.5"])
    restored.load_state_dict(original.state_dict())
    _episode(restored, 0.0)
    assert restored.current_stage == 0
    _episode(restored, 0.0)
    assert restored.current_stage == 1


def test_load_state_dict_rejects_a_different_number_of_stages():
    with pytest.raises(ValueError, match="3 stages.*2"):
        _sequential(["episodes>=1"]).load_state_dict(_sequential(["episodes>=1", "episodes>=1"]).state_dict())


# -------------------------------------------------- subclass hooks, through the sync
class OddTasks(SequentialCurriculum):
    """Overrides ``sample``: every stage's task ``t`` becomes ``t | 1``."""

    def sample(self, k=1):
        return [task | 1 for task in super().sample(k)]


class LastTaskOfStage(SequentialCurriculum):
    """Overrides ``task_distribution``: all mass on the highest task of the stage's distribution."""

    def task_distribution(self):
        dist = np.zeros(self.num_tasks)
        dist[np.flatnonzero(super().task_distribution())[-1]] = 1.0
        return dist


class StepCounting(SequentialCurriculum):
    """Sets ``REQUIRES_STEP_UPDATES`` and overrides ``update_on_step`` and ``update_on_episode``."""

    REQUIRES_STEP_UPDATES = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = defaultdict(list)
        self.episodes = defaultdict(list)

    def update_on_step(self, task, obs, reward, terminated, truncated, info, progress=None, env_id=None):
        self.steps[env_id].append((task, reward, terminated or truncated))
        super().update_on_step(task, obs, reward, terminated, truncated, info, progress, env_id)

    def update_on_episode(self, episode_return, length, task, progress=None, env_id=None):
        self.episodes[env_id].append((task, episode_return, length))
        super().update_on_episode(episode_return, length, task, progress, env_id)


def _through_multiprocessing_sync(curriculum, episodes):
    """Runs two CountingEnv processes synced to ``curriculum`` until ``episodes`` episodes ended;
    returns the tasks delivered (in order of reset) and the reset infos' task metadata."""
    wrapper, task_queue, update_queue = make_multiprocessing_curriculum(curriculum, timeout=scaled(30))
    delivered, metadata = [], []
    with wrapper:
        venv = gym.vector.AsyncVectorEnv(
            [partial(make_counting_env, task_queue, update_queue)] * 2, context="fork"
        )
        try:
            _, info = venv.reset(seed=0)
            delivered.extend(int(t) for t in info["task"])
            done = 0
            while done < episodes:
                _, _, terminated, truncated, info = venv.step(np.zeros(2, dtype=np.int64))
                done += int(np.sum(terminated | truncated))
                if "task" in info:
                    delivered.extend(int(t) for t in np.asarray(info["task"])[info["_task"]])
                if "task_metadata" in info:
                    metadata.append(info["task_metadata"])
        finally:
            venv.close()
    return delivered, metadata


def assert_served_in_stages(delivered: list[int], first: set[int], count: int, then: set[int]) -> None:
    """The first ``count`` tasks served are from ``first``, every later one from ``then``.

    ``delivered`` is in the order the learner sees the resets: two envs that reset in the same step
    are seen in env order, not in the order they took their tasks, so the two tasks at the stage
    boundary may appear swapped.
    """
    assert sum(task in first for task in delivered) == count, delivered
    assert set(delivered[: count - 1]) <= first and set(delivered[count + 1 :]) <= then, delivered
    assert set(delivered) == first | then, delivered


@pytest.mark.timeout(60)
def test_a_subclass_sample_override_is_what_the_sync_delivers():
    curriculum = OddTasks([[0, 1, 2, 3], [4, 5, 6, 7]], DiscreteTaskSpace(10), ["tasks>=12"], random_seed=0)
    delivered, _ = _through_multiprocessing_sync(curriculum, episodes=30)
    # Stage 0 through the override; its super().sample() kept counting and advanced to stage 1.
    assert_served_in_stages(delivered, {1, 3}, 12, {5, 7})
    assert curriculum.current_stage == 1


@pytest.mark.timeout(60)
def test_a_subclass_task_distribution_override_is_what_the_sync_samples():
    curriculum = LastTaskOfStage([[0, 1, 2], [4, 5, 6]], DiscreteTaskSpace(10), ["tasks>=6"], random_seed=0)
    delivered, _ = _through_multiprocessing_sync(curriculum, episodes=20)
    assert_served_in_stages(delivered, {2}, 6, {6})


@pytest.mark.timeout(60)
def test_a_subclass_step_hook_gets_every_step_through_the_sync():
    curriculum = StepCounting([[0, 1], [2, 3]], DiscreteTaskSpace(10), ["episodes>=6"], random_seed=0)
    assert curriculum.requires_step_updates  # the class flag, although no stage needs steps
    _through_multiprocessing_sync(curriculum, episodes=16)
    assert sum(map(len, curriculum.episodes.values())) >= 16
    for env_id, episodes in curriculum.episodes.items():
        steps = curriculum.steps[env_id]
        for task, episode_return, length in episodes:  # each episode's steps, in order
            episode, steps = steps[:length], steps[length:]
            assert [s[0] for s in episode] == [task] * length and episode[-1][2]
            assert sum(s[1] for s in episode) == episode_return
    assert curriculum.current_stage == 1


@pytest.mark.timeout(60)
def test_without_overrides_stage_metadata_reaches_the_env():
    stage = PrioritizedLevelReplay(DiscreteTaskSpace(10), robust=True, random_seed=0)
    curriculum = SequentialCurriculum([stage, 5], DiscreteTaskSpace(10), ["episodes>=1000"])
    _, metadata = _through_multiprocessing_sync(curriculum, episodes=10)
    assert metadata and all(set(m) >= {"replay", "train"} for m in metadata)


def test_step_batches_go_to_the_stage_unless_update_on_step_is_overridden():
    batch = StepBatch([0, 0], [None, None], [0.0, 1.0], [False, True], [False, False], [{}, {}], [None, None])
    first = Recorder(SPACE, 0)
    plain = SequentialCurriculum([first, 1], SPACE, ["episodes>=1"])
    plain.update_on_step_batch(batch, env_id=2)
    assert first.calls == [("batch", 2, 2)]

    first = Recorder(SPACE, 0)
    counting = StepCounting([first, 1], SPACE, ["episodes>=1"])
    counting.update_on_step_batch(batch, env_id=2)
    assert counting.steps[2] == [(0, 0.0, False), (0, 1.0, True)]
    assert first.calls == [
        ("step", 0, 0.0, 2),
        ("step", 0, 1.0, 2),
    ]  # the override's super() reaches the stage


def test_requires_step_updates_from_the_class_flag():
    assert StepCounting([0, 1], SPACE, ["episodes>=1"]).requires_step_updates
    assert not SequentialCurriculum([0, 1], SPACE, ["episodes>=1"]).requires_step_updates
