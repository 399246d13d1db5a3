"""Every curriculum served through the multiprocessing sync to real env processes (short, bounded runs)."""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import numpy as np
import pytest
from sync_fixtures import CountingEnv

from syllabus.core import MultiProcessingSyncWrapper, make_multiprocessing_curriculum
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
from syllabus.task_space import BoxTaskSpace, DiscreteTaskSpace

DISCRETE = DiscreteTaskSpace(10)
BOX = BoxTaskSpace(0.0, 1.0, shape=())
CURRICULA = {
    "constant": lambda: Constant(3, DISCRETE, record_stats=True),
    "domain_randomization": lambda: DomainRandomization(DISCRETE, record_stats=True),
    "domain_randomization_box": lambda: DomainRandomization(BOX, record_stats=True),
    "sequential": lambda: SequentialCurriculum([[0, 1], 5], DISCRETE, ["episodes>=10"], record_stats=True),
    "plr": lambda: PrioritizedLevelReplay(DISCRETE, record_stats=True),
    "robust_plr": lambda: PrioritizedLevelReplay(DISCRETE, robust=True, record_stats=True),
    "learning_progress": lambda: LearningProgress(DISCRETE, record_stats=True),
    "learnability": lambda: Learnability(DISCRETE, record_stats=True),
    "simulated_annealing": lambda: SimulatedAnnealing(BOX, 0.1, 0.9, total_steps=100, record_stats=True),
    "expanding_box": lambda: ExpandingBox(BOX, 0.4, 0.6, window=5, record_stats=True),
}
EPISODES = 40


def make_env(space, task_queue, update_queue):
    return MultiProcessingSyncWrapper(CountingEnv(space), task_queue, update_queue)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(CURRICULA))
def test_curriculum_serves_env_processes(name):
    inner = CURRICULA[name]()
    space = inner.task_space
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(inner)
    delivered = []
    with curriculum:
        venv = gym.vector.AsyncVectorEnv(
            [partial(make_env, space, task_queue, update_queue)] * 2, context="fork"
        )
        try:
            _, info = venv.reset(seed=0)
            delivered.extend(info["task"])
            episodes = 0
            while episodes < EPISODES:
                _, _, terminated, truncated, info = venv.step(np.zeros(2, dtype=np.int64))
                episodes += int(np.sum(terminated | truncated))
                if "task" in info:
                    delivered.extend(np.asarray(info["task"])[info["_task"]])
                if "task_metadata" in info:
                    assert name == "robust_plr" or name == "plr"
            if isinstance(inner, PrioritizedLevelReplay):  # the learner-side update, through the wrapper
                tasks = np.array([[space.encode(int(t))] for t in delivered[:8]])
                zeros = np.zeros_like(tasks, dtype=np.float32)
                ones = zeros + 1  # every step ends an episode of its own task
                curriculum.custom_update(tasks, ones, ones, zeros, np.zeros(1, np.float32))
        finally:
            venv.close()
    assert inner.stat_recorder.episodes >= EPISODES
    assert all(space.contains(task.item() if isinstance(task, np.generic) else task) for task in delivered)
    assert curriculum.metrics()["stats/episodes"] >= EPISODES
    if name == "sequential":
        assert inner.current_stage == 1 and 5 in [int(t) for t in delivered]
    if name == "simulated_annealing":
        assert inner.sample()[0] == pytest.approx(0.9)
    if name == "expanding_box":
        assert inner.expansions >= 1
    if name in ("plr", "robust_plr"):
        assert np.isfinite(inner.scores).sum() >= 1
