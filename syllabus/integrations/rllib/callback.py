"""The callback that connects an algorithm to its curriculum, and the algorithm's handle on it."""

from __future__ import annotations

import logging
import pickle
import uuid
from typing import TYPE_CHECKING, Any

from syllabus.core.errors import CurriculumError
from syllabus.integrations.rllib._ray import (
    RayCurriculumWrapper,
    RLlibCallback,
    attach_ray_curriculum,
    make_ray_curriculum,
)
from syllabus.integrations.rllib.checkpoints import hook_checkpoints_and_stop
from syllabus.integrations.rllib.env import AttachEnvs
from syllabus.integrations.rllib.feeder import FeederInstaller
from syllabus.integrations.rllib.settings import check_evaluation_settings, check_vectorize_mode, settings_of

if TYPE_CHECKING:
    from ray.rllib.algorithms.algorithm import Algorithm

logger = logging.getLogger(__name__)


class CurriculumCallback(RLlibCallback):
    """Connects an RLlib algorithm to its curriculum; added by [`configure_curriculum`][syllabus.integrations.rllib.configure_curriculum].

    * When the algorithm is built (``on_algorithm_init``): starts the algorithm's own curriculum
      actor (settings with a ``Curriculum``; named after the Tune trial) or attaches to the shared
      one (a handle that never kills it; in a Tune trial with a warning that trials share it);
      attaches the training envs to it; refuses ``gym_env_vectorize_mode="async"``, evaluation
      env runners without the evaluation settings, and the PLR feeder with more than one learner;
      installs the [`PLRFeeder`][syllabus.integrations.rllib.PLRFeeder] when ``feed_plr`` is set;
      and hooks the algorithm so that its checkpoints (``algo.save()``, ``save_to_path``, Tune's)
      carry the curriculum's state ([`CHECKPOINT_FILE`][syllabus.integrations.rllib.CHECKPOINT_FILE]),
      restoring them (``algo.restore()``, ``restore_from_path``, ``Algorithm.from_checkpoint``,
      Tune's trial restore) restores it, and ``algo.stop()`` stops its own actor after the envs.
    * After every ``train()`` (``on_train_result``): puts the curriculum's metrics in
      ``result["curriculum"]``; if the curriculum failed while serving envs, ``train()`` raises its error.
    * When env runners are recreated after a failure: attaches their envs.
    * When an env is created in an evaluation env runner: refuses it unless its settings say
      ``evaluation=True``, so evaluation episodes never reach the curriculum.

    Attributes:
        curriculum: The algorithm's handle on its curriculum (set when the algorithm is built).
    """

    def __init__(self) -> None:
        super().__init__()
        self.curriculum: RayCurriculumWrapper | None = None
        self._actor: tuple[str, str | None] | None = None

    def on_algorithm_init(self, *, algorithm: Algorithm, metrics_logger: Any = None, **kwargs: Any) -> None:
        """Starts or attaches to the curriculum, attaches the envs, checks the configuration, installs the feeder.

        Args:
            algorithm: The RLlib algorithm being built.
            metrics_logger: RLlib's metrics logger (unused).
            kwargs: Keyword arguments, passed on unchanged.
        """
        config, learner_group = algorithm.config, algorithm.learner_group
        if config is None or learner_group is None:
            raise CurriculumError("CurriculumCallback needs RLlib's new API stack (EnvRunners and Learners)")
        settings = settings_of(config.env_config)
        check_vectorize_mode(config)
        evaluation_config = getattr(algorithm, "evaluation_config", None)
        if evaluation_config is not None and config.evaluation_interval:
            check_evaluation_settings(evaluation_config.env_config)
        if settings["feed_plr"] and config.num_learners > 1:
            raise CurriculumError(
                f"the PLR feeder needs one learner to see every training episode in order, got "
                f"num_learners={config.num_learners}: use num_learners=0 or 1"
            )
        self.curriculum = _start_or_attach(algorithm, settings)
        try:
            name, namespace = self.curriculum.name, self.curriculum.namespace
            self._actor = (name, namespace)
            hook_checkpoints_and_stop(algorithm, self.curriculum)
            if algorithm.env_runner_group is not None:
                algorithm.env_runner_group.foreach_env_runner(
                    AttachEnvs(name, namespace), local_env_runner=True
                )
            if settings["feed_plr"]:
                num_lanes = max(config.num_env_runners, 1) * config.num_envs_per_env_runner
                learner_group.foreach_learner(
                    FeederInstaller(name, namespace, settings["timeout"], num_lanes)
                )
        except BaseException:
            self.curriculum.close()
            raise

    def on_env_runners_recreated(
        self,
        *,
        algorithm: Algorithm,
        env_runner_group: Any,
        env_runner_indices: list[int],
        is_evaluation: bool,
        **kwargs: Any,
    ) -> None:
        """Attaches the training envs of recreated env runners to the curriculum."""
        if not is_evaluation and self._actor is not None:
            env_runner_group.foreach_env_runner(
                AttachEnvs(*self._actor), remote_worker_ids=env_runner_indices, local_env_runner=False
            )

    def on_train_result(
        self, *, algorithm: Algorithm, metrics_logger: Any = None, result: dict, **kwargs: Any
    ) -> None:
        """Adds the curriculum's metrics to ``result["curriculum"]``; raises the curriculum's error if it failed.

        Args:
            algorithm: The RLlib algorithm.
            metrics_logger: RLlib's metrics logger (unused).
            result: The training iteration's result dict, extended in place.
            kwargs: Keyword arguments, passed on unchanged.
        """
        if self.curriculum is not None:
            result["curriculum"] = self.curriculum.log_metrics()

    def on_environment_created(
        self, *, env_runner: Any, metrics_logger: Any = None, env: Any, env_context: Any, **kwargs: Any
    ) -> None:
        """Refuses a curriculum-synced env in an evaluation env runner.

        Args:
            env_runner: The env runner that built the env.
            metrics_logger: RLlib's metrics logger (unused).
            env: The env (vector env) just created.
            env_context: RLlib's env context of that env.
            kwargs: Keyword arguments, passed on unchanged.
        """
        if env_runner.config.in_evaluation:
            check_evaluation_settings(env_context)


