"""MiniGrid as a task environment: the task is an env id, or a layout seed of one env id.

Needs the optional ``minigrid`` extra (``pip install "syllabus-curriculum[minigrid]"``), imported when the
first environment is built.

Observation choice: the agent's egocentric partial view (``obs["image"]``, 7x7 cells x (object,
colour, state) indices), flattened to ``Box(0, 255, (147,), uint8)``. It has the same space in every
MiniGrid env with the default view size, so one policy (e.g. SB3 ``MlpPolicy``, which casts it to
float) plays every task. The mission string is left out of the observation and reported in
``info["mission"]``; the view is already rotated to the agent's heading, so the heading is left out too.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import gymnasium as gym
import numpy as np

from syllabus.core.checks import check_count, is_integer
from syllabus.core.task_interface import TaskEnv
from syllabus.task_space import DiscreteTaskSpace

INSTALL_HINT = 'pip install "syllabus-curriculum[minigrid]"'
MAX_SEED = 2**31 - 1
# A default ladder of tasks, roughly easy to hard, all with the 7x7 view and the 7 MiniGrid actions.
DEFAULT_ENV_IDS = (
    "MiniGrid-Empty-5x5-v0",
    "MiniGrid-Empty-Random-6x6-v0",
    "MiniGrid-DoorKey-5x5-v0",
    "MiniGrid-LavaGapS5-v0",
    "MiniGrid-SimpleCrossingS9N1-v0",
    "MiniGrid-DoorKey-6x6-v0",
    "MiniGrid-MultiRoom-N2-S4-v0",
    "MiniGrid-DoorKey-8x8-v0",
)


@functools.cache
def import_minigrid() -> ModuleType:
    """Imports ``minigrid`` (which registers its env ids with gymnasium).

    Raises:
        ImportError: If minigrid is not installed, naming the extra to install.
    """
    try:
        import minigrid
    except ImportError as exc:
        raise ImportError(f"MiniGrid environments need the minigrid package: {INSTALL_HINT}") from exc
    return minigrid


def minigrid_env_ids() -> list[str]:
    """All env ids registered by minigrid (MiniGrid-* and BabyAI-*), sorted."""
    import_minigrid()
    return sorted(
        env_id
        for env_id, spec in gym.registry.items()
        if isinstance(spec.entry_point, str) and spec.entry_point.startswith("minigrid.")
    )


def check_env_ids(env_ids: Sequence[str]) -> None:
    """Raises ValueError for an id minigrid does not register, suggesting close ids and listing all.

    Args:
        env_ids: MiniGrid env ids to check.
    """
    valid = minigrid_env_ids()
    for env_id in env_ids:
        if env_id not in valid:
            close = difflib.get_close_matches(str(env_id), valid, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown MiniGrid env id {env_id!r}.{hint} Valid ids: {', '.join(valid)}")


class MiniGridTaskEnv(TaskEnv):
    """MiniGrid envs behind one task interface; ``reset(new_task=...)`` switches env id or layout.

    Two kinds of tasks:

    * env ids (``seeds=None``): the tasks are the ids in ``env_ids``; one env per id is built at
      construction and kept, so switching id costs only that env's reset. Each reset draws the
      layout seed from this env's ``np_random`` (seed it with ``reset(seed=...)``).
    * seeds (``env_ids`` has a single id): the tasks are the given layout seeds of that id; a task
      always produces the same layout.

    ``reset()`` without a task plays a task drawn uniformly from the task space with the env's
    ``np_random`` (seeded by ``reset(seed=...)``): without a curriculum the env samples its tasks
    uniformly, as a plain MiniGrid env samples its layouts.

    Observations are the flattened 7x7x3 partial view (see the module docstring), actions the
    ``Discrete(7)`` MiniGrid actions. Episodes end as the MiniGrid env decides (``terminated`` on
    success or failure such as lava, ``truncated`` at its ``max_steps``). At the episode end
    ``info["task_completion"]`` is 1.0 if the mission was achieved (terminated with a positive
    reward), else 0.0. ``info["mission"]`` holds the mission string.

    Args:
        env_ids: MiniGrid env ids; the tasks when ``seeds`` is None.
        seeds: Layout seeds (the tasks) of the single id in ``env_ids``: a sequence of ints or a
            ``DiscreteTaskSpace`` of them.
        **make_kwargs: Passed to ``gymnasium.make`` for every id (e.g. ``max_steps``, ``render_mode``).
    """

    def __init__(
        self,
        env_ids: Sequence[str],
        seeds: DiscreteTaskSpace | Sequence[int] | None = None,
        **make_kwargs: Any,
    ) -> None:
        if isinstance(env_ids, str) or not env_ids:
            raise ValueError(f"env_ids must be a non-empty list of MiniGrid env ids, got {env_ids!r}")
        env_ids = list(env_ids)
        check_env_ids(env_ids)
        if seeds is None:
            space = DiscreteTaskSpace(env_ids)
        else:
            if len(env_ids) != 1:
                raise ValueError(f"seeds are tasks of a single env id, got env_ids={env_ids!r}")
            space = seeds if isinstance(seeds, DiscreteTaskSpace) else DiscreteTaskSpace(seeds)
            bad = [s for s in space.tasks if not is_integer(s) or not 0 <= s < MAX_SEED]
            if bad:
                raise ValueError(f"MiniGrid seeds must be ints in [0, {MAX_SEED}), got {bad[:5]!r}")
        super().__init__(space)
        self._num_tasks = space.num_tasks
        self._by_seed = seeds is not None
        self._envs: dict[str, gym.Env] = {}
        try:
            for env_id in env_ids:
                self._envs[env_id] = gym.make(env_id, **make_kwargs)
            self._check_spaces()
        except BaseException:
            self.close()
            raise
        first = self._envs[env_ids[0]]
        self.action_space = first.action_space
        self.observation_space = gym.spaces.Box(0, 255, (int(np.prod(_view_space(first).shape)),), np.uint8)
        self.render_mode = first.render_mode
        self._task = space.decode(0)
        self._env = first

    def _check_spaces(self) -> None:
        """Raises ValueError unless every env has the first one's view shape and action space."""
        (first_id, first), *others = self._envs.items()
        for env_id, env in others:
            if _view_space(env).shape != _view_space(first).shape or env.action_space != first.action_space:
                raise ValueError(
                    f"{env_id} has view {_view_space(env).shape} and actions {env.action_space}, but "
                    f"{first_id} has {_view_space(first).shape} and {first.action_space}; tasks must share spaces"
                )

    @property
    def minigrid_env(self) -> gym.Env:
        """The MiniGrid env of the current task."""
        return self._env

    @property
    def env_ids(self) -> list[str]:
        """The MiniGrid env ids this env plays."""
        return list(self._envs)

    def reset(  # type: ignore[override]  # TaskEnv.reset returns None; envs return (obs, info)
        self, *, seed: int | None = None, options: dict[str, Any] | None = None, new_task: Any = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Starts an episode of ``new_task``, or of a uniformly drawn task when not given.

        Args:
            seed: Seed for the env's random generator, as in ``gymnasium.Env.reset``.
            options: Extra reset options, as in ``gymnasium.Env.reset``.
            new_task: Task to switch to before resetting; ``None`` keeps the current one.
        """
        super().reset(seed=seed, new_task=new_task)
        if new_task is None:
            self._task = self.task_space.decode(int(self.np_random.integers(self._num_tasks)))
        if self._by_seed:
            layout_seed = int(self._task)
        else:
            self._env = self._envs[self._task]
            layout_seed = int(self.np_random.integers(MAX_SEED))
        obs, _ = self._env.reset(seed=layout_seed, options=options)
        return obs["image"].reshape(-1), {"mission": obs["mission"]}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Steps the current MiniGrid env; adds ``task_completion`` at the episode end.

        Args:
            action: Action to apply, from the env's action space.
        """
        obs, reward, terminated, truncated, info = self._env.step(action)
        reward = float(reward)
        info = {**info, "mission": obs["mission"]}
        if terminated or truncated:
            info["task_completion"] = 1.0 if terminated and reward > 0 else 0.0
        return obs["image"].reshape(-1), reward, terminated, truncated, info

    def render(self) -> Any:
        """Renders the current MiniGrid env (set ``render_mode`` through ``make_kwargs``)."""
        return self._env.render()

    def close(self) -> None:
        """Closes every cached MiniGrid env."""
        for env in self._envs.values():
            env.close()
        self._envs.clear()


def _view_space(env: gym.Env) -> gym.spaces.Box:
    """The ``image`` (partial view) space of a MiniGrid env."""
    space = env.observation_space
    assert isinstance(space, gym.spaces.Dict), f"MiniGrid observations are dicts, got {space}"
    view = space["image"]
    assert isinstance(view, gym.spaces.Box)
    return view


def make_minigrid(
    env_ids: Sequence[str] | None = None,
    env_id: str | None = None,
    seeds: Sequence[int] | int | None = None,
    **make_kwargs: Any,
) -> MiniGridTaskEnv:
    """Builds a [`MiniGridTaskEnv`][syllabus.envs.minigrid.MiniGridTaskEnv] whose tasks are env ids or the layout seeds of one env id.

    Examples:
        >>> make_minigrid(["MiniGrid-Empty-5x5-v0", "MiniGrid-DoorKey-5x5-v0"])  # tasks: the ids
        >>> make_minigrid(env_id="MiniGrid-DoorKey-8x8-v0", seeds=200)  # tasks: seeds 0..199
        >>> make_minigrid()  # tasks: DEFAULT_ENV_IDS

    Args:
        env_ids: The env ids to use as tasks.
        env_id: The single env id whose layout seeds are the tasks (needs ``seeds``).
        seeds: The seeds: a sequence of ints, or ``n`` for ``0..n-1``.
        **make_kwargs: Passed to ``gymnasium.make`` for every id.
    """
    if env_ids is not None and (env_id is not None or seeds is not None):
        raise ValueError(
            "give either env_ids (tasks are env ids) or env_id with seeds (tasks are seeds), not both"
        )
    if env_id is not None:
        if seeds is None:
            raise ValueError(f"env_id={env_id!r} needs seeds, the tasks (e.g. seeds=200 for 0..199)")
        if isinstance(seeds, (int, np.integer)):  # a count (bool too: rejected by the check)
            count = check_count("seeds", seeds, 1, note="a count of seeds, or give a sequence of ints")
            return MiniGridTaskEnv([env_id], DiscreteTaskSpace(count), **make_kwargs)
        return MiniGridTaskEnv([env_id], seeds, **make_kwargs)
    if seeds is not None:
        raise ValueError("seeds need a single env_id (tasks are that env's layout seeds)")
    return MiniGridTaskEnv(list(DEFAULT_ENV_IDS) if env_ids is None else env_ids, **make_kwargs)
