"""MPE2's cooperative ``simple_spread`` with tasks: how far apart agents and landmarks start.

Needs the ``mpe`` extra (``mpe2``, which brings PettingZoo). ``simple_spread`` is an AEC env
made parallel by PettingZoo's ``aec_to_parallel``; its task is the half-width ``w`` of the square
``[-w, w]^2`` in which agents and landmarks are placed at reset (MPE's own default is 1). Wider
worlds leave the landmarks farther from the agents and from each other, so covering all of them
in the episode's ``max_cycles`` steps is harder. Each agent reports ``task_completion``: the
share of landmarks covered (an agent within MPE's capture radius of it).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from syllabus.core.pettingzoo_task_interface import PettingZooTaskWrapper
from syllabus.task_space import DiscreteTaskSpace, TaskSpace

INSTALL_HINT = 'pip install "syllabus-curriculum[mpe]"'
DEFAULT_WORLD_SIZES = (0.5, 1.0, 1.5, 2.0)


def import_mpe() -> ModuleType:
    """Imports ``mpe2``.

    Raises:
        ImportError: If mpe2 is not installed, naming the extra to install.
    """
    try:
        import mpe2
    except ImportError as exc:
        raise ImportError(f"MPE environments need the mpe2 package: {INSTALL_HINT}") from exc
    return mpe2


class SimpleSpreadTaskWrapper(PettingZooTaskWrapper):
    """``simple_spread`` whose task is the half-width of the square where agents and landmarks start.

    Args:
        env: ``mpe2.simple_spread_v3.parallel_env(...)``.
        task_space: Half-widths (> 0) to choose from; defaults to
            ``DiscreteTaskSpace([0.5, 1.0, 1.5, 2.0])``. The first task is 1.0 when the space has it.
    """

    def __init__(self, env: Any, task_space: TaskSpace | None = None) -> None:
        super().__init__(
            env, task_space if task_space is not None else DiscreteTaskSpace(list(DEFAULT_WORLD_SIZES))
        )
        space = self.task_space
        self._task = (
            1.0 if space.contains(1.0) else (space.decode(0) if space.is_enumerable else space.sample())
        )
        self._raw = env.unwrapped  # the AEC env below aec_to_parallel: its scenario places the entities
        scenario = self._raw.scenario
        place = scenario.reset_world

        def reset_world(world: Any, np_random: np.random.Generator) -> None:
            place(world, np_random)  # positions in [-1, 1]^2, drawn from the env's own generator
            for entity in world.entities:
                entity.state.p_pos = entity.state.p_pos * float(self._task)

        scenario.reset_world = reset_world

    def change_task(self, new_task: Any) -> None:
        """Checks the half-width; it applies at the reset that follows."""
        if not float(new_task) > 0:
            raise ValueError(f"a simple_spread task is a half-width > 0, got {new_task!r}")

    def step(self, actions: dict[Any, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Steps the env and adds each agent's ``task_completion`` (share of landmarks covered)."""
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        covered = self.covered()
        for agent in rewards:
            infos.setdefault(agent, {})["task_completion"] = covered
        return obs, rewards, terminations, truncations, infos

    def covered(self) -> float:
        """The share of landmarks with an agent within the capture radius."""
        world = self._raw.world
        agents = np.array([agent.state.p_pos for agent in world.agents])
        radius = getattr(self._raw.scenario, "CAPTURE_RADIUS", 0.1)
        hits = [np.min(np.linalg.norm(agents - lm.state.p_pos, axis=1)) < radius for lm in world.landmarks]
        return float(np.mean(hits))


def make_mpe(
    task_space: TaskSpace | None = None,
    *,
    n_agents: int = 3,
    max_cycles: int = 25,
    local_ratio: float = 0.5,
) -> SimpleSpreadTaskWrapper:
    """Builds MPE2's ``simple_spread_v3`` (parallel API, discrete actions) with world-size tasks.

    Args:
        task_space: Half-widths of the start square; see [`SimpleSpreadTaskWrapper`][syllabus.envs.mpe.SimpleSpreadTaskWrapper].
        n_agents: Agents (and landmarks).
        max_cycles: Steps per episode.
        local_ratio: Weight of each agent's own collision penalty against the shared coverage reward.

    Raises:
        ImportError: mpe2 is not installed.
    """
    import_mpe()
    from mpe2 import simple_spread_v3

    env = simple_spread_v3.parallel_env(
        N=n_agents, local_ratio=local_ratio, max_cycles=max_cycles, continuous_actions=False
    )
    return SimpleSpreadTaskWrapper(env, task_space)
