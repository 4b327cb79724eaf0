import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.utils.data import DistributedSampler

from dlnotes import distributed
from dlnotes.data import make_shapes
from dlnotes.train import fit

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
            "-m", "dlnotes.distributed"]


@pytest.mark.parametrize("seed", [None, 3])
def test_shard_indices_cover_everything_once_and_match_distributed_sampler(seed):
    n, world_size = 12, 3
    shards = [distributed.shard_indices(n, world_size=world_size, rank=r, seed=seed, epoch=2) for r in range(3)]
    assert sorted(i for shard in shards for i in shard) == list(range(n))
    for r, shard in enumerate(shards):
        sampler = DistributedSampler(range(n), num_replicas=world_size, rank=r, shuffle=seed is not None,
                                     seed=seed or 0)
        sampler.set_epoch(2)
        assert shard == list(sampler)


def test_combined_batches_are_the_union_of_rank_batches():
    batches = distributed.combined_batches(8, world_size=2, batch_size=2)
    assert batches == [[0, 2, 1, 3], [4, 6, 5, 7]]
    shuffled = distributed.combined_batches(20, world_size=2, batch_size=3, seed=1)
    assert [len(b) for b in shuffled] == [6, 6, 6, 2]
    assert sorted(i for b in shuffled for i in b) == list(range(20))


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=10, world_size=3, rank=0), "split evenly"),
    (dict(n=10, world_size=2, rank=2), "rank"),
    (dict(n=10, world_size=2, rank=-1), "rank"),
    (dict(n=0, world_size=2, rank=0), "n must"),
    (dict(n=10, world_size=0, rank=0), "world_size"),
    (dict(n=10, world_size=2, rank=0, seed=-1), "seed"),
])
def test_shard_indices_bad_input(kwargs, message):
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match=message):
        distributed.shard_indices(n, **kwargs)


def test_combined_batches_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        distributed.combined_batches(8, world_size=2, batch_size=0)


def test_average_gradients_needs_a_process_group():
    model = nn.Linear(2, 1)
    model(torch.ones(1, 2)).sum().backward()
    with pytest.raises(RuntimeError, match="init_process_group"):
        distributed.average_gradients(model)


def test_main_outside_torchrun_explains_itself(monkeypatch, capsys):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit):
        distributed.main(["collectives"])
    assert "torchrun" in capsys.readouterr().err


def test_ddp_under_torchrun_equals_one_process_on_combined_batches(tmp_path):
    out = tmp_path / "w.pt"
    n, size, hidden, epochs, batch, lr = 64, 16, 8, 2, 8, 0.1
    args = ["train", "--out", str(out), "--samples", str(n), "--image-size", str(size), "--hidden", str(hidden),
            "--epochs", str(epochs), "--batch-size", str(batch), "--lr", str(lr), "--seed", "1"]
    result = subprocess.run(TORCHRUN + args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    ddp = torch.load(out)["state_dict"]

    shapes = make_shapes(n, image_size=size, seed=1)
    model = distributed.make_model(image_size=size, hidden=hidden, seed=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for epoch in range(epochs):
        batches = distributed.combined_batches(n, world_size=2, batch_size=batch, seed=1, epoch=epoch)
        fit(model, [(shapes.images[b], shapes.labels[b]) for b in batches], loss_fn=nn.CrossEntropyLoss(),
            optimizer=optimizer, progress=False)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(ddp[name], value, atol=1e-5, rtol=1e-4)
        assert not torch.equal(value, distributed.make_model(image_size=size, hidden=hidden, seed=1).state_dict()[name])


def test_collectives_under_torchrun():
    result = subprocess.run(TORCHRUN + ["collectives"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "all_reduce(sum) -> [10.0, 12.0, 14.0]" in result.stdout
    assert "per rank: [True, True]" in result.stdout
