"""Optimizers written out from scratch, each equal to its torch.optim twin step for step.

Every class is a ``torch.optim.Optimizer``, so it works with ``fit()``, ``zero_grad()``, state dicts
and the schedulers in ``torch.optim.lr_scheduler``. The update rule is spelled out in ``step()``;
tests/test_optim.py checks each against PyTorch. Also: the two test functions and the path
recorder the notebooks use for trajectory plots, and a warm-up + cosine learning-rate factor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import torch
from torch.optim import Optimizer

Params = Iterable[torch.Tensor] | Iterable[dict]


# --------------------------------------------------------------------------- shared pieces
def _check(name: str, value, ok: bool, expected: str) -> None:
    if not ok:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def _loss_of(closure: Callable[[], torch.Tensor] | None) -> torch.Tensor | None:
    """Re-evaluate the loss if a closure is given (step() itself runs without autograd)."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def _params_with_grad(group: dict) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(param, grad) pairs of one param group; params that got no gradient are left alone."""
    for p in group["params"]:
        if p.grad is None:
            continue
        if p.grad.is_sparse:
            raise ValueError("these teaching optimizers expect dense gradients, got a sparse one")
        yield p, p.grad


# --------------------------------------------------------------------------- SGD
class SGD(Optimizer):
    """SGD, optionally with momentum (Polyak 1964) or Nesterov momentum (Sutskever et al. 2013); = torch.optim.SGD."""

    def __init__(self, params: Params, lr: float, *, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        _check("lr", lr, lr >= 0, "non-negative")
        _check("momentum", momentum, momentum >= 0, "non-negative")
        _check("weight_decay", weight_decay, weight_decay >= 0, "non-negative")
        _check("nesterov", nesterov, not nesterov or momentum > 0, "False when momentum is 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = _loss_of(closure)
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            for p, g in _params_with_grad(group):
                if wd != 0:
                    g = g + wd * p  # L2 penalty (wd/2)|p|^2 folded into the gradient
                if mu != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = g.clone()  # PyTorch starts the buffer at the first gradient
                    else:
                        state["momentum_buffer"].mul_(mu).add_(g)  # v <- mu v + g
                    v = state["momentum_buffer"]
                    g = g + mu * v if group["nesterov"] else v  # Nesterov: look one step further along v
                p.sub_(lr * g)
        return loss


# --------------------------------------------------------------------------- adaptive learning rates
class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al. 2011): divide by the root of the *sum* of all squared gradients; = torch.optim.Adagrad."""

    def __init__(self, params: Params, lr: float = 0.01, *, eps: float = 1e-10, weight_decay: float = 0.0) -> None:
        _check("lr", lr, lr >= 0, "non-negative")
        _check("eps", eps, eps >= 0, "non-negative")
        _check("weight_decay", weight_decay, weight_decay >= 0, "non-negative")
        super().__init__(params, dict(lr=lr, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = _loss_of(closure)
        for group in self.param_groups:
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p, g in _params_with_grad(group):
                if wd != 0:
                    g = g + wd * p
                state = self.state[p]
                if "sum" not in state:
                    state["sum"] = torch.zeros_like(p)
                state["sum"].add_(g * g)  # G <- G + g^2, it only grows
                p.sub_(lr * g / (state["sum"].sqrt() + eps))
        return loss


class RMSProp(Optimizer):
    """RMSProp (Hinton, lecture 6e, 2012): divide by the root of a moving *average* of g^2; = torch.optim.RMSprop."""

    def __init__(self, params: Params, lr: float = 0.01, *, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        _check("lr", lr, lr >= 0, "non-negative")
        _check("alpha", alpha, 0 <= alpha <= 1, "in [0, 1]")
        _check("eps", eps, eps >= 0, "non-negative")
        _check("weight_decay", weight_decay, weight_decay >= 0, "non-negative")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = _loss_of(closure)
        for group in self.param_groups:
            lr, alpha, eps, wd = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
            for p, g in _params_with_grad(group):
                if wd != 0:
                    g = g + wd * p
                state = self.state[p]
                if "square_avg" not in state:
                    state["square_avg"] = torch.zeros_like(p)
                s = state["square_avg"]
                s.mul_(alpha).add_((1 - alpha) * g * g)  # s <- alpha s + (1 - alpha) g^2
                p.sub_(lr * g / (s.sqrt() + eps))  # eps outside the root
        return loss


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012): step = RMS(past steps) / RMS(g) * g, times lr (1.0 = paper); = torch.optim.Adadelta."""

    def __init__(self, params: Params, lr: float = 1.0, *, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0) -> None:
        _check("lr", lr, lr >= 0, "non-negative")
        _check("rho", rho, 0 <= rho <= 1, "in [0, 1]")
        _check("eps", eps, eps >= 0, "non-negative")
        _check("weight_decay", weight_decay, weight_decay >= 0, "non-negative")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = _loss_of(closure)
        for group in self.param_groups:
            lr, rho, eps, wd = group["lr"], group["rho"], group["eps"], group["weight_decay"]
            for p, g in _params_with_grad(group):
                if wd != 0:
                    g = g + wd * p
                state = self.state[p]
                if "square_avg" not in state:
                    state["square_avg"] = torch.zeros_like(p)  # E[g^2]
                    state["acc_delta"] = torch.zeros_like(p)  # E[dx^2]
                sq, acc = state["square_avg"], state["acc_delta"]
                sq.mul_(rho).add_((1 - rho) * g * g)
                delta = (acc + eps).sqrt() / (sq + eps).sqrt() * g  # eps inside both roots
                acc.mul_(rho).add_((1 - rho) * delta * delta)  # remembers the step before lr scales it
                p.sub_(lr * delta)
        return loss


# --------------------------------------------------------------------------- Adam family
class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): bias-corrected m / (sqrt(v) + eps), weight decay as L2 in g; = torch.optim.Adam."""

    decoupled = False  # AdamW flips this

    def __init__(self, params: Params, lr: float = 1e-3, *, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        _check("lr", lr, lr >= 0, "non-negative")
        _check("betas", betas, len(betas) == 2 and all(0 <= b < 1 for b in betas), "two numbers in [0, 1)")
        _check("eps", eps, eps >= 0, "non-negative")
        _check("weight_decay", weight_decay, weight_decay >= 0, "non-negative")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = _loss_of(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p, g in _params_with_grad(group):
                if wd != 0:
                    if self.decoupled:
                        p.mul_(1 - lr * wd)  # AdamW: shrink the weights directly, outside the adaptive scaling
                    else:
                        g = g + wd * p  # Adam: L2 penalty enters the gradient and gets rescaled with it
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)  # m, first moment
                    state["exp_avg_sq"] = torch.zeros_like(p)  # v, second moment
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_((1 - beta1) * g)
                v.mul_(beta2).add_((1 - beta2) * g * g)
                m_hat = m / (1 - beta1 ** t)  # the zero start biases m and v towards 0; undo it
                v_hat = v / (1 - beta2 ** t)
                p.sub_(lr * m_hat / (v_hat.sqrt() + eps))  # eps added after the root
        return loss


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay p <- p (1 - lr wd); = torch.optim.AdamW."""

    decoupled = True

    def __init__(self, params: Params, lr: float = 1e-3, *, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay)


