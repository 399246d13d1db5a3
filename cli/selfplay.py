"""Self-play runs: the opponent pool, its curricula (``sp``, ``fsp``, ``pfsp``), the envs that load
opponents from it, and the snapshots of the learner's policy.

The curriculum owns an [`OpponentPool`][syllabus.curricula.OpponentPool] (a private temporary
directory of pickled snapshots; a checkpoint holds the snapshots in the curriculum state). It starts
with ``env.initial_opponents`` (fixed opponents, ids 0, 1, ... in that order); then every
``curriculum.snapshot_interval`` env steps
[`SnapshotCallback`][syllabus.cli.learners.sb3_callbacks.SnapshotCallback] adds a snapshot of the learner's
policy. Envs get the pool with their config
([`PooledEnvConfig`][syllabus.cli.selfplay.PooledEnvConfig]), load the opponent of each task (an
id) from it and play it in the other seat ([`PoolOpponents`][syllabus.cli.selfplay.PoolOpponents]).

A snapshot is a dict: ``{"fixed": name}`` for a fixed opponent, or ``{"policy_class",
"observation_space", "action_space", "policy_kwargs", "state_dict"}`` for a policy (the SB3 policy
is rebuilt from it in the env's process).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any, cast

import numpy as np
from syllabus.cli.curricula.self_play import PFSPConfig, SelfPlayConfig
from syllabus.cli.envs.connect_four import ConnectFourEnvConfig
from syllabus.cli.errors import ConfigError
from syllabus.cli.schema import RunConfig

CACHED_POLICIES = 4
"""Policy opponents each env keeps built (least recently used dropped first)."""


@dataclasses.dataclass
class PooledEnvConfig:
    """What the env factories of a self-play run get: the env's config and the run's opponent pool.

    Attributes:
        env: The env's config.
        pool: The curriculum's pool (it pickles to a small handle: envs in other processes load from its store).
    """

    env: ConnectFourEnvConfig
    pool: Any


def is_self_play(run: RunConfig) -> bool:
    """Whether the run's curriculum chooses opponents from a pool (``sp``, ``fsp``, ``pfsp``)."""
    return isinstance(run.curriculum, SelfPlayConfig)


def opponent_name(agent_id: int, initial_opponents: list[str]) -> str:
    """How plots and ``syllabus eval`` name a pool id: a fixed opponent's name, or ``snapshot N`` (from 1)."""
    if agent_id < len(initial_opponents):
        return initial_opponents[agent_id]
    return f"snapshot {agent_id - len(initial_opponents) + 1}"


def make_self_play_curriculum(run: RunConfig) -> Any:
    """The self-play curriculum of ``run``, its pool holding ``env.initial_opponents`` (ids 0, 1, ...)."""
    from syllabus.curricula import (
        FictitiousSelfPlay,
        OpponentCurriculum,
        OpponentPool,
        PrioritizedFictitiousSelfPlay,
        SelfPlay,
    )
    from syllabus.curricula.self_play import Weighting

    cfg = run.curriculum
    common = {"random_seed": run.seed, "record_stats": True, "window": cfg.window}
    pool = OpponentPool(max_agents=cfg.max_agents)
    curriculum: OpponentCurriculum
    try:
        if isinstance(cfg, PFSPConfig):
            # validate() checked cfg.weighting against the weightings (the schema's field is a str).
            weighting = cast(Weighting, cfg.weighting)
            curriculum = PrioritizedFictitiousSelfPlay(
                pool, weighting=weighting, exponent=cfg.exponent, **common
            )
        elif cfg.name == "fsp":
            curriculum = FictitiousSelfPlay(pool, **common)
        elif cfg.name == "sp":
            curriculum = SelfPlay(pool, **common)
        else:
            raise ConfigError(f"curriculum.name: no self-play builder for {cfg.name!r}")
        for name in run.env.initial_opponents:
            curriculum.add_agent({"fixed": name})
    except BaseException:
        pool.close()
        raise
    return curriculum


