"""The PLR feeder: learner connector pieces that send each training batch to the curriculum's ``custom_update``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from syllabus.core.errors import CurriculumError
from syllabus.integrations.rllib._ray import ConnectorV2, attach_ray_curriculum
from syllabus.integrations.rllib.packer import EpisodeRecord, RolloutPacker, episode_chunks

if TYPE_CHECKING:
    from ray.rllib.core.learner.learner import Learner

logger = logging.getLogger(__name__)

_RECORDS_KEY = "syllabus_episode_records"
_STARVED_WARNING = 3
CHUNKS_KEY = "syllabus_chunks"
"""Key under which [`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder] leaves the chunks it sent in the learner connector's ``shared_data``."""


class _EpisodeRecorder(ConnectorV2):
    """First learner connector piece of the feeder: notes each episode chunk before PPO extends it by one step."""

    def __init__(self, encode: Callable[[Any], int]) -> None:
        super().__init__()
        self._encode = encode

    def __call__(self, *, episodes: list, batch: dict, shared_data: dict | None = None, **kwargs: Any) -> Any:
        records = []
        for episode in episodes:
            if not hasattr(episode, "get_rewards"):
                raise CurriculumError("the PLR feeder supports single-agent episodes only")
            first = episode.t_started == 0
            task = -1
            if first:
                info = episode.get_infos(0)
                if "task" not in info:
                    raise CurriculumError(
                        "a training episode has no 'task' in its reset info: build the env with "
                        "make_env_creator (or configure_curriculum) so it is synced with the curriculum"
                    )
                task = self._encode(info["task"])
            records.append(
                EpisodeRecord(
                    episode.id_,
                    first,
                    task,
                    np.asarray(episode.get_rewards(), dtype=np.float64),
                    bool(episode.is_terminated),
                    bool(episode.is_truncated),
                )
            )
        if shared_data is not None:
            shared_data[_RECORDS_KEY] = records
        return batch


class PLRFeeder(ConnectorV2):
    """Learner connector piece that sends each training batch to the curriculum's ``custom_update``.

    It runs last in PPO's learner connector pipeline, after the generalized advantage estimation,
    and computes the value estimates ``V(s_t)`` (and the bootstrap ``V`` after each chunk) with
    the learner's module on the very batch PPO's advantage estimation used, before the update:
    the same values PPO computed. Its `recorder` runs first in the pipeline and notes each
    chunk's id, task (from the reset ``info["task"]``), rewards, and whether it terminated or was
    truncated, before PPO appends its bootstrap step. The chunks are laid out by a
    [`RolloutPacker`][syllabus.integrations.rllib.RolloutPacker] and each rollout goes to ``custom_update(tasks, rewards, dones, values,
    next_values)``. The chunks sent are left in ``shared_data["syllabus_chunks"]``.

    Installed by [`CurriculumCallback`][syllabus.integrations.rllib.CurriculumCallback] when the settings say ``feed_plr=True``; single-agent,
    one learner, value-based PLR strategies.

    Args:
        curriculum: A handle on the curriculum (e.g. [`attach_ray_curriculum`][syllabus.core.attach_ray_curriculum]).
        num_lanes: Columns of each rollout; at least the number of envs sampling at once.
    """

    def __init__(self, curriculum: Any, num_lanes: int) -> None:
        super().__init__()
        from syllabus.curricula.plr.scoring import POLICY_STRATEGIES

        strategy = getattr(curriculum, "strategy", None)
        if strategy in POLICY_STRATEGIES:
            raise CurriculumError(
                f"the PLR feeder sends value estimates only; strategy {strategy!r} needs action "
                "distributions: use a value strategy such as 'value_l1'"
            )
        self.curriculum = curriculum
        self.packer = RolloutPacker(num_lanes, float(curriculum.gamma))
        self.recorder = _EpisodeRecorder(curriculum.task_space.encode)
        self._starved = 0  # training batches in a row with no rollout sent

    def __call__(
        self, *, rl_module: Any, batch: dict, episodes: list, shared_data: dict | None = None, **kwargs: Any
    ) -> Any:
        import torch
        from ray.rllib.core import DEFAULT_MODULE_ID
        from ray.rllib.utils.numpy import convert_to_numpy
        from ray.rllib.utils.postprocessing.zero_padding import unpad_data_if_necessary

        records = (shared_data or {}).get(_RECORDS_KEY)
        if records is None:
            raise CurriculumError(
                "the PLR feeder's recorder did not run first in the learner connector pipeline"
            )
        lengths = [len(episode) for episode in episodes]  # each extended by PPO's bootstrap step
        with torch.no_grad():
            values = rl_module[DEFAULT_MODULE_ID].compute_values(batch[DEFAULT_MODULE_ID])
        values = np.asarray(
            unpad_data_if_necessary(lengths, np.asarray(convert_to_numpy(values))), dtype=np.float64
        )
        chunks = episode_chunks(records, values, lengths)
        self.packer.add(chunks)
        rollout = self.packer.pop()
        if rollout is not None:
            self.curriculum.custom_update(*rollout)
            self._starved = 0
        else:
            self._starved += 1
            if self._starved == _STARVED_WARNING:
                empty = sum(lane.length == 0 for lane in self.packer.lanes)
                logger.warning(
                    "the PLR feeder sent nothing for %d training batches: %d of its %d lanes got no episodes. "
                    "Fewer envs sample than num_env_runners x num_envs_per_env_runner (failed env runners?)",
                    self._starved,
                    empty,
                    self.packer.num_lanes,
                )
        if shared_data is not None:
            shared_data[CHUNKS_KEY] = chunks
        return batch


class FeederInstaller:
    """Runs on each learner: adds the PLR feeder's two pieces around the learner connector pipeline."""

    def __init__(self, name: str, namespace: str | None, timeout: float, num_lanes: int) -> None:
        self.name = name
        self.namespace = namespace
        self.timeout = timeout
        self.num_lanes = num_lanes

    def __call__(self, learner: Learner, _: Any = None) -> None:
        curriculum = attach_ray_curriculum(self.name, self.namespace, timeout=self.timeout)
        feeder = PLRFeeder(curriculum, self.num_lanes)
        pipeline = learner._learner_connector  # noqa: SLF001 - RLlib offers no public accessor
        if pipeline is None:
            raise CurriculumError(
                f"{type(learner).__name__} has no learner connector pipeline to feed PLR from"
            )
        pipeline.prepend(feeder.recorder)
        pipeline.append(feeder)
