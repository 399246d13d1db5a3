"""Parameter sharing for PettingZoo envs in Stable-Baselines3: every agent is one entry of the vector env.

Two halves, so that PettingZoo envs run in any SB3 vector env (``SubprocVecEnv``, ``DummyVecEnv``,
[`RayVecEnv`][syllabus.integrations.ray_vec_env.RayVecEnv]) with a sync wrapper of any backend:

* [`StackedAgentsEnv`][syllabus.integrations.sb3_pettingzoo.StackedAgentsEnv] is a gymnasium env
  over one (synced) parallel env: observations and actions stacked over ``possible_agents``,
  built inside the vector env's worker like any other env;
* [`AgentsVecEnv`][syllabus.integrations.sb3_pettingzoo.AgentsVecEnv] turns a vector env of them
  into ``num_envs * num_agents`` single-agent entries, the shape SB3 algorithms train one shared
  policy on.

Agents must share one observation space and one action space. An agent absent from a step (it has
left the episode) gets a zero observation and reward 0 until every agent is done. Importing this
module imports Stable-Baselines3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

AGENT_REWARDS = "agent_rewards"


def _stacked(space: gym.Space, n: int) -> gym.Space:
    if isinstance(space, gym.spaces.Discrete):
        return gym.spaces.MultiDiscrete([int(space.n)] * n, start=[int(space.start)] * n)
    if isinstance(space, gym.spaces.Box):
        return gym.spaces.Box(
            np.broadcast_to(space.low, (n, *space.shape)),
            np.broadcast_to(space.high, (n, *space.shape)),
            dtype=space.dtype,  # type: ignore[arg-type]
        )
    raise TypeError(f"only Box and Discrete agent spaces can be stacked, got {space}")


class StackedAgentsEnv(gym.Env):
    """A parallel env as one gymnasium env: observations, actions and rewards stacked over its agents.

    ``step`` returns the agents' mean reward (the team's) and puts each agent's reward in
    ``info["agent_rewards"]`` (an array over ``possible_agents``); the episode ends when every
    agent is done. ``reset(new_task=...)``, ``task`` and ``task_space`` reach the parallel env, and
    the reset info holds its task in ``info["task"]``.

    Args:
        env: A PettingZoo parallel env (a task env, or a PettingZoo sync wrapper over one) whose
            agents share one observation and one action space.

    Raises:
        ValueError: The agents' spaces differ.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self.agents = list(env.possible_agents)
        obs_spaces = [env.observation_space(agent) for agent in self.agents]
        action_spaces = [env.action_space(agent) for agent in self.agents]
        if any(s != obs_spaces[0] for s in obs_spaces) or any(s != action_spaces[0] for s in action_spaces):
            raise ValueError(
                f"parameter sharing needs one observation space and one action space for all agents of {env}, "
                f"got {obs_spaces} and {action_spaces}"
            )
        self.agent_observation_space = obs_spaces[0]
        self.agent_action_space = action_spaces[0]
        self.observation_space = _stacked(self.agent_observation_space, len(self.agents))
        self.action_space = _stacked(self.agent_action_space, len(self.agents))
        template = np.asarray(self.observation_space.sample())
        self._obs_shape, self._obs_dtype = template.shape, template.dtype

    @property
    def task(self) -> Any:
        """The parallel env's current task."""
        return self.env.task

    @property
    def task_space(self) -> Any:
        """The parallel env's task space."""
        return self.env.task_space

    def _stack(self, obs: dict[Any, Any]) -> np.ndarray:
        stacked = np.zeros(self._obs_shape, self._obs_dtype)
        for i, agent in enumerate(self.agents):
            if agent in obs:
                stacked[i] = obs[agent]
        return stacked

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None, new_task: Any = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Resets the parallel env (into ``new_task`` when given); the info holds its task."""
        if new_task is None:
            obs, infos = self.env.reset(seed=seed, options=options)
        else:
            obs, infos = self.env.reset(seed=seed, options=options, new_task=new_task)
        info: dict[str, Any] = {"task": self.env.task}
        for agent_info in infos.values():
            if "task_metadata" in agent_info:
                info["task_metadata"] = agent_info["task_metadata"]
                break
        return self._stack(obs), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Steps every agent still in the episode with its row of ``action``."""
        action = np.asarray(action)
        live = set(self.env.agents)
        obs, rewards, terminations, truncations, infos = self.env.step(
            {
                agent: action[i].item() if action[i].ndim == 0 else action[i]
                for i, agent in enumerate(self.agents)
                if agent in live
            }
        )
        agent_rewards = np.array([float(rewards.get(agent, 0.0)) for agent in self.agents])
        done = not self.env.agents
        terminated = done and all(terminations.get(agent, True) for agent in rewards)
        info: dict[str, Any] = {AGENT_REWARDS: agent_rewards}
        completions = [i["task_completion"] for i in infos.values() if "task_completion" in i]
        if completions:
            info["task_completion"] = float(max(completions))
        return self._stack(obs), float(agent_rewards.mean()), terminated, done and not terminated, info

    def close(self) -> None:
        """Closes the parallel env (and its sync wrapper)."""
        self.env.close()


