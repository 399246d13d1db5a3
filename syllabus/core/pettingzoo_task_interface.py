"""The task interface for PettingZoo parallel environments (needs the ``pettingzoo`` extra).

The multi-agent twin of [`syllabus.core.task_interface`][syllabus.core.task_interface]: a
``pettingzoo.ParallelEnv`` takes tasks by subclassing [`PettingZooTaskEnv`][syllabus.core.pettingzoo_task_interface.PettingZooTaskEnv],
by being wrapped in a [`PettingZooTaskWrapper`][syllabus.core.pettingzoo_task_interface.PettingZooTaskWrapper],
or by duck typing:

* ``reset(seed=None, options=None, new_task=None)`` switches to ``new_task`` before resetting;
* ``task`` is the current task (one for the whole env, shared by its agents), ``task_space`` the
  [`TaskSpace`][syllabus.task_space.TaskSpace] of tasks;
* each agent may report its progress (0 to 1) in ``infos[agent]["task_completion"]``.

AEC (turn-based) environments take tasks after PettingZoo's own conversion,
``PettingZooTaskWrapper(aec_to_parallel(aec_env), task_space)``, with ``change_task`` acting on
the AEC env (``self.env.aec_env``).
"""

from __future__ import annotations

from typing import Any

from pettingzoo import ParallelEnv
from pettingzoo.utils.wrappers import BaseParallelWrapper

from syllabus.core.task_interface import _TaskHolder
from syllabus.task_space import TaskSpace


class PettingZooTaskEnv(_TaskHolder, ParallelEnv):
    """A ``pettingzoo.ParallelEnv`` with tasks. Subclasses call ``super().reset(seed=seed, new_task=new_task)``.

    Args:
        task_space: The tasks this environment can run.
    """

    def __init__(self, task_space: TaskSpace) -> None:
        self.task_space = task_space

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None, new_task: Any = None
    ) -> None:
        """Switches to ``new_task`` when given (after checking it is in the task space).

        Subclasses call this first, then build and return ``(observations, infos)`` keyed by agent.
        """
        if new_task is not None:
            self._set_task(new_task)


class PettingZooTaskWrapper(_TaskHolder, BaseParallelWrapper):
    """Adds tasks to an existing ``pettingzoo.ParallelEnv``. Subclasses implement ``change_task``.

    Args:
        env: The parallel environment to wrap (an AEC env after ``pettingzoo.utils.aec_to_parallel``).
        task_space: The tasks the wrapped environment can run.
    """

    def __init__(self, env: ParallelEnv, task_space: TaskSpace) -> None:
        super().__init__(env)
        self.task_space = task_space

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None, new_task: Any = None
    ) -> tuple[dict[Any, Any], dict[Any, dict[str, Any]]]:
        """Switches to ``new_task`` when given, then resets the wrapped environment."""
        if new_task is not None:
            self._set_task(new_task)
        return self.env.reset(seed=seed, options=options)
