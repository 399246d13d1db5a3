"""RLlib integration (new API stack): curricula for RLlib's env runners, metrics, checkpoints and a PLR feeder.

One call sets it all up; by default each algorithm (each Tune trial) serves its own curriculum::

    config = configure_curriculum(PPOConfig().environment(...), make_env, PrioritizedLevelReplay(tasks), feed_plr=True)
    algo = config.build_algo()          # starts this algorithm's curriculum actor
    algo.save(path)                     # RLlib's checkpoint, with the curriculum's state
    algo.stop()                         # stops the envs, then the curriculum actor

Pieces, for custom setups:

* [`make_env_creator`][syllabus.integrations.rllib.make_env_creator] turns a task-env factory into
  an RLlib env creator: training envs wait for the curriculum the algorithm attaches them to,
  evaluation envs get a fixed task list (or their own default task).
* [`curriculum_env_config`][syllabus.integrations.rllib.curriculum_env_config] builds the
  ``env_config`` entry (key ``"syllabus"``) it reads.
* [`CurriculumCallback`][syllabus.integrations.rllib.CurriculumCallback] starts (or attaches to)
  the curriculum when the algorithm is built, attaches the training envs to it, writes its state
  into the algorithm's checkpoints and restores it from them, logs its metrics under
  ``result["curriculum"]``, stops it with the algorithm, and installs the PLR feeder.
* [`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder] is a learner connector piece: it sends each
  training batch, with the value estimates PPO itself computes, to the curriculum's ``custom_update``.

Tested with ``ray[rllib]`` 2.60, gymnasium 1.2.2 and numpy 1.26. Each name is imported on first
use: every one but the rollout packer's ([`RolloutPacker`][syllabus.integrations.rllib.RolloutPacker],
[`EpisodeChunk`][syllabus.integrations.rllib.EpisodeChunk], [`Rollout`][syllabus.integrations.rllib.Rollout],
plain numpy) imports ``ray.rllib``.

Modules, one job each: ``settings`` (the ``env_config`` entry), ``configure``
(``configure_curriculum``), ``env`` (the env creator and evaluation tasks), ``callback`` (the
callback and ``curriculum_of``), ``checkpoints`` (the curriculum's state in the algorithm's
checkpoints), ``feeder`` (the PLR feeder's connector pieces) and ``packer`` (its rollout packer).
"""

from typing import TYPE_CHECKING

from syllabus.core.lazy_names import lazy_names

if TYPE_CHECKING:
    from syllabus.integrations.rllib.callback import CurriculumCallback, curriculum_of
    from syllabus.integrations.rllib.checkpoints import CHECKPOINT_FILE
    from syllabus.integrations.rllib.configure import configure_curriculum
    from syllabus.integrations.rllib.env import EvaluationTasks, make_env_creator
    from syllabus.integrations.rllib.feeder import CHUNKS_KEY, PLRFeeder
    from syllabus.integrations.rllib.packer import EpisodeChunk, Rollout, RolloutPacker
    from syllabus.integrations.rllib.settings import SETTINGS_KEY, curriculum_env_config

_MODULE_OF = {
    "CHECKPOINT_FILE": "checkpoints",
    "CHUNKS_KEY": "feeder",
    "SETTINGS_KEY": "settings",
    "CurriculumCallback": "callback",
    "EpisodeChunk": "packer",
    "EvaluationTasks": "env",
    "PLRFeeder": "feeder",
    "Rollout": "packer",
    "RolloutPacker": "packer",
    "configure_curriculum": "configure",
    "curriculum_env_config": "settings",
    "curriculum_of": "callback",
    "make_env_creator": "env",
}


__getattr__ = lazy_names(__name__, {name: f"{__name__}.{module}" for name, module in _MODULE_OF.items()})


# In the order the API page lists them (docs/api/integrations.md: members_order: __all__).
__all__ = [
    "SETTINGS_KEY",
    "CHECKPOINT_FILE",
    "CHUNKS_KEY",
    "EvaluationTasks",
    "CurriculumCallback",
    "EpisodeChunk",
    "Rollout",
    "RolloutPacker",
    "PLRFeeder",
    "curriculum_env_config",
    "configure_curriculum",
    "make_env_creator",
    "curriculum_of",
]
