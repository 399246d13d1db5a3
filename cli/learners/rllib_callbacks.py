"""RLlib callbacks of ``learner=rllib_ppo``; they run in the env runners (imports RLlib)."""

from __future__ import annotations

from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback
from syllabus.cli.learners.rllib import EPISODES_KEY


class EpisodeReporter(RLlibCallback):
    """Reports each finished training episode as ``(env id, task, return, length)`` in the iteration's results.

    The return is summed over the episode's chunks (an episode may span several rollouts); the
    task is the one its reset put in ``info["task"]``. Evaluation episodes are not reported.
    """

    def on_episode_end(
        self,
        *,
        episode: Any,
        prev_episode_chunks: list[Any] | None = None,
        env_runner: Any = None,
        metrics_logger: Any = None,
        env_index: int = 0,
        **kwargs: Any,
    ) -> None:
        if env_runner is None or metrics_logger is None or env_runner.config.in_evaluation:
            return
        chunks = [*(prev_episode_chunks or []), episode]
        task = chunks[0].get_infos(0).get("task")
        episode_return = float(sum(chunk.get_return() for chunk in chunks))
        # Steps since the reset: summing the chunks' lengths would count the step PPO's learner
        # appends to each earlier chunk, which is this very object when the driver samples.
        length = int(episode.t)
        runner = max(getattr(env_runner, "worker_index", 0), 1) - 1
        env_id = runner * env_runner.num_envs + env_index
        metrics_logger.log_value(EPISODES_KEY, (env_id, task, episode_return, length), reduce="item_series")
