"""A hand-written PPO loop on CartPole with a Prioritized Level Replay curriculum.

The task is the half-width of CartPole's initial-state range, chosen from a short list. The
environments run in a gymnasium ``AsyncVectorEnv`` (worker processes); the curriculum lives in
this process, hands every env its next task on reset and, after each rollout, scores the tasks
from the learner's value predictions (``curriculum.custom_update``).

    python examples/custom_loop.py --total-timesteps 20000

Gymnasium 1.x vector envs reset a finished sub-env on its *next* ``step()`` call (the default
NEXT_STEP autoreset mode): that call ignores the action, returns reward 0 and the first
observation of the new episode, and its info holds the new task. This loop stores those
"autoreset steps" like any other step but masks them out of the PPO loss.
"""
# smoke-args: --total-timesteps 1024 --num-envs 2 --num-steps 64

from __future__ import annotations

import argparse
import time
from functools import partial

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from syllabus.core import MultiProcessingSyncWrapper, TaskQueue, UpdateQueue, make_multiprocessing_curriculum
from syllabus.curricula.plr import PrioritizedLevelReplay
from syllabus.envs.cartpole import make_cartpole
from syllabus.task_space import DiscreteTaskSpace, TaskSpace

HALF_WIDTHS = [0.02, 0.05, 0.08, 0.11, 0.14, 0.17, 0.2]


# --8<-- [start:env]
def make_env(task_space: TaskSpace, task_queue: TaskQueue, update_queue: UpdateQueue) -> gym.Env:
    """Env factory, run in each worker process: CartPole with tasks, synced to the curriculum."""
    return MultiProcessingSyncWrapper(make_cartpole(task_space), task_queue, update_queue)


# --8<-- [end:env]


