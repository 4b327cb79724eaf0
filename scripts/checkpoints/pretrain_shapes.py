"""Pretrain the source model of chapters/02_cnn/08_transfer_learning.ipynb and save it as a small checkpoint.

The model is `dlnotes.models.resnet18(num_classes=3, width=8)` (torchvision's ResNet-18 layout at 1/8
of the width, 176,907 parameters), trained to tell circles, squares and triangles apart on
`dlnotes.data.make_shapes(6000, classes=("circle", "square", "triangle"), seed=0)` for 15 epochs,
batch size 64, AdamW (lr 0.01 peak, weight decay 1e-4) with a one-cycle schedule.

How the committed checkpoint chapters/02_cnn/checkpoints/resnet18_w8_shapes_source.pt was made:

    OMP_NUM_THREADS=1 DLNOTES_QUIET=1 python scripts/checkpoints/pretrain_shapes.py

(all defaults: --n 6000 --epochs 15 --width 8 --lr 0.01 --seed 0), torch 2.14.1 on CPU, one thread.
Training took 346 s of wall-clock time and the whole script 46 s of CPU time: the 2-core machine was
shared with other jobs (an earlier identical run took 220 s and gave bit-identical weights). The
result: training accuracy 100.0%, accuracy 99.8% on 1000 fresh source images (make_shapes seed
10000); the file is 0.75 MB. The notebook reloads it, checks its accuracy on its own source test
set, and also pretrains a model live for a few epochs with the same recipe to show what it does.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch import nn

from dlnotes import data, models, train, utils

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "chapters" / "02_cnn" / "checkpoints" / "resnet18_w8_shapes_source.pt"
SOURCE_CLASSES = ("circle", "square", "triangle")


def pretrain(*, n: int, epochs: int, width: int, lr: float, seed: int, classes: tuple[str, ...] = SOURCE_CLASSES,
             batch_size: int = 64) -> tuple[nn.Module, dict[str, list[float]]]:
    """Train resnet18(width=width) on make_shapes(n, classes=classes, seed=seed); return (model, fit() history)."""
    utils.set_seed(seed)
    shapes = data.make_shapes(n, classes=classes, seed=seed)
    model = models.resnet18(num_classes=len(classes), width=width)
    train_loader = data.loader(shapes.dataset(), batch_size=batch_size, shuffle=True, seed=seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(train_loader))
    history = train.fit(model, train_loader, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=epochs,
                        metrics={"acc": train.accuracy}, scheduler=scheduler, scheduler_step="batch")
    return model, history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=6000, help="source training images")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--width", type=int, default=8, help="channels of the first stage (64 in the paper)")
    parser.add_argument("--lr", type=float, default=0.01, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    start = time.perf_counter()
    model, history = pretrain(n=args.n, epochs=args.epochs, width=args.width, lr=args.lr, seed=args.seed)
    seconds = time.perf_counter() - start
    test = data.make_shapes(1000, classes=SOURCE_CLASSES, seed=10_000 + args.seed)
    test_acc = train.evaluate(model, data.loader(test.dataset(), batch_size=500), metrics={"acc": train.accuracy})["acc"]
    print(f"trained in {seconds:.0f} s; train acc {history['train_acc'][-1]:.3f}, test acc {test_acc:.3f}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({
        "state_dict": model.state_dict(),
        "classes": SOURCE_CLASSES,
        "width": args.width,
        "recipe": f"make_shapes(n={args.n}, seed={args.seed}), {args.epochs} epochs, batch 64, AdamW lr {args.lr} one-cycle",
        "source_test_acc": round(test_acc, 4),
    }, args.out)
    print(f"saved {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
