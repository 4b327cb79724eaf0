"""The from-scratch optimizers in dlnotes.optim take the same steps as torch.optim (float64, >= 20 steps)."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from dlnotes import optim as O

STEPS = 25


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_mlp(seed: int = 0) -> nn.Module:
    """A small float64 MLP whose weights come from a private generator (the global RNG is untouched)."""
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    g = gen(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return model


X = torch.randn(32, 4, generator=gen(100), dtype=torch.float64)
Y = torch.randint(0, 3, (32,), generator=gen(101))


def trajectory(model: nn.Module, optimizer: torch.optim.Optimizer, *, steps: int = STEPS,
               scheduler=None) -> torch.Tensor:
    """Train on the fixed batch; return all parameters, flattened, after every step: (steps, P)."""
    path = []
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(X), Y).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        path.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    return torch.stack(path)


# (ours, torch's twin, hyperparameters); lr is large enough that the weights move a lot in 25 steps
CASES = [
    (O.SGD, torch.optim.SGD, dict(lr=0.5)),
    (O.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    (O.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (O.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.5, weight_decay=0.05)),
    (O.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (O.AdaGrad, torch.optim.Adagrad, dict(lr=0.1)),
    (O.AdaGrad, torch.optim.Adagrad, dict(lr=0.05, eps=1e-6, weight_decay=0.1)),
    (O.RMSProp, torch.optim.RMSprop, dict(lr=0.01)),
    (O.RMSProp, torch.optim.RMSprop, dict(lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.1)),
    (O.Adadelta, torch.optim.Adadelta, dict()),
    (O.Adadelta, torch.optim.Adadelta, dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=0.1)),
    (O.Adam, torch.optim.Adam, dict(lr=0.01)),
    (O.Adam, torch.optim.Adam, dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    (O.AdamW, torch.optim.AdamW, dict(lr=0.01)),
    (O.AdamW, torch.optim.AdamW, dict(lr=0.02, betas=(0.5, 0.9), weight_decay=0.3)),
]


def case_id(case) -> str:
    ours, _, kwargs = case
    return ours.__name__ + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


@pytest.mark.parametrize("ours,theirs,kwargs", CASES, ids=[case_id(c) for c in CASES])
def test_optimizer_matches_torch_on_mlp(ours, theirs, kwargs):
    model_a, model_b = make_mlp(), make_mlp()
    path_a = trajectory(model_a, ours(model_a.parameters(), **kwargs))
    path_b = trajectory(model_b, theirs(model_b.parameters(), **kwargs))
    assert (path_b[-1] - path_b[0]).abs().max() > 1e-3  # the parameters really moved
    assert_close(path_a, path_b)


@pytest.mark.parametrize("ours,theirs,kwargs", CASES[1::2], ids=[case_id(c) for c in CASES[1::2]])
def test_optimizer_matches_torch_on_random_quadratic(ours, theirs, kwargs):
    g = gen(7)
    M = torch.randn(6, 6, generator=g, dtype=torch.float64)
    A = M @ M.T / 6 + 0.1 * torch.eye(6, dtype=torch.float64)  # symmetric positive definite
    b = torch.randn(6, generator=g, dtype=torch.float64)

    def f(x):
        return 0.5 * x @ A @ x - b @ x

    x0 = torch.randn(6, generator=g, dtype=torch.float64)
    path_a = O.run_optimizer(lambda p: ours(p, **kwargs), f, x0, steps=STEPS)
    path_b = O.run_optimizer(lambda p: theirs(p, **kwargs), f, x0, steps=STEPS)
    assert_close(path_a, path_b)


@pytest.mark.parametrize("ours,theirs,kwargs", [
    (O.SGD, torch.optim.SGD, dict(lr=0.2, momentum=0.9, nesterov=True)),
    (O.Adam, torch.optim.Adam, dict(lr=0.05, weight_decay=0.01)),
    (O.AdamW, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1)),  # the decay uses the scheduled lr
    (O.RMSProp, torch.optim.RMSprop, dict(lr=0.02)),
], ids=["SGD", "Adam", "AdamW", "RMSProp"])
def test_works_with_torch_lr_scheduler(ours, theirs, kwargs):
    model_a, model_b = make_mlp(), make_mlp()
    opt_a, opt_b = ours(model_a.parameters(), **kwargs), theirs(model_b.parameters(), **kwargs)
    sched_a = torch.optim.lr_scheduler.StepLR(opt_a, step_size=5, gamma=0.5)
    sched_b = torch.optim.lr_scheduler.StepLR(opt_b, step_size=5, gamma=0.5)
    assert_close(trajectory(model_a, opt_a, scheduler=sched_a), trajectory(model_b, opt_b, scheduler=sched_b))
    assert sched_a.get_last_lr() == sched_b.get_last_lr() == [kwargs["lr"] * 0.5 ** (STEPS // 5)]


def test_adam_l2_and_adamw_decoupled_decay_differ():
    paths = {}
    for name, cls in [("adam", O.Adam), ("adamw", O.AdamW)]:
        model = make_mlp()
        paths[name] = trajectory(model, cls(model.parameters(), lr=0.02, weight_decay=0.1))
    assert (paths["adam"] - paths["adamw"]).abs().max() > 1e-3
    # without weight decay the two are the same algorithm
    model_a, model_b = make_mlp(), make_mlp()
    assert_close(trajectory(model_a, O.Adam(model_a.parameters(), lr=0.02)),
                 trajectory(model_b, O.AdamW(model_b.parameters(), lr=0.02, weight_decay=0.0)))


def test_sgd_momentum_buffer_starts_at_first_gradient():
    x = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt = O.SGD([x], lr=0.1, momentum=0.9)
    (x ** 2).sum().backward()  # gradient 2x = [2, -4]
    opt.step()
    assert_close(x.detach(), torch.tensor([0.8, -1.6], dtype=torch.float64))  # a full step, no (1 - mu) factor
    assert_close(opt.state[x]["momentum_buffer"], torch.tensor([2.0, -4.0], dtype=torch.float64))


def test_param_groups_frozen_params_and_closure():
    model_a, model_b = make_mlp(), make_mlp()
    for model in (model_a, model_b):
        model[0].bias.requires_grad_(False)  # never gets a gradient: must stay put
    groups = lambda m: [{"params": m[0].parameters()}, {"params": m[2].parameters(), "lr": 0.01}]  # noqa: E731
    opt_a = O.Adam(groups(model_a), lr=0.05)
    opt_b = torch.optim.Adam(groups(model_b), lr=0.05)
    bias0 = model_a[0].bias.detach().clone()
    for _ in range(STEPS):
        for model, opt in ((model_a, opt_a), (model_b, opt_b)):
            def closure(model=model, opt=opt):
                opt.zero_grad()
                loss = F.cross_entropy(model(X), Y)
                loss.backward()
                return loss
            loss = opt.step(closure)
            assert loss is not None and loss.ndim == 0
    for p, q in zip(model_a.parameters(), model_b.parameters()):
        assert_close(p, q)
    assert torch.equal(model_a[0].bias, bias0)
    assert model_a[0].bias not in opt_a.state


def test_state_dict_round_trip_resumes_exactly():
    model = make_mlp()
    full = trajectory(model, O.Adam(model.parameters(), lr=0.02), steps=20)

    model = make_mlp()
    opt = O.Adam(model.parameters(), lr=0.02)
    trajectory(model, opt, steps=10)
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    resumed = make_mlp(seed=1)  # different weights, overwritten by the checkpoint
    resumed.load_state_dict(saved_model)
    opt = O.Adam(resumed.parameters(), lr=0.02)
    opt.load_state_dict(saved_opt)
    assert_close(trajectory(resumed, opt, steps=10), full[10:])


# --------------------------------------------------------------------------- trajectory helpers
def test_run_optimizer_shape_and_descent_on_the_quadratic():
    x0 = torch.tensor([-4.0, 1.0])
    path = O.run_optimizer(lambda p: O.SGD(p, lr=0.04), O.ill_conditioned_quadratic, x0, steps=40)
    assert path.shape == (41, 2)
    assert torch.equal(path[0], x0)
    values = O.ill_conditioned_quadratic(path)  # (41,): the function takes batches of points
    assert torch.all(values[1:] <= values[:-1])
    assert values[-1] < 0.2 * values[0]


def test_quadratic_is_ill_conditioned_as_documented():
    hessian = torch.autograd.functional.hessian(lambda x: O.ill_conditioned_quadratic(x, a=1.0, b=20.0),
                                                torch.zeros(2, dtype=torch.float64))
    assert_close(hessian, torch.diag(torch.tensor([1.0, 20.0], dtype=torch.float64)))
    # gradient descent diverges along the steep axis once lr > 2 / b = 0.1
    path = O.run_optimizer(lambda p: O.SGD(p, lr=0.11), O.ill_conditioned_quadratic, [-4.0, 1.0], steps=20)
    assert path[-1, 1].abs() > path[0, 1].abs()


def test_rosenbrock_minimum_and_momentum_helps():
    x_star = torch.tensor([1.0, 1.0], requires_grad=True)
    O.rosenbrock(x_star).backward()
    assert O.rosenbrock(x_star).item() == 0.0 and torch.equal(x_star.grad, torch.zeros(2))
    assert O.rosenbrock(torch.tensor([2.0, 4.0]), a=2.0).item() == 0.0
    x0 = torch.tensor([-1.5, 2.0], dtype=torch.float64)
    plain = O.run_optimizer(lambda p: O.SGD(p, lr=1e-3), O.rosenbrock, x0, steps=300)
    heavy = O.run_optimizer(lambda p: O.SGD(p, lr=1e-3, momentum=0.9), O.rosenbrock, x0, steps=300)
    assert O.rosenbrock(heavy[-1]) < O.rosenbrock(plain[-1])


def test_warmup_cosine_values():
    f = lambda s, **kw: O.warmup_cosine(s, warmup_steps=10, total_steps=110, **kw)  # noqa: E731
    assert f(0) == 0.0
    assert f(5) == 0.5
    assert f(10) == 1.0
    assert math.isclose(f(60), 0.5)  # halfway through the cosine
    assert math.isclose(f(110), 0.0, abs_tol=1e-12)
    assert math.isclose(f(110, min_factor=0.1), 0.1)
    assert math.isclose(f(500, min_factor=0.1), 0.1)  # stays at the floor afterwards
    assert math.isclose(f(60, min_factor=0.1), 0.55)
    assert O.warmup_cosine(0, warmup_steps=0, total_steps=5) == 1.0
    values = [f(s) for s in range(111)]
    assert all(a <= b for a, b in zip(values[:11], values[1:11]))  # rising during warm-up
    assert all(a >= b for a, b in zip(values[10:], values[11:]))  # falling afterwards


def test_warmup_cosine_with_lambda_lr():
    w = torch.zeros(1, requires_grad=True)
    opt = O.AdamW([w], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: O.warmup_cosine(s, warmup_steps=4, total_steps=20, min_factor=0.1))
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        (w - 1).pow(2).sum().backward()
        opt.step()
        sched.step()
    assert lrs[0] == 0.0 and math.isclose(lrs[4], 0.1) and max(lrs) == lrs[4]
    assert math.isclose(opt.param_groups[0]["lr"], 0.01)


# --------------------------------------------------------------------------- bad input
W = [torch.zeros(2, requires_grad=True)]


@pytest.mark.parametrize("call,match", [
    (lambda: O.SGD(W, lr=-0.1), "lr"),
    (lambda: O.SGD(W, lr=0.1, nesterov=True), "nesterov"),
    (lambda: O.SGD(W, lr=0.1, momentum=-0.5), "momentum"),
    (lambda: O.AdaGrad(W, weight_decay=-1.0), "weight_decay"),
    (lambda: O.RMSProp(W, alpha=1.5), r"alpha must be in \[0, 1\]"),
    (lambda: O.Adadelta(W, rho=-0.1), "rho"),
    (lambda: O.Adam(W, betas=(1.0, 0.999)), r"betas must be two numbers in \[0, 1\)"),
    (lambda: O.AdamW(W, eps=-1e-8), "eps"),
    (lambda: O.warmup_cosine(5, warmup_steps=10, total_steps=10), "total_steps"),
    (lambda: O.warmup_cosine(-1, warmup_steps=1, total_steps=10), "step"),
    (lambda: O.warmup_cosine(1, warmup_steps=1, total_steps=10, min_factor=2.0), "min_factor"),
    (lambda: O.run_optimizer(lambda p: O.SGD(p, lr=0.1), O.rosenbrock, torch.tensor([1, 2]), steps=3), "float"),
    (lambda: O.run_optimizer(lambda p: O.SGD(p, lr=0.1), O.rosenbrock, [1.0, 2.0], steps=-1), "steps"),
    (lambda: O.run_optimizer(lambda p: O.SGD(p, lr=0.1), lambda x: x * 2, [1.0, 2.0], steps=1), "scalar"),
    (lambda: O.rosenbrock(torch.zeros(3)), r"\(\.\.\., 2\)"),
])
def test_bad_input_raises_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_make_optimizer_must_return_an_optimizer():
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        O.run_optimizer(lambda p: p, O.rosenbrock, [0.0, 0.0], steps=1)
