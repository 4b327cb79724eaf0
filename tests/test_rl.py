import math

import pytest
import torch
from torch import nn

from dlnotes import rl

pytestmark = pytest.mark.usefixtures("one_thread")


def test_discounted_returns_on_hand_made_rewards():
    G = rl.discounted_returns([0.0, 0.0, 1.0], 0.5)
    assert torch.equal(G, torch.tensor([0.25, 0.5, 1.0], dtype=torch.float64))
    assert torch.equal(rl.discounted_returns([1.0, 2.0, 3.0], 1.0), torch.tensor([6.0, 5.0, 3.0], dtype=torch.float64))
    assert torch.equal(rl.discounted_returns([1.0, 2.0, 3.0], 0.0), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert rl.discounted_returns([], 0.9).shape == (0,)


def test_discounted_returns_bad_input():
    with pytest.raises(ValueError, match="gamma"):
        rl.discounted_returns([1.0], 1.5)
    with pytest.raises(ValueError, match="1-D"):
        rl.discounted_returns([[1.0, 2.0]], 0.9)


def test_corridor_dynamics():
    env = rl.Corridor(4, horizon=10)
    assert env.reset() == 0
    assert env.step(rl.LEFT) == (0, 0.0, False)               # the wall at cell 0
    assert env.step(rl.RIGHT) == (1, 0.0, False)
    assert env.step(rl.RIGHT) == (2, 0.0, False)
    assert env.step(rl.RIGHT) == (3, 1.0, True)               # the goal pays 1 and ends the episode
    with pytest.raises(RuntimeError, match="reset"):
        env.step(rl.RIGHT)


def test_corridor_horizon_ends_episode():
    env = rl.Corridor(5, horizon=3)
    env.reset()
    dones = [env.step(rl.LEFT)[2] for _ in range(3)]
    assert dones == [False, False, True]


@pytest.mark.parametrize("action", [2, -1, 0.5, "right", None])
def test_corridor_invalid_action_raises(action):
    env = rl.Corridor(4)
    env.reset()
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_corridor_bad_construction():
    with pytest.raises(ValueError, match="length"):
        rl.Corridor(1)
    with pytest.raises(ValueError, match="horizon"):
        rl.Corridor(4, horizon=0)


def test_policy_value_optimal_and_random():
    env = rl.Corridor(5, horizon=20)
    always_right = torch.tensor([[0.0, 1.0]] * 5)
    assert math.isclose(rl.policy_value(env, always_right, 0.9), env.optimal_return(0.9), rel_tol=1e-12)
    always_left = torch.tensor([[1.0, 0.0]] * 5)
    assert rl.policy_value(env, always_left, 0.9) == 0.0
    # too short a horizon: the goal 4 steps away cannot be reached in 3
    assert rl.policy_value(rl.Corridor(5, horizon=3), always_right, 0.9) == 0.0
    with pytest.raises(ValueError, match="shape"):
        rl.policy_value(env, torch.ones(4, 2) / 2, 0.9)


def test_policy_value_matches_monte_carlo():
    env = rl.Corridor(4, horizon=8)
    g = torch.Generator().manual_seed(0)
    returns = []
    for _ in range(4000):
        env.reset()
        rewards = []
        for a in torch.randint(0, 2, (8,), generator=g).tolist():
            _, r, done = env.step(a)
            rewards.append(r)
            if done:
                break
        returns.append(rl.discounted_returns(rewards, 0.9)[0].item())
    returns = torch.tensor(returns)
    exact = rl.policy_value(env, torch.full((4, 2), 0.5), 0.9)
    assert abs(returns.mean().item() - exact) < 4 * returns.std().item() / math.sqrt(len(returns))


def test_bandit_is_deterministic_given_seed_and_checks_actions():
    a = torch.tensor([0, 1, 2, 1])
    r1 = rl.Bandit([0.0, 1.0, 2.0], std=0.1, seed=3).pull(a)
    r2 = rl.Bandit([0.0, 1.0, 2.0], std=0.1, seed=3).pull(a)
    assert torch.equal(r1, r2)
    assert torch.equal(rl.Bandit([0.0, 1.0, 2.0], std=0.0).pull(a), torch.tensor([0.0, 1.0, 2.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="actions"):
        rl.Bandit([0.0, 1.0]).pull(torch.tensor([2]))
    with pytest.raises(ValueError, match="actions"):
        rl.Bandit([0.0, 1.0]).pull(torch.tensor([0.5]))
    with pytest.raises(ValueError, match="means"):
        rl.Bandit([1.0])


def test_reinforce_loss_gradient_is_score_times_advantage():
    logits = torch.tensor([[0.2, -0.1], [0.0, 0.3]], dtype=torch.float64, requires_grad=True)
    actions, adv = torch.tensor([1, 0]), torch.tensor([2.0, -1.0], dtype=torch.float64)
    rl.reinforce_loss(logits, actions, adv).backward()
    pi = torch.softmax(logits.detach(), dim=1)
    expected = -(torch.eye(2, dtype=torch.float64)[actions] - pi) * adv[:, None]
    torch.testing.assert_close(logits.grad, expected)
    with pytest.raises(ValueError, match="expected logits"):
        rl.reinforce_loss(logits, actions, adv[:1])


def test_reinforce_step_learns_the_corridor():
    env = rl.Corridor(5, horizon=20)
    torch.manual_seed(0)
    policy = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 2))
    optimizer = torch.optim.Adam(policy.parameters(), lr=0.02)
    g, baseline = torch.Generator().manual_seed(0), torch.zeros(5, dtype=torch.float64)
    for _ in range(150):
        rl.reinforce_step(env, policy, optimizer, gamma=0.9, generator=g, baseline=baseline)
    with torch.no_grad():
        probs = torch.softmax(policy(torch.eye(5)), dim=1)
    assert rl.policy_value(env, probs, 0.9) > 0.9 * env.optimal_return(0.9)
    assert baseline[0] > 0 and baseline[3] > baseline[0]          # the learned value grows towards the goal
