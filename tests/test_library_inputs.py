"""Bad input to the library fails at once with a message that says what is valid (issue #19's smaller items)."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

from syllabus.core import EnvWorkerError
from syllabus.curricula import Constant, DomainRandomization, PrioritizedLevelReplay, SequentialCurriculum
from syllabus.integrations.sb3_vec_env import _GuardedRemote
from syllabus.integrations.vec_env_worker import WORKER_ERROR
from syllabus.task_space import DiscreteTaskSpace


def test_discrete_task_space_rejects_nan():
    with pytest.raises(ValueError, match="NaN cannot be a task"):
        DiscreteTaskSpace([0.1, float("nan")])


@pytest.mark.parametrize(
    "make",
    [
        lambda space: DomainRandomization(space),
        lambda space: Constant(0, space),
        lambda space: PrioritizedLevelReplay(space),
        lambda space: SequentialCurriculum([0, 1], space, ["steps>=10"]),
    ],
    ids=["dr", "constant", "plr", "sequential"],
)
def test_sample_of_a_negative_count_is_a_clear_error(make):
    curriculum = make(DiscreteTaskSpace(3))
    with pytest.raises(
        ValueError, match=r"k must be an integer >= 0 \(the number of tasks to sample\), got -1"
    ):
        curriculum.sample(-1)
    assert curriculum.sample(0) == []


def test_plr_rejects_string_rewards():
    plr = PrioritizedLevelReplay(DiscreteTaskSpace(3))
    tasks, zeros = np.zeros((4, 2), dtype=int), np.zeros((4, 2))
    with pytest.raises(ValueError, match="rewards must be an array of numbers, got dtype <U1"):
        plr.custom_update(tasks, np.full((4, 2), "1"), zeros, zeros, np.zeros(2))


def _send_error_and_exit(remote) -> None:
    remote.send((WORKER_ERROR, "ValueError", "no such env", "Traceback (most recent call last): ..."))


def test_a_worker_error_already_in_the_pipe_is_reported_not_a_bare_death():
    """The learner's send to a worker that failed while building its env breaks the pipe: the error the
    worker sent before it ended is what the learner reports, not "env 1 died"."""
    ctx = mp.get_context("fork")
    conn, work_remote = ctx.Pipe()
    process = ctx.Process(target=_send_error_and_exit, args=(work_remote,))
    process.start()
    work_remote.close()
    process.join()
    remote = _GuardedRemote(conn, process, 1, timeout=10.0)
    with pytest.raises(
        EnvWorkerError, match="env 1 raised ValueError in its worker process: no such env"
    ) as info:
        remote.send(("get_spaces", None))
        remote.recv()
    assert info.value.index == 1
    conn.close()