# --------------------------------------------------------------------------- trajectory plots
def _check_points(fn: str, x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.shape[-1:] != (2,):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{fn} expects points of shape (..., 2), got {shape}")


def ill_conditioned_quadratic(x: torch.Tensor, *, a: float = 1.0, b: float = 20.0) -> torch.Tensor:
    """f(x) = (a x1^2 + b x2^2) / 2, Hessian diag(a, b), condition number b / a; x (..., 2) -> (...)."""
    _check_points("ill_conditioned_quadratic", x)
    return 0.5 * (a * x[..., 0] ** 2 + b * x[..., 1] ** 2)


def rosenbrock(x: torch.Tensor, *, a: float = 1.0, b: float = 100.0) -> torch.Tensor:
    """Rosenbrock 1960 banana valley (a - x1)^2 + b (x2 - x1^2)^2, minimum 0 at (a, a^2); x (..., 2) -> (...)."""
    _check_points("rosenbrock", x)
    return (a - x[..., 0]) ** 2 + b * (x[..., 1] - x[..., 0] ** 2) ** 2


def run_optimizer(make_optimizer: Callable[[list[torch.Tensor]], Optimizer],
                  f: Callable[[torch.Tensor], torch.Tensor],
                  x0: torch.Tensor | Sequence[float], *, steps: int) -> torch.Tensor:
    """Minimize f from x0 with make_optimizer([x]) and return the visited points, (steps + 1, D), x0 first."""
    x0 = torch.as_tensor(x0)
    if x0.ndim != 1 or not x0.is_floating_point():
        raise ValueError(f"run_optimizer: x0 must be a float vector (D,), got shape {tuple(x0.shape)} "
                         f"and dtype {x0.dtype}")
    _check("steps", steps, isinstance(steps, int) and steps >= 0, "a non-negative int")
    x = x0.detach().clone().requires_grad_(True)
    optimizer = make_optimizer([x])
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"run_optimizer: make_optimizer must return a torch.optim.Optimizer, "
                        f"got {type(optimizer).__name__}")
    path = [x.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        y = f(x)
        if y.numel() != 1:
            raise ValueError(f"run_optimizer: f must return a scalar, got shape {tuple(y.shape)}")
        y.backward()
        optimizer.step()
        path.append(x.detach().clone())
    return torch.stack(path)


# --------------------------------------------------------------------------- learning-rate schedule
def warmup_cosine(step: int, *, warmup_steps: int, total_steps: int, min_factor: float = 0.0) -> float:
    """LR factor: linear 0 -> 1 over warmup_steps (Goyal et al. 2017), cosine 1 -> min_factor (Loshchilov & Hutter 2017).

    Use it as ``LambdaLR(optimizer, lambda s: warmup_cosine(s, warmup_steps=..., total_steps=...))``;
    steps past total_steps stay at min_factor.
    """
    _check("step", step, step >= 0, "non-negative")
    _check("warmup_steps", warmup_steps, warmup_steps >= 0, "non-negative")
    _check("total_steps", total_steps, total_steps > warmup_steps, f"larger than warmup_steps={warmup_steps}")
    _check("min_factor", min_factor, 0 <= min_factor <= 1, "in [0, 1]")
    if step < warmup_steps:
        return step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))  # 0 -> 1 over the decay
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress))
