"""A Stable-Baselines3 ``VecEnv`` whose environments each live in a Ray actor, on any node of a Ray cluster.

Importing this module imports Stable-Baselines3 and Ray.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import ray
from ray.exceptions import RayActorError, RayError, RayTaskError
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn
from stable_baselines3.common.vec_env.subproc_vec_env import _stack_obs

from syllabus.core.errors import CurriculumError, EnvWorkerError
from syllabus.integrations.ray_env_worker import EnvWorker

DEFAULT_TIMEOUT = 300.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours the actor's name in its tracebacks


class RayVecEnv(VecEnv):
    """Runs each environment in its own Ray actor, so environments can be placed on other nodes.

    Steps like SB3's ``SubprocVecEnv``: an env whose episode ends is reset at once, its final
    observation in ``info["terminal_observation"]`` and the reset's info in ``reset_infos``
    (which is where [`PLRCallback`][syllabus.integrations.sb3.PLRCallback] reads each env's task).
    Call ``ray.init()`` (or ``ray.init(address=...)``) first. With the Ray curriculum, build the
    curriculum with ``make_ray_curriculum`` and wrap each env in ``RaySyncWrapper`` in its factory.

    An environment that raises, or whose actor dies (its process crashed, its node failed, it
    was killed), stops the run: the call raises [`EnvWorkerError`][syllabus.core.errors.EnvWorkerError] naming the env index and
    the cause (the exception and its traceback, or the actor's death). When an env's sync
    wrapper lost the curriculum, the call raises that [`CurriculumError`][syllabus.core.errors.CurriculumError]
    (e.g. ``CurriculumConnectionError`` naming the curriculum actor), prefixed with the env index.
    Actors are not restarted. [`close`][syllabus.integrations.ray_vec_env.RayVecEnv.close] closes the environments and kills the actors.

    Args:
        env_fns: Factories of the environments, one per actor; Ray pickles them to the actors.
        num_cpus: CPUs each actor reserves in Ray's scheduler. The small default lets many envs
            share a node; reserve 1 to spread envs over a cluster's CPUs.
        actor_options: Extra Ray actor options (e.g. ``scheduling_strategy="SPREAD"``, ``resources``).
        timeout: Seconds any call (a step, a reset, building the envs) may wait for an actor.
    """

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gym.Env]],
        *,
        num_cpus: float = 0.01,
        actor_options: dict[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not env_fns:
            raise ValueError("RayVecEnv needs at least one env factory, got none")
        if timeout <= 0 or num_cpus < 0:
            raise ValueError(
                f"need timeout > 0 and num_cpus >= 0; got timeout={timeout}, num_cpus={num_cpus}"
            )
        if not ray.is_initialized():
            raise RuntimeError(
                "Ray is not initialized: call ray.init() (a local Ray) or ray.init(address=...) (an existing "
                "cluster) before building a RayVecEnv"
            )
        self.timeout = timeout
        self.closed = False
        self.waiting = False
        self._step_refs: list[Any] = []
        worker = ray.remote(EnvWorker).options(num_cpus=num_cpus, max_restarts=0, **(actor_options or {}))
        self.actors: list[Any] = [worker.remote(env_fn, i) for i, env_fn in enumerate(env_fns)]
        try:
            observation_space, action_space = self._gather([self.actors[0].spaces.remote()], [0])[0]
            super().__init__(len(env_fns), observation_space, action_space)
        except BaseException:
            self._kill_actors()
            raise

    def reset(self) -> VecEnvObs:
        """Resets every env (with the seeds and options set since the last reset)."""
        refs = [actor.reset.remote(self._seeds[i], self._options[i]) for i, actor in enumerate(self.actors)]
        obs, reset_infos = zip(*self._gather(refs), strict=True)
        self.reset_infos = list(reset_infos)
        self._reset_seeds()
        self._reset_options()
        return _stack_obs(obs, self.observation_space)

    def step_async(self, actions: np.ndarray) -> None:
        """Sends one action to each env.

        Args:
            actions: One action per env, in env order.
        """
        self._step_refs = [
            actor.step.remote(action) for actor, action in zip(self.actors, actions, strict=True)
        ]
        self.waiting = True

    def step_wait(self) -> VecEnvStepReturn:
        """Waits for every env's step; envs whose episode ended are already reset."""
        results = self._gather(self._step_refs)
        self.waiting = False
        self._step_refs = []
        obs, rewards, dones, infos, reset_infos = zip(*results, strict=True)
        for i, reset_info in enumerate(reset_infos):
            if reset_info is not None:
                self.reset_infos[i] = reset_info
        return _stack_obs(obs, self.observation_space), np.stack(rewards), np.stack(dones), list(infos)

    def close(self) -> None:
        """Closes every env (waiting up to ``timeout``) and kills the actors. Idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            refs = [*self._step_refs, *(actor.close.remote() for actor in self.actors)]
            ray.wait(refs, num_returns=len(refs), timeout=self.timeout)
        finally:
            self._kill_actors()

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Renders every env (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array":
            return [None] * self.num_envs
        return self._gather([actor.render.remote() for actor in self.actors])

    def has_attr(self, attr_name: str) -> bool:
        """Whether every env (or a wrapper of it) has ``attr_name``.

        Args:
            attr_name: Name of the env attribute to look for.
        """
        return all(self._gather([actor.has_attr.remote(attr_name) for actor in self.actors]))

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Attribute ``attr_name`` of the selected envs.

        Args:
            attr_name: Name of the env attribute to read.
            indices: Envs to read it from; all when ``None``.
        """
        return self._on_envs(indices, lambda actor: actor.get_attr.remote(attr_name))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Sets attribute ``attr_name`` of the selected envs.

        Args:
            attr_name: Name of the env attribute to set.
            value: Its new value.
            indices: Envs to set it on; all when ``None``.
        """
        self._on_envs(indices, lambda actor: actor.set_attr.remote(attr_name, value))

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        """Calls method ``method_name`` of the selected envs.

        Args:
            method_name: Name of the env method to call.
            method_args: Its positional arguments.
            indices: Envs to call it on; all when ``None``.
            method_kwargs: Its keyword arguments.
        """
        return self._on_envs(
            indices, lambda actor: actor.env_method.remote(method_name, method_args, method_kwargs)
        )

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """Whether each selected env is wrapped in ``wrapper_class``.

        Args:
            wrapper_class: A gymnasium wrapper class.
            indices: Envs to check; all when ``None``.
        """
        name = (wrapper_class.__module__, wrapper_class.__qualname__)  # the actor need not import the class
        return self._on_envs(indices, lambda actor: actor.is_wrapped.remote(*name))

    def _on_envs(self, indices: VecEnvIndices, call: Callable[[Any], Any]) -> list[Any]:
        targets = list(self._get_indices(indices))
        return self._gather([call(self.actors[i]) for i in targets], targets)

    def _gather(self, refs: list[Any], indices: Sequence[int] | None = None) -> list[Any]:
        """Results of one call per env, in order.

        Raises:
            EnvWorkerError: An env raised (its exception and traceback), its actor died, or it
                did not answer within ``timeout``.
            CurriculumError: An env's sync wrapper lost the curriculum (same type as in the env).
        """
        try:
            return ray.get(refs, timeout=self.timeout)
        except RayError:  # GetTimeoutError is one too
            pass  # an env raised, its actor died, or it is late: find out which below
        indices = list(range(len(refs)) if indices is None else indices)
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        for i, ref in zip(indices, refs, strict=True):
            if ref in ready:
                try:
                    ray.get(ref, timeout=0)
                except RayError as exc:
                    raise _env_error(i, exc) from None
        late = [i for i, ref in zip(indices, refs, strict=True) if ref not in ready]
        raise EnvWorkerError(
            f"envs {late} of the RayVecEnv did not answer within {self.timeout:g} s (stuck env, or no node with the "
            "resources their actors need?); raise `timeout` if they are only slow"
        )

    def _kill_actors(self) -> None:
        if not ray.is_initialized():
            return  # Ray is shut down, and the actors with it
        for actor in self.actors:
            ray.kill(actor, no_restart=True)


def _env_error(index: int, exc: BaseException) -> Exception:
    """The error to raise for env ``index`` whose call failed with Ray's ``exc``."""
    if isinstance(exc, RayTaskError):
        cause = exc.cause
        if isinstance(cause, CurriculumError):
            try:
                return type(cause)(f"env {index} of the RayVecEnv: {cause}")
            except Exception:  # noqa: BLE001 - a subclass with another signature: report it as an env error
                pass
        return EnvWorkerError(
            f"env {index} of the RayVecEnv raised {type(cause).__name__}: {cause}. The run stops; "
            f"traceback in the env's actor:\n{_ANSI.sub('', str(exc))}",
            index,
        )
    if isinstance(exc, RayActorError):
        return EnvWorkerError(
            f"env {index} of the RayVecEnv died: its Ray actor is gone (process crashed or was killed, or its node "
            f"failed). The run stops; RayVecEnv does not restart envs. Ray says: {exc}",
            index,
        )
    return EnvWorkerError(f"env {index} of the RayVecEnv failed ({type(exc).__name__}): {exc}", index)
