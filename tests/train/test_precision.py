"""Mixed precision: detection, the fp32 fallback, autocast numerics, layout during training."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from labkit.data import Split
from labkit.errors import InputError
from labkit.models import SmallCNN
from labkit.train import TrainConfig, Trainer
from labkit.train import precision as mp
from labkit.train.precision import MixedPrecision, autocast_dtype, check_precision, cpu_runs_bf16_fast

CPU = torch.device("cpu")


@pytest.fixture
def fresh_detection():
    """Detection is cached per process: clear it around a test that fakes the CPU."""
    cpu_runs_bf16_fast.cache_clear()
    yield
    cpu_runs_bf16_fast.cache_clear()


@pytest.fixture(scope="module")
def split(pneumonia28) -> Split:
    return pneumonia28["train"].subset(64, seed=0)


def tiny_model(seed: int = 0) -> SmallCNN:
    torch.manual_seed(seed)
    return SmallCNN(width=4, hidden=16)


@pytest.mark.parametrize("bad", ["fp16", "BF16", "", None, 32])
def test_a_bad_precision_names_the_valid_ones(bad: object) -> None:
    with pytest.raises(InputError, match=r"precision must be one of \['auto', 'fp32', 'bf16'\]"):
        check_precision(bad)
    with pytest.raises(InputError, match="precision must be one of"):
        TrainConfig(precision=bad)


def test_default_precision_is_auto() -> None:
    assert TrainConfig().precision == "auto"
    assert TrainConfig(**TrainConfig(precision="bf16").as_dict()).precision == "bf16"


@pytest.mark.parametrize(("amx", "avx512_bf16", "fast"), [(False, False, False), (True, False, True),
                                                         (False, True, True), (True, True, True)])
def test_detection_reads_the_cpu_capabilities_torch_reports(monkeypatch, fresh_detection, amx: bool,
                                                           avx512_bf16: bool, fast: bool) -> None:
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    assert cpu_runs_bf16_fast() is fast
    assert autocast_dtype("auto", CPU) == (torch.bfloat16 if fast else None)


def test_detection_without_capability_probes_means_fp32(monkeypatch, fresh_detection) -> None:
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    assert cpu_runs_bf16_fast() is False
    assert MixedPrecision.resolve("auto", CPU).name == "fp32"


def test_explicit_precisions_on_cpu_and_other_devices(monkeypatch) -> None:
    monkeypatch.setattr(mp, "cpu_runs_bf16_fast", lambda: False)
    assert autocast_dtype("fp32", CPU) is None
    assert autocast_dtype("bf16", CPU) is torch.bfloat16  # asked for: emulated where not native
    mps = torch.device("mps")
    assert autocast_dtype("auto", mps) is None
    with pytest.raises(InputError, match="bf16 training is offered on cpu and cuda, not on mps"):
        autocast_dtype("bf16", mps)
    assert MixedPrecision.resolve("auto", mps).channels_last is False


def test_fp32_fallback_trains_exactly_like_fp32(monkeypatch, split: Split) -> None:
    monkeypatch.setattr(mp, "cpu_runs_bf16_fast", lambda: False)
    runs = {}
    for precision in ("auto", "fp32"):
        trainer = Trainer(tiny_model(), split, None, TrainConfig(epochs=1, batch_size=32, precision=precision))
        assert trainer.precision.name == "fp32" and trainer.precision.dtype is None
        trainer.fit()
        runs[precision] = trainer.model.state_dict()
    assert all(torch.equal(runs["auto"][k], runs["fp32"][k]) for k in runs["fp32"])


def test_bf16_autocast_runs_in_bf16_and_stays_close_to_fp32(split: Split) -> None:
    model = tiny_model().eval()
    x = split.images[:32]
    bf16 = MixedPrecision(CPU, torch.bfloat16, channels_last=True)
    with torch.no_grad():
        ref = model(x)
        with bf16.autocast():
            low = model(bf16.inputs(x))
    assert low.dtype == torch.bfloat16 and ref.dtype == torch.float32
    # bf16 keeps 8 bits of mantissa: logits agree to about 1 % of their scale
    assert (low.float() - ref).abs().max() <= 0.02 * ref.abs().max() + 1e-3
    grads = []
    for autocast in (torch.autocast("cpu", enabled=False), bf16.autocast()):
        model.zero_grad()
        with autocast:
            logits = model(x)
        F.cross_entropy(logits.float(), split.labels[:32]).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert grads[1].dtype == torch.float32  # weights and their gradients stay fp32
    assert F.cosine_similarity(grads[0], grads[1], dim=0) > 0.99


def test_bf16_training_follows_the_fp32_loss_curve(split: Split) -> None:
    losses = {}
    for precision in ("fp32", "bf16"):
        trainer = Trainer(tiny_model(), split, None, TrainConfig(epochs=3, batch_size=16, lr=3e-3, precision=precision))
        losses[precision] = [e.train_loss for e in trainer.fit().epochs]
        weights = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
        assert weights.dtype == torch.float32 and torch.isfinite(weights).all()
    assert losses["bf16"] != losses["fp32"]  # bf16 really ran
    assert losses["bf16"][-1] < losses["bf16"][0]
    assert max(abs(a - b) for a, b in zip(losses["fp32"], losses["bf16"])) < 0.05


def test_weights_are_channels_last_only_while_training(split: Split) -> None:
    model = tiny_model()
    seen = []
    trainer = Trainer(model, split, split, TrainConfig(epochs=1, batch_size=32),
                      on_batch=lambda _: seen.append(model.features.conv2.weight.is_contiguous(
                          memory_format=torch.channels_last)))
    assert trainer.precision.channels_last
    trainer.fit()
    assert seen and all(seen)
    assert all(p.is_contiguous() for p in model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_auto_uses_amp(split: Split) -> None:
    device = torch.device("cuda")
    settings = MixedPrecision.resolve("auto", device)
    assert settings.dtype in (torch.bfloat16, torch.float16)
    assert (settings.scaler() is not None) == (settings.dtype is torch.float16)
    trainer = Trainer(tiny_model().to(device), split.to(device), None, TrainConfig(epochs=1, batch_size=32))
    assert torch.isfinite(torch.tensor(trainer.fit().epochs[-1].train_loss))
