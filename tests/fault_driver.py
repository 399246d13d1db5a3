"""Runs the ``syllabus`` CLI with a fault injected, for tests/test_cli_faults.py.

The fault comes from the environment variable ``SYLLABUS_TEST_FAULT``, ``KIND:INDEX:AT``:

``kill:I:N``        env I SIGKILLs its own process at its N-th step (a dead env worker or actor)
``raise:I:N``       env I raises ``RuntimeError("injected fault")`` at its N-th step
``build:I:0``       env I raises ``RuntimeError("injected fault")`` while it is built
``curriculum:0:N``  the curriculum raises at its N-th episode update
``nan:I:N``         env I returns a NaN reward at its N-th step

The env factories defined here are pickled by value (this file runs as ``__main__``), so the fault
reaches the env in a worker process under fork, forkserver and spawn, and in a Ray actor.
"""

from __future__ import annotations

import os
import signal
import time
from functools import partial
from typing import Any

import gymnasium as gym

KIND, INDEX, AT = os.environ["SYLLABUS_TEST_FAULT"].split(":")
INDEX_, AT_ = int(INDEX), int(AT)


def stamp() -> None:
    """Writes the time of the fault to ``SYLLABUS_TEST_FAULT_STAMP`` (the test measures the stop time from it)."""
    path = os.environ.get("SYLLABUS_TEST_FAULT_STAMP")
    if path:
        with open(path, "w") as f:
            f.write(repr(time.time()))
            f.flush()
            os.fsync(f.fileno())


class Faulty(gym.Wrapper):
    """Injects the fault into env INDEX of the vector env."""

    def __init__(self, env: gym.Env, index: int) -> None:
        super().__init__(env)
        self.index = index
        self.steps = 0

    def step(self, action: Any) -> Any:
        self.steps += 1
        if self.index == INDEX_ and self.steps == AT_:
            stamp()
            if KIND == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if KIND == "raise":
                raise RuntimeError("injected fault")
            if KIND == "nan":
                obs, _, terminated, truncated, info = self.env.step(action)
                return obs, float("nan"), terminated, truncated, info
        return self.env.step(action)


def faulty_env(env_fn: Any, index: int) -> gym.Env:
    """Builds env ``index`` with the fault (``build`` raises here)."""
    if KIND == "build" and index == INDEX_:
        stamp()
        raise RuntimeError("injected fault")
    return Faulty(env_fn(), index)


def with_faults(env_fns: list[Any]) -> list[Any]:
    return [partial(faulty_env, env_fn, index) for index, env_fn in enumerate(env_fns)]


def patch() -> None:
    """Wraps the runner's env factories (and its curriculum) so that the fault happens."""
    # The sync entries (cli/syncs/) import these from the library when they build the envs.
    import syllabus.cli.pipeline.build as build

    import syllabus.integrations.env_guard as env_guard
    import syllabus.integrations.sb3_vec_env as sb3_vec_env

    guard_env_fns = env_guard.guard_env_fns
    env_guard.guard_env_fns = lambda env_fns: guard_env_fns(with_faults(env_fns))

    class FaultySubprocVecEnv(sb3_vec_env.GuardedSubprocVecEnv):
        def __init__(self, env_fns: list[Any], *args: Any, **kwargs: Any) -> None:
            super().__init__(with_faults(env_fns), *args, **kwargs)

    sb3_vec_env.GuardedSubprocVecEnv = FaultySubprocVecEnv
    if KIND == "curriculum":
        make_curriculum = build.make_curriculum

        def faulty_curriculum(*args: Any, **kwargs: Any) -> Any:
            curriculum = make_curriculum(*args, **kwargs)
            update = curriculum.update_on_episode
            count = [0]

            def update_on_episode(*a: Any, **k: Any) -> Any:
                count[0] += 1
                if count[0] == AT_:
                    stamp()
                    raise RuntimeError("injected curriculum fault")
                return update(*a, **k)

            curriculum.update_on_episode = update_on_episode
            return curriculum

        build.make_curriculum = faulty_curriculum


if __name__ == "__main__":
    patch()
    from syllabus.cli.app import main

    main()
