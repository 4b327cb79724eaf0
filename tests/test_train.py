import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dlnotes import train, utils


def blobs(n=240, seed=0):
    """Three well-separated Gaussian blobs in 2-D."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.tensor([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = torch.arange(n) % 3
    X = centers[y] + 0.5 * torch.randn(n, 2, generator=g)
    return X, y


def make_loaders(seed=0, batch_size=32):
    X, y = blobs(seed=seed)
    g = torch.Generator().manual_seed(seed)
    return (DataLoader(TensorDataset(X[:180], y[:180]), batch_size=batch_size, shuffle=True, generator=g),
            DataLoader(TensorDataset(X[180:], y[180:]), batch_size=64))


def run_fit(seed=0, **kwargs):
    utils.set_seed(seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    train_loader, val_loader = make_loaders(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = train.fit(model, train_loader, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=5,
                        val_loader=val_loader, metrics={"acc": train.accuracy}, **kwargs)
    return model, history


def test_fit_learns_and_records_history():
    model, history = run_fit()
    assert set(history) == {"train_loss", "train_acc", "val_loss", "val_acc", "lr"}
    assert all(len(v) == 5 for v in history.values())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_acc"][-1] > 0.95


def test_fit_is_deterministic_given_a_seed():
    _, h1 = run_fit(seed=3)
    _, h2 = run_fit(seed=3)
    assert h1 == h2


def test_fit_equals_a_hand_written_loop():
    utils.set_seed(0)
    model_a = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))
    model_b = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))
    model_b.load_state_dict(model_a.state_dict())
    loader_a, _ = make_loaders(seed=1)
    loader_b, _ = make_loaders(seed=1)
    loss_fn = nn.CrossEntropyLoss()
    opt_a = torch.optim.SGD(model_a.parameters(), lr=0.05, momentum=0.9)
    opt_b = torch.optim.SGD(model_b.parameters(), lr=0.05, momentum=0.9)
    train.fit(model_a, loader_a, loss_fn=loss_fn, optimizer=opt_a, epochs=3)
    for _ in range(3):
        for X, y in loader_b:
            loss = loss_fn(model_b(X), y)
            opt_b.zero_grad()
            loss.backward()
            opt_b.step()
    for p_a, p_b in zip(model_a.parameters(), model_b.parameters()):
        torch.testing.assert_close(p_a, p_b, rtol=0, atol=0)


def test_gradient_clipping_bounds_the_norm_seen_by_the_optimizer():
    model = nn.Linear(2, 3)
    with torch.no_grad():
        model.weight.mul_(100.0)   # huge logits -> big gradients
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    norms = []
    original_step = opt.step

    def recording_step(*args, **kwargs):
        norms.append(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()])).item())
        return original_step(*args, **kwargs)

    opt.step = recording_step
    loader, _ = make_loaders()
    train.fit(model, loader, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=1, clip_grad_norm=0.5)
    assert norms and max(norms) <= 0.5 + 1e-5


def test_epoch_and_batch_schedulers():
    model = nn.Linear(2, 3)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    loader, _ = make_loaders()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = train.fit(model, loader, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=3, scheduler=sched)
    assert h["lr"] == [1.0, 0.5, 0.25]

    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    steps = 3 * len(loader)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 - step / steps)
    train.fit(model, loader, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=3, scheduler=sched,
              scheduler_step="batch")
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0)


def test_reduce_on_plateau_uses_the_validation_loss():
    seen = []

    class Recording(torch.optim.lr_scheduler.ReduceLROnPlateau):
        def step(self, metrics):
            seen.append(float(metrics))
            super().step(metrics)

    model = nn.Linear(2, 3)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    sched = Recording(opt, patience=0, factor=0.1, threshold=10.0)  # any epoch counts as a plateau
    train_loader, val_loader = make_loaders()
    h = train.fit(model, train_loader, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=3,
                  val_loader=val_loader, scheduler=sched)
    assert seen == h["val_loss"]
    assert h["lr"] == pytest.approx([1e-3, 1e-4, 1e-5])


def test_fit_calls_set_epoch_on_a_distributed_style_sampler():
    class RecordingSampler(torch.utils.data.Sampler):
        def __init__(self, n):
            self.n, self.epochs = n, []

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    X, y = blobs(n=30)
    sampler = RecordingSampler(30)
    loader = DataLoader(TensorDataset(X, y), batch_size=10, sampler=sampler)
    model = nn.Linear(2, 3)
    train.fit(model, loader, loss_fn=nn.CrossEntropyLoss(),
              optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=3)
    assert sampler.epochs == [0, 1, 2]


def test_fit_rejects_bad_arguments():
    model = nn.Linear(2, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader, _ = make_loaders()
    common = dict(loss_fn=nn.CrossEntropyLoss(), optimizer=opt)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        train.fit(model, loader, epochs=0, **common)
    with pytest.raises(ValueError, match="scheduler_step"):
        train.fit(model, loader, scheduler_step="step", **common)
    with pytest.raises(ValueError, match="clip_grad_norm"):
        train.fit(model, loader, clip_grad_norm=-1, **common)
    with pytest.raises(ValueError, match="empty"):
        train.fit(model, [], **common)


def test_progress_bar_is_quiet_under_test_and_shown_when_asked(capsys):
    model = nn.Linear(2, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader, _ = make_loaders()
    train.fit(model, loader, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=2)
    assert capsys.readouterr().err == ""
    train.fit(model, loader, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=2, progress=True)
    assert "epochs" in capsys.readouterr().err


def test_accuracy_and_confusion_matrix_match_sklearn():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (200,), generator=g)
    logits = torch.randn(200, 4, generator=g)
    y_pred = logits.argmax(1)
    assert train.accuracy(logits, y) == pytest.approx((y_pred == y).float().mean().item())
    assert train.accuracy(y_pred, y) == train.accuracy(logits, y)
    cm = train.confusion_matrix(y_pred, y, num_classes=4)
    assert cm.tolist() == sk_confusion_matrix(y.numpy(), y_pred.numpy(), labels=range(4)).tolist()
    with pytest.raises(ValueError, match="logits"):
        train.accuracy(logits[:10], y)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        train.confusion_matrix(y_pred, y, num_classes=3)


def test_evaluate_and_predict():
    model, _ = run_fit()
    _, val_loader = make_loaders()
    stats = train.evaluate(model, val_loader, loss_fn=nn.CrossEntropyLoss(), metrics={"acc": train.accuracy})
    y_hat, y = train.predict(model, val_loader)
    assert y_hat.shape == (60, 3) and y.shape == (60,)
    assert stats["acc"] == pytest.approx(train.accuracy(y_hat, y))
    assert stats["loss"] == pytest.approx(nn.functional.cross_entropy(y_hat, y).item(), rel=1e-5)
    assert not model.training


def small_cnn():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (B, 8, 8, 8)
                         nn.Flatten(), nn.Linear(8 * 8 * 8, 3))


def image_loader(seed=0, n=96):
    """Three classes told apart by which colour channel is bright: (n, 3, 16, 16) images."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    X = 0.3 * torch.rand(n, 3, 16, 16, generator=g)
    X[torch.arange(n), y] += 0.7
    return DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(seed))


