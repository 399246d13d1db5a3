"""The worker process of [`GuardedSubprocVecEnv`][syllabus.integrations.sb3_vec_env.GuardedSubprocVecEnv].

It answers the commands of Stable-Baselines3's ``SubprocVecEnv`` (step with auto-reset, reset, render,
close, get_spaces, env_method, get_attr, has_attr, set_attr, is_wrapped) as SB3's own worker loop
does (``is_wrapped`` takes the wrapper class by name), but imports neither SB3 nor torch itself. A
worker then loads only what its env needs: ``syllabus train``'s workers start in a fraction of a
second and hold no torch. (Under forkserver and spawn, multiprocessing also imports your main module
in each worker, and with it whatever that module imports.) An exception, while the env is built or
later, goes to the learner with its traceback before the worker exits.
"""

from __future__ import annotations

import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle
import gymnasium as gym

WORKER_ERROR = "__syllabus_env_worker_error__"
"""First item of the message a worker sends with its exception."""
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
"""The signals a worker ignores: the learner handles them and closes the workers."""


class PickledEnvFactory:
    """An env factory pickled with cloudpickle, so lambdas and local functions reach the worker."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory

    def __getstate__(self) -> bytes:
        return cloudpickle.dumps(self.factory)

    def __setstate__(self, state: bytes) -> None:
        self.factory = cloudpickle.loads(state)


def run_worker(remote: Connection, parent_remote: Connection, factory: PickledEnvFactory) -> None:
    """A worker process's life: builds the env, serves the learner's commands until ``close`` or a
    closed pipe; an exception goes to the learner with its traceback, then the process exits with 1."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    parent_remote.close()
    try:
        _serve(remote, _as_gymnasium(factory.factory()))
    except BaseException as exc:  # noqa: BLE001 - reported to the learner, which stops the run
        text = "".join(traceback.format_exception(exc)).rstrip()
        try:
            remote.send((WORKER_ERROR, type(exc).__name__, str(exc), text))
        except OSError:
            pass  # the learner is gone
        raise SystemExit(1) from None


def _as_gymnasium(env: Any) -> gym.Env:
    """The env itself; a non-gymnasium env is converted (or refused) by SB3's own patch, as SB3 does."""
    if isinstance(env, gym.Env):
        return env
    from stable_baselines3.common.vec_env.patch_gym import _patch_env

    return _patch_env(env)


def _serve(remote: Connection, env: gym.Env) -> None:  # noqa: C901 - one branch per command
    reset_info: dict[str, Any] = {}
    while True:
        try:
            command, data = remote.recv()
        except EOFError:  # the learner closed its end
            return
        if command == "step":
            observation, reward, terminated, truncated, info = env.step(data)
            done = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            if done:  # SB3's auto-reset: the last observation goes in the info
                info["terminal_observation"] = observation
                observation, reset_info = env.reset()
            remote.send((observation, reward, done, info, reset_info))
        elif command == "reset":
            seed, options = data
            observation, reset_info = env.reset(seed=seed, **({"options": options} if options else {}))
            remote.send((observation, reset_info))
        elif command == "render":
            remote.send(env.render())
        elif command == "close":
            env.close()
            remote.close()
            return
        elif command == "get_spaces":
            remote.send((env.observation_space, env.action_space))
        elif command == "env_method":
            name, args, kwargs = data
            remote.send(env.get_wrapper_attr(name)(*args, **kwargs))
        elif command == "get_attr":
            remote.send(env.get_wrapper_attr(data))
        elif command == "has_attr":
            remote.send(_has_wrapper_attr(env, data))
        elif command == "set_attr":
            name, value = data
            setattr(env, name, value)
            remote.send(None)
        elif command == "is_wrapped":
            remote.send(_is_wrapped(env, *data))
        else:
            raise NotImplementedError(f"the env worker does not know the command {command!r}")


def _has_wrapper_attr(env: gym.Env, name: str) -> bool:
    try:
        env.get_wrapper_attr(name)
    except AttributeError:
        return False
    return True


def _is_wrapped(env: gym.Env, module: str, qualname: str) -> bool:
    """Whether one of the env's gymnasium wrappers is an instance of the class ``module.qualname``.

    The class comes by name, not pickled: unpickling SB3's ``Monitor`` (which SB3 asks about) would
    import SB3 and torch into the worker.
    """
    while isinstance(env, gym.Wrapper):
        if any(cls.__module__ == module and cls.__qualname__ == qualname for cls in type(env).__mro__):
            return True
        env = env.env
    return False