class AgentsVecEnv(VecEnv):
    """A vector env of [`StackedAgentsEnv`][syllabus.integrations.sb3_pettingzoo.StackedAgentsEnv]s
    seen as one entry per agent: entry ``e * num_agents + i`` is agent ``i`` of env ``e``.

    Rewards are each agent's own; dones, reset infos and ``info`` entries are the env's (copied
    per agent), with each agent's row of ``terminal_observation``.

    Args:
        venv: The vector env of stacked-agent envs.
        num_agents: Agents per env.
        observation_space: One agent's observation space.
        action_space: One agent's action space.
    """

    def __init__(
        self, venv: VecEnv, num_agents: int, observation_space: gym.Space, action_space: gym.Space
    ) -> None:
        self.venv = venv
        self.num_agents = num_agents
        super().__init__(venv.num_envs * num_agents, observation_space, action_space)
        self.reset_infos = self._flat_infos(venv.reset_infos)

    def _flat(self, array: np.ndarray) -> np.ndarray:
        return array.reshape(self.num_envs, *array.shape[2:])

    def _flat_infos(self, infos: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        flat = []
        for info in infos:
            for i in range(self.num_agents):
                agent_info = {
                    k: v for k, v in info.items() if k not in (AGENT_REWARDS, "terminal_observation")
                }
                if "terminal_observation" in info:
                    agent_info["terminal_observation"] = info["terminal_observation"][i]
                flat.append(agent_info)
        return flat

    def reset(self) -> np.ndarray:
        """Resets every env; one observation per agent."""
        obs = self.venv.reset()
        self.reset_infos = self._flat_infos(self.venv.reset_infos)
        return self._flat(obs)  # type: ignore[arg-type]

    def step_async(self, actions: np.ndarray) -> None:
        """Sends each env its agents' actions."""
        actions = np.asarray(actions)
        self.venv.step_async(actions.reshape(self.venv.num_envs, self.num_agents, *actions.shape[1:]))

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Each agent's observation, reward, done and info."""
        obs, _, dones, infos = self.venv.step_wait()
        rewards = np.concatenate([info[AGENT_REWARDS] for info in infos]).astype(np.float32)
        self.reset_infos = self._flat_infos(self.venv.reset_infos)
        return self._flat(obs), rewards, np.repeat(dones, self.num_agents), self._flat_infos(infos)  # type: ignore[arg-type]

    def close(self) -> None:
        """Closes the wrapped vector env."""
        self.venv.close()

    def seed(self, seed: int | None = None) -> Sequence[None | int]:
        """Seeds the wrapped vector env."""
        return self.venv.seed(seed)

    def _envs(self, indices: VecEnvIndices) -> list[int]:
        return [i // self.num_agents for i in self._get_indices(indices)]

    def _per_entry(self, indices: VecEnvIndices, values: Iterable[Any]) -> list[Any]:
        by_env = dict(zip(sorted(set(self._envs(indices))), values, strict=True))
        return [by_env[env] for env in self._envs(indices)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute of the env of each entry."""
        envs = sorted(set(self._envs(indices)))
        return self._per_entry(indices, self.venv.get_attr(attr_name, envs))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Sets the attribute in the env of each entry."""
        self.venv.set_attr(attr_name, value, sorted(set(self._envs(indices))))

    def env_method(
        self, method_name: str, *args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        """Calls the method once per env of the entries; each entry gets its env's result."""
        envs = sorted(set(self._envs(indices)))
        return self._per_entry(indices, self.venv.env_method(method_name, *args, indices=envs, **kwargs))

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """Whether the env of each entry is wrapped in ``wrapper_class``."""
        envs = sorted(set(self._envs(indices)))
        return self._per_entry(indices, self.venv.env_is_wrapped(wrapper_class, envs))


def agents_vec_env(venv: VecEnv, stacked: StackedAgentsEnv) -> AgentsVecEnv:
    """``venv`` (of envs like ``stacked``) with one entry per agent."""
    return AgentsVecEnv(
        venv, len(stacked.agents), stacked.agent_observation_space, stacked.agent_action_space
    )
