"""Reinforcement learning, a first step: a corridor and a bandit, discounted returns, REINFORCE (Williams 1992)."""
from __future__ import annotations

import torch
from torch import nn

LEFT, RIGHT = 0, 1


class Corridor:
    """A 1-D corridor of `length` cells: start in cell 0, reward 1 on reaching the last cell (the episode ends).

    Actions: 0 = left (a wall stops it at cell 0), 1 = right. An episode also ends after `horizon` steps.
    API: ``reset() -> state``; ``step(action) -> (state, reward, done)``. The dynamics are deterministic."""

    num_actions = 2

    def __init__(self, length: int = 6, *, horizon: int = 20) -> None:
        if not isinstance(length, int) or length < 2:
            raise ValueError(f"length must be an int >= 2, got {length!r}")
        if not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon must be an int >= 1, got {horizon!r}")
        self.length, self.horizon = length, horizon
        self.num_states = length
        self.state: int | None = None
        self.t = 0

    def reset(self) -> int:
        self.state, self.t = 0, 0
        return self.state

    def step(self, action: int) -> tuple[int, float, bool]:
        if self.state is None:
            raise RuntimeError("call reset() before step(), and again after an episode ends")
        if action not in (LEFT, RIGHT):
            raise ValueError(f"action must be 0 (left) or 1 (right), got {action!r}")
        self.state = max(self.state - 1, 0) if action == LEFT else self.state + 1
        self.t += 1
        reward = 1.0 if self.state == self.length - 1 else 0.0
        done = reward > 0 or self.t >= self.horizon
        state = self.state
        if done:
            self.state = None
        return state, reward, done

    def optimal_return(self, gamma: float) -> float:
        """Walk right every step: the reward 1 arrives on step length-1, discounted gamma**(length-2)."""
        return gamma ** (self.length - 2)


class Bandit:
    """A one-step problem: pulling arm a pays a Gaussian reward with mean means[a] and std `std`."""

    def __init__(self, means: list[float] | torch.Tensor, *, std: float = 1.0, seed: int = 0) -> None:
        self.means = torch.as_tensor(means, dtype=torch.float64)
        if self.means.dim() != 1 or len(self.means) < 2:
            raise ValueError(f"means must be a 1-D list of at least 2 arms, got shape {tuple(self.means.shape)}")
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        self.std, self.num_actions = std, len(self.means)
        self.generator = torch.Generator().manual_seed(seed)

    def pull(self, actions: torch.Tensor) -> torch.Tensor:
        """(M,) int arms -> (M,) float64 rewards."""
        actions = torch.as_tensor(actions)
        if actions.dtype not in (torch.int32, torch.int64) or ((actions < 0) | (actions >= self.num_actions)).any():
            raise ValueError(f"actions must be integers in [0, {self.num_actions}), got {actions}")
        noise = torch.randn(actions.shape, generator=self.generator, dtype=torch.float64)
        return self.means[actions] + self.std * noise


def discounted_returns(rewards: list[float] | torch.Tensor, gamma: float) -> torch.Tensor:
    """(T,) rewards r_1..r_T -> (T,) returns G_t = r_{t+1} + gamma * G_{t+1}, computed backwards."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    rewards = torch.as_tensor(rewards, dtype=torch.float64)
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be a 1-D sequence, got shape {tuple(rewards.shape)}")
    returns, G = torch.zeros_like(rewards), 0.0
    for t in reversed(range(len(rewards))):
        G = rewards[t] + gamma * G
        returns[t] = G
    return returns


def policy_value(env: Corridor, probs: torch.Tensor, gamma: float) -> float:
    """Exact expected return from the start for a tabular policy probs (num_states, 2), by backward induction."""
    if probs.shape != (env.num_states, 2):
        raise ValueError(f"probs must have shape ({env.num_states}, 2), got {tuple(probs.shape)}")
    probs = probs.double()
    states = torch.arange(env.num_states)
    left, right = (states - 1).clamp(min=0), states + 1
    V = torch.zeros(env.num_states + 1, dtype=torch.float64)        # steps left = 0: nothing more to earn
    for _ in range(env.horizon):
        goal = torch.zeros(env.num_states + 1, dtype=torch.float64)
        goal[env.length - 1] = 1.0
        V_next = V.clone()
        V_next[env.length - 1] = 0.0                                  # the goal ends the episode
        q_left = goal[left] + gamma * V_next[left]
        q_right = goal[right] + gamma * V_next[right]
        V = torch.cat([probs[:, 0] * q_left + probs[:, 1] * q_right, torch.zeros(1, dtype=torch.float64)])
    return V[0].item()


def rollout(env: Corridor, policy: nn.Module, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One episode with actions sampled from softmax(policy(one-hot state)) -> states, actions, rewards (T,)."""
    with torch.no_grad():
        probs = torch.softmax(policy(torch.eye(env.num_states)), dim=1)   # (S, 2): one forward per episode
    states, actions, rewards = [], [], []
    state, done = env.reset(), False
    while not done:
        action = int(torch.multinomial(probs[state], 1, generator=generator))
        next_state, reward, done = env.step(action)
        states.append(state), actions.append(action), rewards.append(reward)
        state = next_state
    return torch.tensor(states), torch.tensor(actions), torch.tensor(rewards, dtype=torch.float64)


def reinforce_loss(logits: torch.Tensor, actions: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """(T, A) logits, (T,) actions, (T,) G_t - b_t -> scalar; its gradient is minus the REINFORCE estimate."""
    if logits.dim() != 2 or actions.shape != (len(logits),) or advantages.shape != (len(logits),):
        raise ValueError(f"expected logits (T, A), actions (T,), advantages (T,); got {tuple(logits.shape)}, "
                         f"{tuple(actions.shape)}, {tuple(advantages.shape)}")
    log_probs = torch.log_softmax(logits, dim=1).gather(1, actions[:, None]).squeeze(1)   # log pi(a_t | s_t)
    return -(log_probs * advantages.to(log_probs.dtype)).sum()


def reinforce_step(env: Corridor, policy: nn.Module, optimizer: torch.optim.Optimizer, *, gamma: float,
                   generator: torch.Generator, baseline: torch.Tensor | None = None,
                   baseline_lr: float = 0.1) -> float:
    """Play one episode and take one gradient step; with a baseline (num_states,) table, subtract b(s_t) from G_t
    and then move b(s_t) towards G_t (a learned value). Returns the episode's return G_0."""
    states, actions, rewards = rollout(env, policy, generator)
    returns = discounted_returns(rewards, gamma)
    advantages = returns if baseline is None else returns - baseline[states]
    optimizer.zero_grad()
    reinforce_loss(policy(torch.eye(env.num_states)[states]), actions, advantages).backward()
    optimizer.step()
    if baseline is not None:                 # updated after the step: b(s_t) never depends on this episode's a_t
        for s, G in zip(states.tolist(), returns.tolist()):
            baseline[s] += baseline_lr * (G - baseline[s])
    return returns[0].item()