class ActorCritic(nn.Module):
    """Separate two-layer tanh MLPs for the policy logits and the value."""

    def __init__(self, obs_size: int, num_actions: int, hidden: int = 64) -> None:
        super().__init__()

        def mlp(out_size: int, out_std: float) -> nn.Sequential:
            layers = [nn.Linear(obs_size, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, out_size)]
            for layer, std in zip(layers, (np.sqrt(2), np.sqrt(2), out_std), strict=True):
                nn.init.orthogonal_(layer.weight, std)
                nn.init.zeros_(layer.bias)
            return nn.Sequential(layers[0], nn.Tanh(), layers[1], nn.Tanh(), layers[2])

        self.actor = mlp(num_actions, 0.01)
        self.critic = mlp(1, 1.0)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def act(
        self, obs: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Samples an action (unless given); returns it with its log-prob, the entropy and the value."""
        dist = torch.distributions.Categorical(logits=self.actor(obs))
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.value(obs)


def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    dones: np.ndarray,
    next_value: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> np.ndarray:
    """Advantages of a ``(num_steps, num_envs)`` rollout; ``dones[t]``: the episode ended after step t."""
    advantages = np.zeros_like(rewards)
    last = np.zeros_like(next_value)
    for t in reversed(range(len(rewards))):
        following = next_value if t == len(rewards) - 1 else values[t + 1]
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * following * nonterminal - values[t]
        last = delta + gamma * gae_lambda * nonterminal * last
        advantages[t] = last
    return advantages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total-timesteps", type=int, default=20_000)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--num-steps", type=int, default=128, help="steps per env per rollout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=5, help="print every this many updates")
    parser.add_argument("--lr", type=float, default=2.5e-4)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--gae-lambda", type=float, default=0.95)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--minibatches", type=int, default=4)
    parser.add_argument("--clip", type=float, default=0.2)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    num_steps, num_envs = args.num_steps, args.num_envs
    num_updates = max(1, args.total_timesteps // (num_steps * num_envs))

    # --8<-- [start:curriculum]
    task_space = DiscreteTaskSpace(HALF_WIDTHS)
    curriculum, task_queue, update_queue = make_multiprocessing_curriculum(
        PrioritizedLevelReplay(task_space, random_seed=args.seed)
    )
    envs = None
    try:
        envs = gym.vector.AsyncVectorEnv(
            [partial(make_env, task_space, task_queue, update_queue)] * num_envs, context="forkserver"
        )
        # --8<-- [end:curriculum]
        agent = ActorCritic(
            int(np.prod(envs.single_observation_space.shape)), int(envs.single_action_space.n)
        )
        optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)

        # Rollout storage, (num_steps, num_envs).
        obs_buf = np.zeros((num_steps, num_envs, *envs.single_observation_space.shape), dtype=np.float32)
        actions = np.zeros((num_steps, num_envs), dtype=np.int64)
        logprobs = np.zeros((num_steps, num_envs), dtype=np.float32)
        rewards = np.zeros((num_steps, num_envs), dtype=np.float32)
        dones = np.zeros((num_steps, num_envs), dtype=bool)  # the episode ended after this step
        values = np.zeros((num_steps, num_envs), dtype=np.float32)
        tasks = np.zeros((num_steps, num_envs), dtype=np.int64)  # encoded task of obs_buf[t]
        autoreset = np.zeros((num_steps, num_envs), dtype=bool)  # the step that only resets the env

        next_obs, infos = envs.reset(seed=args.seed)
        # Each env's current task, encoded; every reset info carries it (masked by "_task").
        current_task = np.array([task_space.encode(task) for task in infos["task"]], dtype=np.int64)
        resetting = np.zeros(num_envs, dtype=bool)  # the next step() of this env is an autoreset step
        episode_return = np.zeros(num_envs)
        recent_returns: list[float] = []
        global_step = 0
        start = time.time()
        print(
            f"PPO + PLR on CartPole: {num_envs} envs, {num_updates} updates of {num_steps * num_envs} steps"
        )

        for update in range(1, num_updates + 1):
            # ---------------------------------------------------------------- rollout
            for t in range(num_steps):
                obs_buf[t] = next_obs
                tasks[t] = current_task
                autoreset[t] = resetting
                with torch.no_grad():
                    action, logprob, _, value = agent.act(torch.as_tensor(next_obs))
                actions[t], logprobs[t], values[t] = action.numpy(), logprob.numpy(), value.numpy()

                next_obs, reward, terminated, truncated, infos = envs.step(action.numpy())
                global_step += num_envs
                rewards[t] = reward
                dones[t] = terminated | truncated
                resetting = dones[t]

                # --8<-- [start:task]
                # An autoreset step returns the new episode's reset info, with its task.
                if "_task" in infos:
                    for env in np.flatnonzero(infos["_task"]):
                        current_task[env] = task_space.encode(infos["task"][env])
                # --8<-- [end:task]
                episode_return += reward
                for env in np.flatnonzero(dones[t]):
                    recent_returns.append(float(episode_return[env]))
                    episode_return[env] = 0.0

            with torch.no_grad():
                next_value = agent.value(torch.as_tensor(next_obs)).numpy()

            # ------------------------------------------------------ curriculum update
            # --8<-- [start:update]
            # PLR scores each episode from its rewards and values and takes no mask, so each
            # autoreset step is handed to it as the last step of the episode that just ended, with
            # reward 0 and value 0: the done moves from the real last step to the autoreset step,
            # whose TD error is then 0, and the real last step still bootstraps with 0. An env
            # whose last step ended an episode bootstraps with 0 too; its autoreset step comes
            # first in the next rollout, still with that episode's task.
            curriculum.custom_update(
                tasks,
                rewards,
                autoreset,
                np.where(autoreset, 0.0, values),
                np.where(resetting, 0.0, next_value),
            )
            # --8<-- [end:update]

            # -------------------------------------------------------------- PPO update
            advantages = compute_gae(rewards, values, dones, next_value, args.gamma, args.gae_lambda)
            returns = advantages + values
            train = ~autoreset.reshape(-1)  # autoreset steps ignored their action: not trained on
            b_obs = torch.as_tensor(obs_buf.reshape(-1, obs_buf.shape[-1])[train])
            b_actions = torch.as_tensor(actions.reshape(-1)[train])
            b_logprobs = torch.as_tensor(logprobs.reshape(-1)[train])
            b_advantages = torch.as_tensor(advantages.reshape(-1)[train])
            b_returns = torch.as_tensor(returns.reshape(-1)[train])
            batch_size = len(b_obs)
            minibatch_size = max(1, batch_size // args.minibatches)
            for _ in range(args.epochs):
                for idx in torch.randperm(batch_size).split(minibatch_size):
                    _, new_logprob, entropy, new_value = agent.act(b_obs[idx], b_actions[idx])
                    ratio = (new_logprob - b_logprobs[idx]).exp()
                    adv = b_advantages[idx]
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8) if len(idx) > 1 else adv
                    policy_loss = -torch.min(
                        ratio * adv, ratio.clamp(1 - args.clip, 1 + args.clip) * adv
                    ).mean()
                    value_loss = 0.5 * (new_value - b_returns[idx]).pow(2).mean()
                    loss = policy_loss + 0.5 * value_loss - 0.01 * entropy.mean()
                    optimizer.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
                    optimizer.step()

            if update % args.log_every == 0 or update in (1, num_updates):
                mean_return = np.mean(recent_returns[-20:]) if recent_returns else float("nan")
                print(
                    f"update {update:>4}/{num_updates}  steps {global_step:>7}  "
                    f"mean return (last 20 episodes) {mean_return:6.1f}  {time.time() - start:5.1f} s"
                )

        dist = curriculum.task_distribution()
        print(
            "task probabilities:",
            ", ".join(f"{task}: {p:.2f}" for task, p in zip(task_space.tasks, dist, strict=True)),
        )
        print(f"done: {global_step} steps, {len(recent_returns)} episodes")
    finally:
        if envs is not None:
            envs.close()
        curriculum.close()


if __name__ == "__main__":
    main()
