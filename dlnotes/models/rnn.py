"""Recurrent cells written out from their equations, and a loop that unrolls any of them over time.

Each cell keeps PyTorch's weight layout (gates stacked in nn.LSTM's / nn.GRU's order), so
``cell.load_from(torch_module)`` copies the weights of a one-layer nn.RNN / nn.LSTM / nn.GRU and the
two compute the same numbers. Shapes: X (B, T, input_size), h (B, hidden_size).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def check_sequences(X: Tensor, *, input_size: int, model: str) -> None:
    """Raise a ValueError unless X is a float batch of sequences (B, T, input_size)."""
    if not isinstance(X, Tensor):
        raise ValueError(f"{model} expects a torch.Tensor (B, T, {input_size}), got {type(X).__name__}")
    if X.dim() != 3:
        hint = "; add the batch dimension with X.unsqueeze(0)" if X.dim() == 2 else ""
        raise ValueError(f"{model} expects a batch of sequences (B, T, {input_size}), got shape "
                         f"{tuple(X.shape)}{hint}")
    if X.shape[-1] != input_size:
        raise ValueError(f"{model} expects {input_size} features per step, (B, T, {input_size}), "
                         f"got shape {tuple(X.shape)}")
    if not X.is_floating_point():
        raise ValueError(f"{model} expects a floating-point tensor, got {X.dtype}")


class _Cell(nn.Module):
    """Shared set-up: stacked input and recurrent weights, initialised like PyTorch's, U(-1/√H, 1/√H)."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"input_size and hidden_size must be >= 1, got {input_size}, {hidden_size}")
        self.input_size, self.hidden_size = input_size, hidden_size
        g = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, input_size))   # U in the notes: input -> hidden
        self.weight_hh = nn.Parameter(torch.empty(g, hidden_size))  # W in the notes: hidden -> hidden
        self.bias_ih = nn.Parameter(torch.empty(g))
        self.bias_hh = nn.Parameter(torch.empty(g))
        bound = 1 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    @torch.no_grad()
    def load_from(self, module: nn.RNNBase) -> "_Cell":
        """Copy layer 0 (forward direction) of a PyTorch nn.RNN / nn.LSTM / nn.GRU of the same sizes."""
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            source = getattr(module, f"{name}_l0")
            if source.shape != getattr(self, name).shape:
                raise ValueError(f"{name}: shape {tuple(source.shape)} does not match {tuple(getattr(self, name).shape)}")
            getattr(self, name).copy_(source)
        return self

    def init_state(self, batch_size: int, like: Tensor):
        return like.new_zeros(batch_size, self.hidden_size)


class RNNCell(_Cell):
    """h_t = tanh(U x_t + W h_{t-1} + b), the notes' vanilla RNN (b = bias_ih + bias_hh)."""

    def forward(self, x: Tensor, h: Tensor) -> Tensor:  # x (B, D), h (B, H) -> (B, H)
        return torch.tanh(x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh)


class LSTMCell(_Cell):
    """LSTM (Hochreiter & Schmidhuber 1997, with a forget gate): gates in nn.LSTM's order i, f, g, o."""

    gates = 4

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state                                                    # (B, H) each
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh   # (B, 4H)
        i, f, g, o = z.chunk(4, dim=1)
        i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)  # input, forget, output gates
        g = torch.tanh(g)                                               # candidate values
        c = f * c + i * g        # the cell state is updated by addition: the path gradients travel on
        h = o * torch.tanh(c)
        return h, c

    def init_state(self, batch_size: int, like: Tensor):
        zeros = like.new_zeros(batch_size, self.hidden_size)
        return zeros, zeros.clone()


class GRUCell(_Cell):
    """GRU (Cho et al. 2014), gates in nn.GRU's order r, z, n.

    h_t = (1 - z) * n + z * h_{t-1}   (z is 1 minus the notes' update gate; the same family).
    reset_after=True is nn.GRU's form, n = tanh(W_in x + r * (W_hn h + b_hn));
    reset_after=False is the paper's and the notes' form, n = tanh(W_in x + W_hn (r * h) + b_hn).
    """

    gates = 3

    def __init__(self, input_size: int, hidden_size: int, *, reset_after: bool = True) -> None:
        super().__init__(input_size, hidden_size)
        self.reset_after = reset_after

    def forward(self, x: Tensor, h: Tensor) -> Tensor:  # x (B, D), h (B, H) -> (B, H)
        xi = x @ self.weight_ih.T + self.bias_ih                          # (B, 3H)
        W_hr, W_hz, W_hn = self.weight_hh.chunk(3, dim=0)
        b_hr, b_hz, b_hn = self.bias_hh.chunk(3)
        x_r, x_z, x_n = xi.chunk(3, dim=1)
        r = torch.sigmoid(x_r + h @ W_hr.T + b_hr)                       # reset gate
        z = torch.sigmoid(x_z + h @ W_hz.T + b_hz)                       # update gate
        if self.reset_after:
            n = torch.tanh(x_n + r * (h @ W_hn.T + b_hn))               # reset applied after the matmul
        else:
            n = torch.tanh(x_n + (r * h) @ W_hn.T + b_hn)               # reset applied to h first
        return (1 - z) * n + z * h


class Recurrent(nn.Module):
    """Unroll a cell over time: X (B, T, D) -> outputs (B, T, H) and the last state."""

    def __init__(self, cell: _Cell) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, X: Tensor, state=None):
        check_sequences(X, input_size=self.cell.input_size, model=type(self.cell).__name__)
        if state is None:
            state = self.cell.init_state(X.shape[0], X)
        outputs = []
        for t in range(X.shape[1]):
            state = self.cell(X[:, t], state)
            outputs.append(state[0] if isinstance(state, tuple) else state)   # h_t
        return torch.stack(outputs, dim=1), state


class SequenceRegressor(nn.Module):
    """A recurrent layer (nn.RNN, nn.LSTM or nn.GRU) and a linear read-out of its last hidden state:
    (B, T, D) -> (B,). For the adding problem and other many-to-one tasks."""

    def __init__(self, kind: str, *, input_size: int, hidden_size: int) -> None:
        super().__init__()
        layers = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
        if kind not in layers:
            raise ValueError(f"kind must be one of {sorted(layers)}, got {kind!r}")
        self.input_size = input_size
        self.rnn = layers[kind](input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, X: Tensor) -> Tensor:
        check_sequences(X, input_size=self.input_size, model="SequenceRegressor")
        outputs, _ = self.rnn(X)             # (B, T, H)
        return self.head(outputs[:, -1]).squeeze(-1)   # (B,)