def with_opponent_pool(run: RunConfig, curriculum: Any) -> RunConfig:
    """``run`` with its env config carrying ``curriculum``'s pool
    ([`PooledEnvConfig`][syllabus.cli.selfplay.PooledEnvConfig]) for a self-play run; ``run`` itself
    otherwise."""
    if not is_self_play(run) or curriculum is None:
        return run
    return dataclasses.replace(run, env=PooledEnvConfig(run.env, curriculum.pool))


def make_pooled_env(cfg: PooledEnvConfig) -> Any:
    """The Connect Four env of a self-play run: tasks are pool ids, opponents loaded from the pool."""
    from syllabus.curricula import OpponentTaskSpace
    from syllabus.envs.connect_four import make_connect_four

    return make_connect_four(OpponentTaskSpace(), PoolOpponents(cfg.pool), seat=cfg.env.seat)


class PoolOpponents:
    """Loads the opponent of a pool id: a fixed opponent, or a policy rebuilt from its snapshot.

    Args:
        pool: The run's opponent pool.
    """

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._built: OrderedDict[int, Any] = OrderedDict()

    def __call__(self, agent_id: int) -> Any:
        from syllabus.envs.connect_four import FIXED_OPPONENTS

        if agent_id in self._built:
            self._built.move_to_end(agent_id)
            return self._built[agent_id]
        snapshot = self.pool.load(agent_id)
        if "fixed" in snapshot:
            opponent = FIXED_OPPONENTS[snapshot["fixed"]]()
        else:
            opponent = PolicyOpponent(build_policy(snapshot))
        self._built[agent_id] = opponent
        while len(self._built) > CACHED_POLICIES:
            self._built.popitem(last=False)
        return opponent


class PolicyOpponent:
    """An SB3 (maskable) policy in the opponent's seat: samples a legal column from the policy's distribution.

    Args:
        policy: An SB3 policy whose ``get_distribution`` takes ``action_masks`` (sb3-contrib's maskable policies).
    """

    def __init__(self, policy: Any) -> None:
        self.policy = policy

    def act(self, observation: np.ndarray, action_mask: np.ndarray, rng: np.random.Generator) -> int:
        import torch
        from stable_baselines3.common.preprocessing import preprocess_obs

        # The policy's action logits, computed directly: building SB3's masked distribution object for
        # one move costs several times the network's forward pass.
        with torch.no_grad():
            obs = preprocess_obs(
                torch.as_tensor(observation[None]),
                self.policy.observation_space,
                self.policy.normalize_images,
            )
            latent = self.policy.mlp_extractor.forward_actor(self.policy.pi_features_extractor(obs))
            logits = self.policy.action_net(latent)[0].numpy().astype(np.float64)
        logits[~np.asarray(action_mask, dtype=bool)] = -np.inf
        probs = np.exp(logits - logits.max())
        return int(rng.choice(len(probs), p=probs / probs.sum()))


def policy_snapshot(policy: Any) -> dict[str, Any]:
    """A snapshot of an SB3 policy for the pool: its class, spaces, keyword arguments and CPU weights."""
    return {
        "policy_class": type(policy),
        "observation_space": policy.observation_space,
        "action_space": policy.action_space,
        "policy_kwargs": dict(policy._get_constructor_parameters()),
        "state_dict": {key: value.detach().cpu().clone() for key, value in policy.state_dict().items()},
    }


def build_policy(snapshot: dict[str, Any]) -> Any:
    """The SB3 policy of a [`policy_snapshot`][syllabus.cli.selfplay.policy_snapshot], on the CPU, for inference."""
    kwargs = {
        key: value
        for key, value in snapshot["policy_kwargs"].items()
        if key not in ("observation_space", "action_space", "lr_schedule")
    }
    policy = snapshot["policy_class"](
        snapshot["observation_space"], snapshot["action_space"], lambda _: 0.0, **kwargs
    )
    policy.load_state_dict(snapshot["state_dict"])
    policy.set_training_mode(False)
    return policy
