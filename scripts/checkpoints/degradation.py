"""The degradation experiment of He et al. (2016), in miniature: plain vs residual CNNs of growing depth.

Used by chapters/02_cnn/05_resnet.ipynb, which runs a short live version and loads the full curves
from chapters/02_cnn/checkpoints/degradation.json (a few kB: loss histories only, no weights).

The nets (the same code as in the notebook): a 3x3 conv stem (1 -> 16 channels, BN, ReLU), then
(depth - 2) / 2 blocks of two 3x3 convs of width 16 with BatchNorm, then global average pooling and a
linear layer, so `depth` counts the weighted layers as the paper does. The residual blocks are
dlnotes.models.BasicBlock (the identity shortcut); the plain blocks are the same block without the
shortcut. Data: scikit-learn's 8x8 digits (dlnotes.data.digits_tensors(), 1347 training images), kept
at 8x8. Training: SGD, momentum 0.9, weight decay 1e-4, batch 64, learning rate 0.05 with a cosine
schedule over all steps, 20 epochs, Kaiming-normal (fan_out) conv weights; one run per (depth, kind,
seed). The training loss of each epoch is the mean over its mini-batches (train mode), as in the paper's
training-error curves.

How the stored file was made (2-core CPU shared with other jobs, one thread):

    OMP_NUM_THREADS=1 .venv/bin/python scripts/checkpoints/degradation.py

with the defaults below: depths 8, 20, 32, 44; seeds 0, 1, 2; 20 epochs. The wall time is recorded in
the file ("wall_seconds": 1685 s, about 28 minutes on the shared machine).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn

from dlnotes import data, train, utils
from dlnotes.models import BasicBlock

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "chapters" / "02_cnn" / "checkpoints" / "degradation.json"


class PlainBlock(BasicBlock):
    """BasicBlock without its shortcut: conv-BN-ReLU-conv-BN-ReLU, (B, C, H, W) -> (B, C, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)))  # no "+ x"


def make_net(depth: int, *, residual: bool, width: int = 16, in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:
    """Stem conv + (depth - 2) / 2 two-conv blocks + GAP + linear: depth weighted layers in all."""
    if depth < 4 or depth % 2:
        raise ValueError(f"depth must be an even number >= 4 (stem + blocks of two convs + fc), got {depth}")
    block = BasicBlock if residual else PlainBlock
    net = nn.Sequential(
        nn.Conv2d(in_channels, width, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        *[block(width, width) for _ in range((depth - 2) // 2)],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes),
    )
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


def run(train_set: torch.utils.data.Dataset, depth: int, *, residual: bool, seed: int, epochs: int, lr: float,
        batch_size: int = 64) -> dict[str, list[float]]:
    """Train one net on train_set; return its per-epoch history (train_loss, train_acc, lr)."""
    utils.set_seed(seed)
    net = make_net(depth, residual=residual)
    train_loader = data.loader(train_set, batch_size=batch_size, shuffle=True, seed=seed)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(train_loader))
    return train.fit(net, train_loader, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=epochs,
                     metrics={"acc": train.accuracy}, scheduler=scheduler, scheduler_step="batch", progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depths", default="8,20,32,44", help="comma-separated depths (weighted layers)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.05, help="initial learning rate (cosine to 0)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]

    start = time.perf_counter()
    X_train, y_train, _, _ = data.digits_tensors()
    train_set = torch.utils.data.TensorDataset(X_train, y_train)
    curves: dict[str, dict[str, list[list[float]]]] = {}
    for depth in depths:
        for residual in (False, True):
            name = f"{'residual' if residual else 'plain'}-{depth}"
            curves[name] = {"train_loss": [], "train_acc": []}
            for seed in seeds:
                history = run(train_set, depth, residual=residual, seed=seed, epochs=args.epochs, lr=args.lr)
                curves[name]["train_loss"].append([round(v, 5) for v in history["train_loss"]])
                curves[name]["train_acc"].append([round(v, 5) for v in history["train_acc"]])
                print(f"{name:12s} seed {seed}: final training loss {history['train_loss'][-1]:.4f} "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
    seconds = time.perf_counter() - start

    result = {
        "recipe": (f"digits 8x8 (1347 training images), width 16, BN, SGD momentum 0.9, wd 1e-4, batch 64, "
                   f"lr {args.lr} cosine, {args.epochs} epochs; seeds {seeds}"),
        "command": "OMP_NUM_THREADS=1 .venv/bin/python scripts/checkpoints/degradation.py"
                   + ("" if args.depths == "8,20,32,44" else f" --depths {args.depths}")
                   + ("" if args.seeds == "0,1,2" else f" --seeds {args.seeds}")
                   + ("" if args.epochs == 20 else f" --epochs {args.epochs}")
                   + ("" if args.lr == 0.05 else f" --lr {args.lr}"),
        "depths": depths,
        "seeds": seeds,
        "epochs": args.epochs,
        "params": {f"{kind}-{d}": utils.count_params(make_net(d, residual=kind == "residual"))
                   for d in depths for kind in ("plain", "residual")},
        "wall_seconds": round(seconds),
        "torch": torch.__version__,
        "curves": curves,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"saved {args.out} ({args.out.stat().st_size / 1e3:.1f} kB) after {seconds:.0f} s")


if __name__ == "__main__":
    main()
