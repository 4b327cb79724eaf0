"""Data-parallel training with torch.distributed: shards, gradient averaging and a torchrun entry point.

Run under torchrun (here two CPU processes with the gloo backend):

    python -m torch.distributed.run --standalone --nproc_per_node=2 -m dlnotes.distributed collectives
    python -m torch.distributed.run --standalone --nproc_per_node=2 -m dlnotes.distributed train --out w.pt
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from .data import make_shapes
from .train import fit


def _check_int(name: str, value, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def shard_indices(n: int, *, world_size: int, rank: int, seed: int | None = None, epoch: int = 0) -> list[int]:
    """Indices of the samples rank ``rank`` sees, as DistributedSampler gives them: a permutation of
    range(n) (torch.randperm seeded with seed + epoch; no shuffle when seed is None), rank r taking
    positions r, r + world_size, r + 2 * world_size, ..."""
    _check_int("n", n, 1)
    _check_int("world_size", world_size, 1)
    _check_int("epoch", epoch, 0)
    if not isinstance(rank, int) or isinstance(rank, bool) or not 0 <= rank < world_size:
        raise ValueError(f"rank must be an int in [0, {world_size}), got {rank!r}")
    if n % world_size:
        raise ValueError(f"n = {n} samples do not split evenly over world_size = {world_size} ranks; "
                         "use a multiple (DistributedSampler would repeat samples to pad)")
    if seed is None:
        order = list(range(n))
    else:
        _check_int("seed", seed, 0)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
    return order[rank::world_size]


def combined_batches(n: int, *, world_size: int, batch_size: int, seed: int | None = None,
                     epoch: int = 0) -> list[list[int]]:
    """Per step, the union of every rank's batch (rank 0's first): what one process must see to take
    the same steps as ``world_size`` data-parallel ranks with ``batch_size`` samples each."""
    _check_int("batch_size", batch_size, 1)
    shards = [shard_indices(n, world_size=world_size, rank=r, seed=seed, epoch=epoch) for r in range(world_size)]
    steps = range(0, n // world_size, batch_size)
    return [[i for shard in shards for i in shard[start:start + batch_size]] for start in steps]


def average_gradients(model: nn.Module) -> None:
    """All-reduce (sum) every parameter's gradient over the process group, then divide by the world
    size: the mean gradient over all ranks' samples, which DDP computes in its backward hooks."""
    if not dist.is_initialized():
        raise RuntimeError("average_gradients needs a process group: call dist.init_process_group first")
    world_size = dist.get_world_size()
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world_size


def make_model(*, image_size: int = 16, hidden: int = 32, num_classes: int = 6, seed: int = 0) -> nn.Module:
    """A small MLP for shapes images (B, 3, image_size, image_size) -> logits (B, num_classes)."""
    torch.manual_seed(seed)  # every rank builds the same initial weights
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * image_size**2, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


# ---------------------------------------------------------------------------------------------
# Entry point: python -m dlnotes.distributed {collectives, train} under torchrun
# ---------------------------------------------------------------------------------------------

def collectives() -> None:
    """all_reduce, broadcast and all_gather on small tensors, then a gradient averaged by all_reduce."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    env = {k: os.environ[k] for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE")}
    ranks = [None] * world_size
    dist.all_gather_object(ranks, f"process {rank}: backend {dist.get_backend()}, env {env}")

    x = torch.arange(3.0) + 10 * rank          # rank r holds [10r, 10r + 1, 10r + 2]
    reduced = x.clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)  # every rank ends with the sum
    b = x.clone()
    dist.broadcast(b, src=0)                   # every rank ends with rank 0's tensor
    gathered = [torch.empty(3) for _ in range(world_size)]
    dist.all_gather(gathered, x)               # every rank ends with every rank's tensor, in rank order
    results = [None] * world_size
    dist.all_gather_object(results, (x.tolist(), reduced.tolist(), b.tolist(), torch.stack(gathered).tolist()))

    # gradient all-reduce: each rank takes its shard of one batch, then the gradients are averaged
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(8 * world_size, 5, generator=g), torch.randn(8 * world_size, generator=g)
    torch.manual_seed(0)                       # the same weights on every rank
    model = nn.Linear(5, 1)
    mine = shard_indices(len(X), world_size=world_size, rank=rank)
    nn.functional.mse_loss(model(X[mine]).squeeze(1), y[mine]).backward()
    average_gradients(model)
    full = nn.Linear(5, 1)
    full.load_state_dict(model.state_dict())
    nn.functional.mse_loss(full(X).squeeze(1), y).backward()
    same = torch.allclose(model.weight.grad, full.weight.grad, atol=1e-6)
    agree = [None] * world_size
    dist.all_gather_object(agree, same)

    if rank == 0:  # one process prints, so the output has the same order on every run
        print("\n".join(ranks))
        for r, (mine_x, red, bc, gath) in enumerate(results):
            print(f"rank {r}: x = {mine_x}  all_reduce(sum) -> {red}  broadcast(src=0) -> {bc}")
        print(f"all_gather on every rank -> {results[0][3]}")
        print(f"averaged shard gradients equal the full-batch gradient, per rank: {agree}")


def train(args: argparse.Namespace) -> None:
    """Each rank: the same model and data, DDP, a DistributedSampler, fit(); rank 0 saves the weights."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    model = make_model(image_size=args.image_size, hidden=args.hidden, seed=args.seed)
    if dist.get_backend() == "nccl":  # one GPU per process, chosen by LOCAL_RANK
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
        ddp = DistributedDataParallel(model.to(device), device_ids=[device.index])
    else:
        device = torch.device("cpu")
        ddp = DistributedDataParallel(model)  # broadcasts rank 0's weights, then averages gradients in backward
    dataset = make_shapes(args.samples, image_size=args.image_size, seed=args.seed).dataset()
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=args.momentum)
    start = time.perf_counter()
    history = fit(ddp, loader, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=args.epochs,
                  device=device, progress=False)
    seconds = time.perf_counter() - start
    if rank == 0:
        weights = {name: value.cpu() for name, value in model.state_dict().items()}
        torch.save({"state_dict": weights, "history": history, "seconds": seconds, "world_size": world_size}, args.out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dlnotes.distributed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="gloo", help="gloo (CPU) or nccl (one GPU per process)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("collectives", help="all_reduce, broadcast, all_gather and a gradient all-reduce")
    t = sub.add_parser("train", help="train a small MLP on shapes with DDP and fit(); rank 0 saves it")
    t.add_argument("--out", required=True, help="file for rank 0's state dict, history and time")
    t.add_argument("--samples", type=int, default=256, help="training images (a multiple of the world size)")
    t.add_argument("--image-size", type=int, default=16)
    t.add_argument("--hidden", type=int, default=32)
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--batch-size", type=int, default=16, help="per rank")
    t.add_argument("--lr", type=float, default=0.1)
    t.add_argument("--momentum", type=float, default=0.9)
    t.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.command == "collectives" and args.backend != "gloo":
        parser.error("collectives works on CPU tensors: run it with --backend gloo")
    if "RANK" not in os.environ:
        parser.error("run under torchrun: python -m torch.distributed.run --standalone --nproc_per_node=2 "
                     "-m dlnotes.distributed ...")
    dist.init_process_group(args.backend)  # reads RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT from the environment
    try:
        if args.command == "collectives":
            collectives()
        else:
            world_size = dist.get_world_size()
            if args.samples % world_size:
                raise ValueError(f"--samples {args.samples} is not a multiple of the world size {world_size}")
            train(args)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
