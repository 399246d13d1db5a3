"""Procgen games as task environments: the task is the level seed.

Needs the optional ``procgen`` extra (``pip install "syllabus-curriculum[procgen]"``), imported when the first
environment is built. Each [`ProcgenTaskEnv`][syllabus.envs.procgen.ProcgenTaskEnv] holds one in-process gym3 Procgen env and switches
level by restoring that level's start state, cached after the level's first visit, so a reset into
any level costs about a fifth of rebuilding the gym3 env (see ``bench/procgen_reset.py``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys
from collections import OrderedDict
from collections.abc import Sequence
from types import ModuleType
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from syllabus.core.checks import check_count, is_integer
from syllabus.core.task_interface import TaskEnv
from syllabus.task_space import DiscreteTaskSpace

INSTALL_HINT = 'pip install "syllabus-curriculum[procgen]"'
MAX_LEVEL_SEED = 2**31 - 1  # procgen level seeds are non-negative int32
NUM_ACTIONS = 15


class GameSpec(NamedTuple):
    """Per-game constants: episode step limit and (min, max) return of each distribution mode."""

    timeout: int
    easy: tuple[float, float]
    hard: tuple[float, float]


# Return bounds: Cobbe et al., "Leveraging Procedural Generation to Benchmark Reinforcement Learning"
# (ICML 2020, arXiv:1912.01588), appendix table of normalization constants (R_min, R_max) per mode.
# Timeouts: procgen's game sources (``timeout`` set in each game's constructor, 1000 by default in
# game.cpp), as tabulated in envpool's procgen registration; maze, leaper, coinrun, heist and others were
# checked here by running each to its limit.
GAMES: dict[str, GameSpec] = {
    "bigfish": GameSpec(6000, (1.0, 40.0), (0.0, 40.0)),
    "bossfight": GameSpec(4000, (0.5, 13.0), (0.5, 13.0)),
    "caveflyer": GameSpec(1000, (3.5, 12.0), (2.0, 13.4)),
    "chaser": GameSpec(1000, (0.5, 13.0), (0.5, 14.2)),
    "climber": GameSpec(1000, (2.0, 12.6), (1.0, 12.6)),
    "coinrun": GameSpec(1000, (5.0, 10.0), (5.0, 10.0)),
    "dodgeball": GameSpec(1000, (1.5, 19.0), (1.5, 19.0)),
    "fruitbot": GameSpec(1000, (-1.5, 32.4), (-0.5, 27.2)),
    "heist": GameSpec(1000, (3.5, 10.0), (2.0, 10.0)),
    "jumper": GameSpec(1000, (3.0, 10.0), (1.0, 10.0)),
    "leaper": GameSpec(500, (3.0, 10.0), (1.5, 10.0)),
    "maze": GameSpec(500, (5.0, 10.0), (4.0, 10.0)),
    "miner": GameSpec(1000, (1.5, 13.0), (1.5, 20.0)),
    "ninja": GameSpec(1000, (3.5, 10.0), (2.0, 10.0)),
    "plunder": GameSpec(4000, (4.5, 30.0), (3.0, 30.0)),
    "starpilot": GameSpec(1000, (2.5, 64.0), (1.5, 35.0)),
}
# The modes the paper gives normalization constants for (extreme/memory have none).
DISTRIBUTION_MODES = ("easy", "hard")
# gym3 Procgen options a caller may set (passed through to ProcgenGym3Env).
PROCGEN_OPTIONS = (
    "center_agent",
    "use_backgrounds",
    "use_monochrome_assets",
    "restrict_themes",
    "use_generated_assets",
    "paint_vel_info",
)


@functools.cache
def import_procgen() -> ModuleType:
    """Imports ``procgen``, keeping old gym's "unmaintained" banner (procgen imports gym) off stderr.

    Anything else printed on stderr during the import is passed through.

    Raises:
        ImportError: If procgen is not installed, naming the extra to install.
    """
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            import procgen
    except ImportError as exc:
        raise ImportError(f"Procgen environments need the procgen package: {INSTALL_HINT}") from exc
    finally:
        sys.stderr.write(_without_gym_notice(captured.getvalue()))
    return procgen


def _without_gym_notice(text: str) -> str:
    """Removes the notice old gym prints at import from ``text``."""
    try:
        import gym
        from gym_notices.notices import notices
    except ImportError:
        return text
    notice = notices.get(gym.__version__)
    return text.replace(f"{notice}\n", "") if notice else text


def check_game(game: str, distribution_mode: str) -> GameSpec:
    """Returns the constants of ``game``; raises ValueError naming the valid games or modes.

    Args:
        game: Procgen game name.
        distribution_mode: Procgen distribution mode (``easy``, ``hard``, ...).
    """
    if game not in GAMES:
        raise ValueError(f"unknown Procgen game {game!r}; valid games: {', '.join(GAMES)}")
    if distribution_mode not in DISTRIBUTION_MODES:
        raise ValueError(
            f"unsupported distribution_mode {distribution_mode!r}; valid modes: {', '.join(DISTRIBUTION_MODES)}"
        )
    return GAMES[game]


def normalized_return(game: str, distribution_mode: str, episode_return: float) -> float:
    """``episode_return`` scaled by the paper's (R_min, R_max) of the game and mode, clipped to [0, 1].

    Args:
        game: Procgen game name.
        distribution_mode: Procgen distribution mode the return was earned in.
        episode_return: The raw episode return.
    """
    low, high = getattr(check_game(game, distribution_mode), distribution_mode)
    return float(np.clip((episode_return - low) / (high - low), 0.0, 1.0))


def level_task_space(start_level: int, num_levels: int) -> DiscreteTaskSpace:
    """The task space of level seeds ``start_level .. start_level + num_levels - 1``.

    Args:
        start_level: First level seed.
        num_levels: Number of consecutive level seeds (the size of the task space).
    """
    start_level = check_count("start_level", start_level, 0)
    num_levels = check_count("num_levels", num_levels, 1)
    if start_level + num_levels > MAX_LEVEL_SEED:
        raise ValueError(
            f"levels {start_level}..{start_level + num_levels - 1} exceed the largest Procgen level seed "
            f"{MAX_LEVEL_SEED - 1}"
        )
    if start_level == 0:
        return DiscreteTaskSpace(int(num_levels))
    return DiscreteTaskSpace(range(int(start_level), int(start_level + num_levels)))


class ProcgenTaskEnv(TaskEnv):
    """A Procgen game whose task is the level seed; ``reset(new_task=seed)`` plays that level.

    ``reset()`` without a task plays a level drawn uniformly from the task space with the env's
    ``np_random`` (seeded by ``reset(seed=...)``), as procgen itself does with ``num_levels`` and
    ``start_level``: without a curriculum the env is the standard Procgen training setup.

    Observations are ``Box(0, 255, (64, 64, 3), uint8)`` RGB frames, actions ``Discrete(15)``. An
    episode ends ``terminated`` when the game ends it (death or level complete) and ``truncated`` when
    it reaches the game's step limit without completing the level. At the episode end
    ``info["task_completion"]`` is the return normalized into [0, 1] with the Procgen paper's
    constants for the game and mode, and ``info["level_complete"]`` says whether the level was solved.
    Every step's info holds ``level_seed``.

    Episodes are deterministic given the level and the actions (procgen seeds its in-episode random
    generator from the level seed), so ``seed`` of [`reset`][syllabus.envs.procgen.ProcgenTaskEnv.reset] only seeds ``np_random``.

    As in procgen itself, the observation returned with the last step of an episode is the first
    frame of the level's next episode: procgen does not render the final frame.

    Args:
        game: One of `GAMES`.
        levels: The level seeds (the task space); a ``DiscreteTaskSpace`` of ints or a sequence of
            distinct ints in ``[0, 2**31 - 1)``.
        distribution_mode: ``"easy"`` or ``"hard"``.
        level_cache_size: Level start states kept (20-40 KB each, least recently used dropped first);
            a reset into a level outside the cache rebuilds the gym3 env and saves the level's start
            state (about 1.5 ms instead of 0.2 ms). 0 turns caching off: every reset into another level
            rebuilds the env (about 1 ms), the better choice when levels rarely repeat.
        render_mode: ``None`` or ``"rgb_array"`` (the 64x64 observation).
        **procgen_options: Options of ``procgen.ProcgenGym3Env`` among `PROCGEN_OPTIONS`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        game: str = "bigfish",
        levels: DiscreteTaskSpace | Sequence[int] = range(200),
        distribution_mode: str = "easy",
        *,
        level_cache_size: int = 512,
        render_mode: str | None = None,
        **procgen_options: bool,
    ) -> None:
        self._spec = check_game(game, distribution_mode)
        unknown = sorted(set(procgen_options) - set(PROCGEN_OPTIONS))
        if unknown:
            raise ValueError(
                f"unknown Procgen options {unknown}; valid options: {', '.join(PROCGEN_OPTIONS)}"
            )
        level_cache_size = check_count("level_cache_size", level_cache_size, 0)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unsupported render_mode {render_mode!r}; valid: None, 'rgb_array'")
        space = levels if isinstance(levels, DiscreteTaskSpace) else DiscreteTaskSpace(levels)
        bad = [level for level in space.tasks if not _is_level_seed(level)]
        if bad:
            raise ValueError(f"Procgen levels must be ints in [0, {MAX_LEVEL_SEED}), got {bad[:5]!r}")
        super().__init__(space)
        self._num_tasks = space.num_tasks
        self.game = game
        self.distribution_mode = distribution_mode
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(NUM_ACTIONS)
        self._options = procgen_options
        self._cache_size = level_cache_size
        self._start_states: OrderedDict[int, bytes] = OrderedDict()
        self._task = space.decode(0)
        self._env = self._make_gym3_env(self._task)
        if level_cache_size > 0:
            self._start_states[self._task] = self._env.get_state()[0]
        self._obs = self._env.observe()[1]["rgb"][0]
        self._episode_return = 0.0
        self._episode_length = 0
        self._needs_reset = True

    def _make_gym3_env(self, level: int) -> Any:
        """A gym3 env of one level, stepped in this thread (``num_threads=0``)."""
        procgen = import_procgen()
        return procgen.ProcgenGym3Env(
            num=1,
            env_name=self.game,
            num_levels=1,
            start_level=int(level),
            distribution_mode=self.distribution_mode,
            num_threads=0,
            **self._options,
        )

    def _switch_to_start(self, level: int) -> None:
        """Puts the gym3 env at the start of ``level``.

        A cached level's start state is restored into the env; on a level's first visit (or after its
        state left the LRU cache) the env is rebuilt for the level and its start state saved.
        """
        state = self._start_states.get(level)
        if state is not None:
            self._start_states.move_to_end(level)
            self._env.set_state([state])
            return
        self._env.close()
        self._env = self._make_gym3_env(level)
        if self._cache_size > 0:
            self._start_states[level] = self._env.get_state()[0]
            if len(self._start_states) > self._cache_size:
                self._start_states.popitem(last=False)

    def reset(  # type: ignore[override]  # TaskEnv.reset returns None; envs return (obs, info)
        self, *, seed: int | None = None, options: dict[str, Any] | None = None, new_task: Any = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Starts an episode of ``new_task`` (a level seed), or of a uniformly drawn level when not given.

        Args:
            seed: Seed for the env's random generator, as in ``gymnasium.Env.reset``.
            options: Extra reset options, as in ``gymnasium.Env.reset``.
            new_task: Task to switch to before resetting; ``None`` keeps the current one.
        """
        super().reset(seed=seed, new_task=new_task)
        if new_task is None:
            self._task = self.task_space.decode(int(self.np_random.integers(self._num_tasks)))
        level = int(self._task)
        self._switch_to_start(level)
        self._obs = self._env.observe()[1]["rgb"][0]
        self._episode_return = 0.0
        self._episode_length = 0
        self._needs_reset = False
        return self._obs, {"level_seed": level}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Plays one action; see the class docstring for the episode-end semantics.

        Args:
            action: Action to apply, from the env's action space.
        """
        if self._needs_reset:
            raise RuntimeError("ProcgenTaskEnv.step() called before reset() or after the episode ended")
        self._env.act(np.asarray([action], dtype=np.int32))
        reward, obs, first = self._env.observe()
        self._obs = obs["rgb"][0]
        reward = float(reward[0])
        self._episode_return += reward
        self._episode_length += 1
        info: dict[str, Any] = {"level_seed": int(self._task)}
        terminated = truncated = False
        if first[0]:
            level_complete = bool(self._env.get_info()[0]["prev_level_complete"])
            truncated = not level_complete and self._episode_length >= self._spec.timeout
            terminated = not truncated
            info["level_complete"] = level_complete
            info["task_completion"] = normalized_return(
                self.game, self.distribution_mode, self._episode_return
            )
            self._needs_reset = True
        return self._obs, reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:  # type: ignore[override]  # RenderFrame is a TypeVar
        """The current 64x64 frame when ``render_mode="rgb_array"``."""
        return self._obs if self.render_mode == "rgb_array" else None

    def close(self) -> None:
        """Releases the gym3 env and the cached level states."""
        if self._env is not None:
            self._env.close()
            self._env = None
        self._start_states.clear()


def _is_level_seed(level: Any) -> bool:
    return is_integer(level) and bool(0 <= level < MAX_LEVEL_SEED)


def make_procgen(
    game: str = "bigfish",
    num_levels: int = 200,
    start_level: int = 0,
    distribution_mode: str = "easy",
    **kwargs: Any,
) -> ProcgenTaskEnv:
    """Builds a [`ProcgenTaskEnv`][syllabus.envs.procgen.ProcgenTaskEnv] over the level seeds ``start_level .. start_level + num_levels - 1``.

    The usual setup trains on levels ``0..199`` (the default) and evaluates on held-out levels, e.g.
    ``make_procgen(game, start_level=200, num_levels=1000)``; see [`make_procgen_eval`][syllabus.envs.procgen.make_procgen_eval].

    Args:
        game: One of `GAMES`.
        num_levels: Number of consecutive level seeds.
        start_level: The first level seed.
        distribution_mode: ``"easy"`` or ``"hard"``.
        **kwargs: Passed to [`ProcgenTaskEnv`][syllabus.envs.procgen.ProcgenTaskEnv] (``level_cache_size``, ``render_mode``, procgen options).
    """
    return ProcgenTaskEnv(game, level_task_space(start_level, num_levels), distribution_mode, **kwargs)


def make_procgen_eval(
    game: str = "bigfish",
    num_levels: int = 200,
    start_level: int = 0,
    distribution_mode: str = "easy",
    num_eval_levels: int = 1000,
    **kwargs: Any,
) -> ProcgenTaskEnv:
    """Builds the held-out counterpart of ``make_procgen(game, num_levels, start_level, ...)``.

    Its levels are the ``num_eval_levels`` seeds right after the training range, so none of them
    was trained on. Takes the training env's arguments, so a runner can pass the same config.

    Args:
        game: Procgen game name.
        num_levels: Number of training levels (seeds ``start_level`` onward); evaluation levels come after them.
        start_level: First training level seed.
        distribution_mode: Procgen distribution mode.
        num_eval_levels: Number of held-out levels to cycle through.
        kwargs: Further arguments of the Procgen env.
    """
    return make_procgen(game, num_eval_levels, start_level + num_levels, distribution_mode, **kwargs)
