"""MultiagentSharedCurriculumWrapper and MultiagentIndependentCurriculumWrapper, without any sync."""

from __future__ import annotations

import numpy as np
import pytest
from sync_fixtures import RecordingCurriculum

from syllabus.core import (
    Curriculum,
    MultiagentIndependentCurriculumWrapper,
    MultiagentSharedCurriculumWrapper,
    StepBatch,
)
from syllabus.curricula import DomainRandomization
from syllabus.task_space import DictTaskSpace, DiscreteTaskSpace

AGENTS = ["a", "b", "c"]


def step_batch(rows):
    """A multi-agent step batch from rows of (task, {agent: reward}, {agent: terminated})."""
    out = []
    for task, rewards, terminated in rows:
        index = {agent: i for i, agent in enumerate(AGENTS)}
        reward_array, term, trunc = np.zeros(3), np.zeros(3, bool), np.zeros(3, bool)
        for agent, reward in rewards.items():
            reward_array[index[agent]] = reward
            term[index[agent]] = terminated.get(agent, False)
        out.append(
            (task, dict.fromkeys(rewards, 0), reward_array, term, trunc, {a: {} for a in rewards}, None)
        )
    return StepBatch(*(list(c) for c in zip(*out, strict=True)))


def test_shared_gives_each_agent_its_lane():
    recording = RecordingCurriculum()
    shared = MultiagentSharedCurriculumWrapper(recording, AGENTS)
    shared.update_on_episode({"c": 3.0, "a": 1.0}, 5, 7, None, env_id=2)
    assert dict(recording.episodes) == {6: [(7, 1.0, 5)], 8: [(7, 3.0, 5)]}
    assert shared.lane(2, "b") == 7


def test_shared_joint_policy_uses_the_env_lane():
    recording = RecordingCurriculum(step_updates=True)
    shared = MultiagentSharedCurriculumWrapper(recording, AGENTS, joint_policy=True)
    shared.update_on_episode({"a": 1.0, "b": 2.0}, 4, 9, None, env_id=1)
    assert recording.episodes[1] == [(9, 1.0, 4), (9, 2.0, 4)]
    shared.update_on_step_batch(step_batch([(9, {"a": 0.5, "b": 0.25}, {})]), env_id=1)
    assert recording.steps[1] == [(9, 0.75)]  # one joint step, the agents' summed reward


def test_shared_splits_step_batches_by_agent_present():
    recording = RecordingCurriculum(step_updates=True)
    shared = MultiagentSharedCurriculumWrapper(recording, AGENTS)
    assert shared.requires_step_updates
    batch = step_batch([(4, {"a": 1.0, "b": 2.0}, {"b": True}), (4, {"a": 0.5}, {"a": True})])
    shared.update_on_step_batch(batch, env_id=0)
    assert dict(recording.steps) == {0: [(4, 1.0), (4, 0.5)], 1: [(4, 2.0)]}


def test_shared_refuses_scalar_returns_and_unknown_agents():
    shared = MultiagentSharedCurriculumWrapper(DomainRandomization(DiscreteTaskSpace(3)), AGENTS)
    with pytest.raises(ValueError, match="per-agent returns"):
        shared.update_on_episode(1.0, 3, 0, env_id=0)
    with pytest.raises(ValueError, match="not in possible_agents"):
        shared.update_on_episode({"z": 1.0}, 3, 0, env_id=0)
    with pytest.raises(ValueError, match="distinct"):
        MultiagentSharedCurriculumWrapper(DomainRandomization(DiscreteTaskSpace(3)), ["a", "a"])


def test_shared_forwards_sampling_stats_and_state():
    inner = DomainRandomization(DiscreteTaskSpace(4), random_seed=1, record_stats=True)
    shared = MultiagentSharedCurriculumWrapper(inner, AGENTS)
    assert isinstance(shared, Curriculum) and shared.task_space == inner.task_space
    expected = DomainRandomization(DiscreteTaskSpace(4), random_seed=1).sample(5)
    assert shared.sample(5) == expected
    shared.update_on_episode({"a": 1.0, "b": 3.0}, 2, 1, env_id=0)
    assert inner.stat_recorder.state_dict()["episodes"] == 2
    state = shared.state_dict()
    restored = MultiagentSharedCurriculumWrapper(
        DomainRandomization(DiscreteTaskSpace(4), record_stats=True), AGENTS
    )
    restored.load_state_dict(state)
    assert restored.sample(3) == shared.sample(3)
    assert restored.curriculum.stat_recorder.state_dict() == inner.stat_recorder.state_dict()
    with pytest.raises(ValueError, match="DomainRandomization"):
        restored.load_state_dict(inner.state_dict())  # the state of another kind of curriculum


def test_shared_forwards_learner_updates():
    recording = RecordingCurriculum()
    MultiagentSharedCurriculumWrapper(recording, AGENTS).custom_update(1, key=2)
    assert recording.custom == [((1,), {"key": 2})]


def test_independent_samples_a_task_per_agent_and_routes_updates():
    recordings = {a: RecordingCurriculum() for a in AGENTS}
    independent = MultiagentIndependentCurriculumWrapper(recordings)
    assert isinstance(independent.task_space, DictTaskSpace)
    tasks = independent.sample(2)
    assert tasks == [{a: 0 for a in AGENTS}, {a: 1 for a in AGENTS}]
    assert independent.task_space.contains(tasks[0])
    independent.update_on_episode({"a": 1.0, "b": 2.0, "c": 3.0}, 6, {"a": 0, "b": 5, "c": 9}, None, env_id=4)
    assert recordings["a"].episodes[4] == [(0, 1.0, 6)]
    assert recordings["b"].episodes[4] == [(5, 2.0, 6)]
    assert recordings["c"].episodes[4] == [(9, 3.0, 6)]


def test_independent_step_updates_go_only_to_curricula_that_need_them():
    recordings = {
        "a": RecordingCurriculum(step_updates=True),
        "b": RecordingCurriculum(),
        "c": RecordingCurriculum(),
    }
    independent = MultiagentIndependentCurriculumWrapper(recordings)
    assert independent.requires_step_updates
    task = {"a": 1, "b": 2, "c": 3}
    independent.update_on_step_batch(step_batch([(task, {"a": 0.5, "b": 1.0}, {})]), env_id=0)
    assert recordings["a"].steps[0] == [(1, 0.5)]
    assert not recordings["b"].steps


def test_independent_state_round_trips_and_refuses_shared_objects():
    def make(seed):
        return {
            a: DomainRandomization(DiscreteTaskSpace(9), random_seed=seed + i) for i, a in enumerate(AGENTS)
        }

    one = MultiagentIndependentCurriculumWrapper(make(0))
    two = MultiagentIndependentCurriculumWrapper(make(100))
    two.load_state_dict(one.state_dict())
    assert two.sample(4) == one.sample(4)
    same = DomainRandomization(DiscreteTaskSpace(9))
    with pytest.raises(ValueError, match="its own curriculum"):
        MultiagentIndependentCurriculumWrapper({"a": same, "b": same})
