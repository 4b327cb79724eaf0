"""How much does `dlnotes.train.fit` cost over a minimal hand-written loop?

Trains the same small CNN on the same shapes data, from the same initial weights, once with `fit()`
(loss and accuracy history, no progress bar) and once with a bare zero_grad/backward/step loop, in
alternation, several times; reports the median time of each and their ratio. The budget is 1.05.

    python scripts/bench_fit.py [--repeats 5] [--epochs 2] [--update-readme]

With --update-readme the figure is written into README.md between the bench markers.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from dlnotes import data, train, utils

README = Path(__file__).resolve().parents[1] / "README.md"


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # (B, 16, 16, 16)
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (B, 32, 8, 8)
        nn.Flatten(), nn.Linear(32 * 8 * 8, 6),
    )


def bare_loop(model, loader, loss_fn, optimizer, epochs):
    for _ in range(epochs):
        for X, y in loader:
            loss = loss_fn(model(X), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def timed(run_fit: bool, init_state, loader, epochs) -> float:
    model = small_cnn()
    model.load_state_dict(init_state)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    if run_fit:
        train.fit(model, loader, loss_fn=loss_fn, optimizer=optimizer, epochs=epochs,
                  metrics={"acc": train.accuracy}, progress=False)
    else:
        bare_loop(model, loader, loss_fn, optimizer, epochs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()

    utils.set_seed(0)
    dataset = data.load("shapes", n=args.n, seed=0)
    init_state = small_cnn().state_dict()
    times = {"fit": [], "bare": []}
    timed(True, init_state, data.loader(dataset, batch_size=64, shuffle=True), 1)  # warm-up
    for _ in range(args.repeats):
        for name in ("bare", "fit"):
            loader = data.loader(dataset, batch_size=64, shuffle=True, seed=0)
            times[name].append(timed(name == "fit", init_state, loader, args.epochs))
    fit_s, bare_s = statistics.median(times["fit"]), statistics.median(times["bare"])
    ratio = fit_s / bare_s
    line = (f"fit() / bare loop = {ratio:.3f} (median of {args.repeats}: {fit_s:.2f} s vs {bare_s:.2f} s; "
            f"small CNN, {args.n} shapes 32x32, batch 64, {args.epochs} epochs, {os.cpu_count()} cores, "
            f"{datetime.date.today()})")
    print(line)
    if args.update_readme:
        text = README.read_text()
        new = re.sub(r"(<!-- bench:start -->\n).*?(\n<!-- bench:end -->)", lambda m: m.group(1) + line + m.group(2),
                     text, flags=re.DOTALL)
        if new == text and line not in text:
            raise SystemExit("README.md has no <!-- bench:start --> / <!-- bench:end --> markers")
        README.write_text(new)
    if ratio > 1.05:
        raise SystemExit(f"fit() costs {100 * (ratio - 1):.1f} % more than the bare loop; the budget is 5 %")


if __name__ == "__main__":
    main()
