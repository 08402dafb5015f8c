"""FusedAdam against torch.optim.Adam, and what it does not import."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from labkit.errors import InputError
from labkit.models import SmallCNN
from labkit.train.adam import FusedAdam


def trained(make_optimizer, steps: int = 4, channels_last: bool = False) -> SmallCNN:
    torch.manual_seed(0)
    model = SmallCNN(width=4, hidden=16)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model.parameters())
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.rand(8, 1, 28, 28, generator=g) * 2 - 1, torch.randint(0, 2, (8,), generator=g)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model


@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels-last"])
def test_updates_equal_torch_fused_adam_bit_for_bit(channels_last: bool) -> None:
    kw = dict(lr=1e-3, weight_decay=1e-4)
    ours = trained(lambda p: FusedAdam(p, **kw), channels_last=channels_last).state_dict()
    fused = trained(lambda p: torch.optim.Adam(p, fused=True, **kw), channels_last=channels_last).state_dict()
    loop = trained(lambda p: torch.optim.Adam(p, foreach=False, **kw), channels_last=channels_last).state_dict()
    assert all(torch.equal(ours[k], fused[k]) for k in ours)
    assert all(torch.allclose(ours[k], loop[k], atol=1e-6) for k in ours)  # the textbook loop, to float rounding
    start = trained(lambda p: FusedAdam(p, **kw), steps=0).state_dict()
    assert not torch.equal(ours["features.conv1.weight"], start["features.conv1.weight"])


def test_parameters_without_gradients_are_left_alone() -> None:
    a, b = torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True)
    opt = FusedAdam([a, b], lr=0.1)
    a.sum().backward()
    opt.step()
    assert torch.allclose(a.detach(), torch.full((3,), 0.9)) and torch.equal(b.detach(), torch.ones(2))
    assert b not in opt.state
    opt.zero_grad()
    assert a.grad is None


def test_mixed_or_integer_parameters_are_refused() -> None:
    with pytest.raises(InputError, match="one dtype on one cpu or cuda device"):
        FusedAdam([torch.zeros(2), torch.zeros(2, dtype=torch.float64)])
    with pytest.raises(InputError, match="torch.optim.Adam for others"):
        FusedAdam([torch.zeros(2, dtype=torch.long)])


SETUP = ("import sys, torch\n"
         "from labkit.data import Split\n"
         "from labkit.models import SmallCNN\n"
         "x, y = torch.rand(16, 1, 28, 28) * 2 - 1, torch.tensor([0, 1] * 8)\n"
         "split = Split('train', x, y)\n")
TRAINING_RUNS = {
    # torch.optim's optimizers import torch._dynamo on first use (1.3 s CPU), scikit-learn's metrics 1.0 s
    "trainer": ("from labkit.train import Trainer, TrainConfig, clinical_metrics, choose_threshold, evaluate\n"
                "model = SmallCNN(width=4, hidden=8)\n"
                "Trainer(model, split, split, TrainConfig(epochs=1, batch_size=8)).fit()\n"
                "p = evaluate(model, split)\n"
                "clinical_metrics(p.labels, p.scores, choose_threshold(p.labels, p.scores))\n"),
    "random labels": ("from labkit.sanity.labels import train_random_labels\n"
                      "train_random_labels(SmallCNN(width=4, hidden=8), x, y, max_epochs=1, batch_size=8)\n"),
    "autoencoder": ("from labkit.train.autoencoder import AEConfig, train_autoencoder\n"
                    "train_autoencoder(split, AEConfig(epochs=1, batch_size=8))\n"),
}


@pytest.mark.parametrize("run", sorted(TRAINING_RUNS))
def test_training_imports_neither_torch_dynamo_nor_sklearn(run) -> None:
    code = SETUP + TRAINING_RUNS[run] + "print(sorted(m for m in ('torch._dynamo', 'sklearn') if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def scaled_run(make_optimizer, poison: int | None = None) -> tuple[dict, float]:
    """Four fp16-style steps through ``torch.amp.GradScaler`` (CPU); step ``poison`` gets an inf gradient."""
    torch.manual_seed(0)
    model = SmallCNN(width=4, hidden=16)
    opt, scaler = make_optimizer(model.parameters()), torch.amp.GradScaler("cpu", init_scale=2.0 ** 8)
    g = torch.Generator().manual_seed(1)
    for step in range(4):
        x, y = torch.rand(8, 1, 28, 28, generator=g) * 2 - 1, torch.randint(0, 2, (8,), generator=g)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y) * (float("inf") if step == poison else 1.0)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    return model.state_dict(), scaler.get_scale()


@pytest.mark.parametrize("poison", [None, 2], ids=["finite", "an-inf-step"])
def test_a_grad_scaler_drives_it_as_it_drives_torch_fused_adam(poison: int | None) -> None:
    # the fp16 path (CUDA AMP) unscales through param_groups and skips the step on an inf gradient
    ours, our_scale = scaled_run(lambda p: FusedAdam(p, lr=1e-3), poison)
    ref, ref_scale = scaled_run(lambda p: torch.optim.Adam(p, lr=1e-3, fused=True), poison)
    assert our_scale == ref_scale == (2.0 ** 8 if poison is None else 2.0 ** 7)
    assert all(torch.equal(ours[k], ref[k]) for k in ours)
