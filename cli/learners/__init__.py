"""The runner's learners behind one interface ([`Learner`][syllabus.cli.learners.base.Learner]), picked by ``learner.name``.

``sb3_ppo`` ([`syllabus.cli.learners.sb3`][syllabus.cli.learners.sb3], the default) trains Stable-Baselines3 PPO on an SB3
vector env of the run's sync backend; ``rllib_ppo`` ([`syllabus.cli.learners.rllib`][syllabus.cli.learners.rllib]) trains
RLlib PPO on RLlib env runners with ``sync=ray``. Their registry entries (config schema and checks) are in
[`syllabus.cli.learners.entries`][syllabus.cli.learners.entries]. Each module imports its framework only when used.
"""

from __future__ import annotations

import importlib

from syllabus.cli.learners.base import Learner, Policy
from syllabus.cli.registry import REGISTRY


def learner_class(name: str) -> type[Learner]:
    """The [`Learner`][syllabus.cli.learners.base.Learner] class of ``learner.name``.

    Raises:
        ConfigError: No learner has that name.
    """
    module, _, attribute = REGISTRY.learner(name).learner.partition(":")
    return getattr(importlib.import_module(module), attribute)


__all__ = ["Learner", "Policy", "learner_class"]