def ensure_curriculum_callback(*, algorithm: Algorithm, metrics_logger: Any = None, **kwargs: Any) -> None:
    """``on_algorithm_init`` guard added by configure_curriculum: puts back a CurriculumCallback that a
    later ``config.callbacks(...)`` replaced (RLlib keeps function callbacks apart from callback classes)."""
    callbacks = algorithm.callbacks
    if any(isinstance(callback, CurriculumCallback) for callback in callbacks):
        return
    logger.warning(
        "config.callbacks(...) replaced the CurriculumCallback that configure_curriculum added; Syllabus adds "
        "it back for the algorithm (not for env runners, where it guards evaluation envs). Pass both to avoid "
        "this: config.callbacks([YourCallback, CurriculumCallback])"
    )
    callback = CurriculumCallback()
    callbacks.append(callback)
    callback.on_algorithm_init(algorithm=algorithm, metrics_logger=metrics_logger)


def curriculum_of(algorithm: Algorithm) -> RayCurriculumWrapper:
    """The curriculum of an algorithm built from a config set up by [`configure_curriculum`][syllabus.integrations.rllib.configure_curriculum].

    Use it like the curriculum (e.g. ``curriculum_of(algo).scores``); the algorithm owns it when
    it serves its own: ``algo.stop()`` stops it.

    Raises:
        CurriculumError: The algorithm has no [`CurriculumCallback`][syllabus.integrations.rllib.CurriculumCallback].
    """
    for callback in algorithm.callbacks or []:
        if isinstance(callback, CurriculumCallback) and callback.curriculum is not None:
            return callback.curriculum
    raise CurriculumError(
        "this algorithm has no curriculum: build it from a config set up by configure_curriculum"
    )


def _trial_of(algorithm: Algorithm) -> str | None:
    """The Tune trial running ``algorithm`` (its directory name, which holds the trial id), ``None`` outside Tune.

    RLlib drops Tune's trial info when it turns the trial's config into an ``AlgorithmConfig``
    (``algorithm.trial_id`` stays ``"default"``); the trial's storage context keeps its directory.
    """
    trial = getattr(algorithm, "trial_id", "default")
    if trial not in (None, "default"):
        return str(trial)
    storage = getattr(algorithm, "_storage", None)  # set by Tune only
    return getattr(storage, "trial_dir_name", None) or None


def _start_or_attach(algorithm: Algorithm, settings: dict[str, Any]) -> RayCurriculumWrapper:
    trial = _trial_of(algorithm)
    in_trial = trial is not None
    if settings["curriculum"] is None:
        curriculum = attach_ray_curriculum(
            settings["name"], settings["namespace"], timeout=settings["timeout"]
        )
        if in_trial:
            logger.warning(
                "Tune trial %s trains with the shared curriculum actor %r: every trial configured with it feeds "
                "one curriculum. Pass the Curriculum itself to configure_curriculum for one curriculum per trial.",
                trial,
                settings["name"],
            )
        return curriculum
    suffix = uuid.uuid4().hex[:8]
    name = settings["name"] or (
        f"syllabus-curriculum-{trial}-{suffix}" if in_trial else f"syllabus-curriculum-{suffix}"
    )
    options = settings["actor_options"]
    return make_ray_curriculum(
        pickle.loads(settings["curriculum"]),
        name,
        settings["namespace"],
        timeout=settings["timeout"],
        actor_options=options() if callable(options) else options,
    )