def autocast_run(dtype, device="cpu", **kwargs):
    """Train the small CNN under autocast; return the model, its history, the first conv's output dtypes, the optimizer."""
    utils.set_seed(0)
    model = small_cnn()
    seen = []
    model[0].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    h = train.fit(model, image_loader(), loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=4, device=device,
                  metrics={"acc": train.accuracy}, autocast_dtype=dtype, **kwargs)
    return model, h, seen, opt


def test_bf16_autocast_runs_the_conv_in_bf16_and_trains():
    model, h, seen, opt = autocast_run(torch.bfloat16)
    assert seen and set(seen) == {torch.bfloat16}                        # the convolution ran in bfloat16
    assert all(p.dtype == torch.float32 for p in model.parameters())     # the weights stay float32
    assert h["train_loss"][-1] < h["train_loss"][0] and h["train_acc"][-1] > 0.9
    seen.clear()
    train.fit(model, image_loader(), loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=1)
    assert set(seen) == {torch.float32}                                  # and without autocast, float32


def test_channels_last_gives_the_same_training_as_the_default():
    results = []
    for channels_last in (False, True):
        utils.set_seed(0)
        model = small_cnn()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        h = train.fit(model, image_loader(), loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=2,
                      channels_last=channels_last)
        results.append((model, h))
    (model_a, h_a), (model_b, h_b) = results
    assert model_b[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not model_a[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert h_a["train_loss"] == pytest.approx(h_b["train_loss"], rel=1e-4)
    for p_a, p_b in zip(model_a.parameters(), model_b.parameters()):
        torch.testing.assert_close(p_a, p_b, rtol=1e-4, atol=1e-5)


def test_fit_rejects_bad_speed_switches():
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    common = dict(loss_fn=nn.CrossEntropyLoss(), optimizer=opt)
    with pytest.raises(ValueError, match="autocast_dtype must be None, torch.bfloat16 or torch.float16"):
        train.fit(model, image_loader(), autocast_dtype=torch.float64, **common)
    with pytest.raises(ValueError, match="autocast_dtype"):
        train.fit(model, image_loader(), autocast_dtype="bf16", **common)
    with pytest.raises(ValueError, match="float16 autocast needs a CUDA device"):
        train.fit(model, image_loader(), autocast_dtype=torch.float16, device="cpu", **common)
    with pytest.raises(ValueError, match="channels_last must be a bool"):
        train.fit(model, image_loader(), channels_last="yes", **common)
    loader, _ = make_loaders()                                          # 2-D inputs (N, 2): not images
    mlp = nn.Linear(2, 3)
    with pytest.raises(ValueError, match=r"channels_last expects image batches \(N, C, H, W\), got shape \(32, 2\)"):
        train.fit(mlp, loader, loss_fn=nn.CrossEntropyLoss(), optimizer=torch.optim.SGD(mlp.parameters(), lr=0.1),
                  channels_last=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="float16 autocast with a GradScaler needs CUDA")
def test_fp16_autocast_with_grad_scaler_trains_on_cuda():
    _, h, seen, _ = autocast_run(torch.float16, device="cuda", clip_grad_norm=5.0)
    assert set(seen) == {torch.float16} and h["train_acc"][-1] > 0.9
