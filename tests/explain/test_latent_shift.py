"""Latent Shift: frames, λ search, the four maps, batching and bad input."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from labkit.errors import InputError
from labkit.explain import explain, get_explainer, list_explainers
from labkit.explain.latent_shift import LatentShift, latent_maps, sweep_lambdas
from labkit.models import SmallCNN, SmallResNet
from labkit.models.autoencoder import ConvAutoencoder

SIZE = 32  # the size of the ``images`` fixture


@pytest.fixture
def ae() -> ConvAutoencoder:
    torch.manual_seed(3)
    return ConvAutoencoder(SIZE, bottleneck=2, width=4).eval()


class Identity(nn.Module):
    """encode = decode = identity: the latent shift is a plain gradient step in pixel space."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0 * self.dummy

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z


class MeanModel(nn.Module):
    """Logits ``(0, w·(mean(x) − c))``: p(class 1) is a sigmoid of the image mean (monotone)."""

    def __init__(self, w: float = 4.0, c: float = 0.0) -> None:
        super().__init__()
        self.w, self.c = nn.Parameter(torch.tensor(w)), c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.w * (x.mean((1, 2, 3)) - self.c)
        return torch.stack([torch.zeros_like(s), s], 1)


class BumpModel(MeanModel):
    """p(class 1) peaks where the image mean is ``c``: going up, it rises then falls."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = -self.w * (x.mean((1, 2, 3)) - self.c) ** 2
        return torch.stack([torch.zeros_like(s), s], 1)


class Constant(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.b = nn.Parameter(torch.tensor([0.2, -0.1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b.expand(len(x), 2) + 0 * x.mean()


def prob1(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x).softmax(1)[:, 1]


def test_registered_with_param_specs() -> None:
    assert "latent_shift" in list_explainers() and get_explainer("latent_shift") is LatentShift
    assert LatentShift.needs == ("autoencoder",) and "References" in LatentShift.__doc__
    assert {p.name for p in LatentShift.params} == {"map", "n_frames", "drop", "rise", "step", "growth", "budget"}
    assert LatentShift.param_spec("map").choices == ("max", "mean", "minmax", "interval")


def test_lambda_zero_frame_is_the_reconstruction(cnn, ae, images, targets) -> None:
    attr = explain(cnn.eval(), images, targets, method="latent_shift", autoencoder=ae, n_frames=9)
    lam, frames = attr.extras["lambdas"], attr.extras["frames"]
    assert frames.shape == (3, 9, 1, SIZE, SIZE) and lam.shape == (3, 9)
    assert (lam[:, 1:] >= lam[:, :-1]).all() and ((lam == 0).sum(1) == 1).all()
    with torch.no_grad():
        recon = ae(images)
    zero = frames[lam == 0]
    torch.testing.assert_close(zero, recon, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(attr.extras["recon"], recon, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(attr.extras["probs"][lam == 0], cnn(recon).softmax(1).gather(1, targets[:, None])[:, 0],
                               rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(attr.extras["input_prob"], cnn(images).softmax(1).gather(1, targets[:, None])[:, 0])


def test_probability_moves_in_the_gradients_direction(cnn, ae, images, targets) -> None:
    """p(D(z ± λg)) ≈ p0 ± λ‖g‖² for small λ: a positive shift raises the target probability,
    a negative one lowers it, at the rate the gradient g = ∂p/∂z predicts (float64 for a clean slope)."""
    cnn, ae = cnn.eval().double(), ae.double()
    for i in range(3):
        x, t = images[i:i + 1].double(), int(targets[i])
        z = ae.encode(x).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(cnn(ae.decode(z)).softmax(1)[0, t], z)
        lam = 1e-7 / float(g.pow(2).sum())  # moves p by about 1e-7
        attr = LatentShift(cnn, ae, step=lam, growth=0.0, budget=1, n_frames=3).attribute(x, t)
        p = attr.extras["probs"][0].double()
        assert p[0] < p[1] < p[2]
        slope = (p[2] - p[0]) / (2 * lam)
        assert slope == pytest.approx(float(g.pow(2).sum()), rel=1e-2)  # ReLU kinks: not exactly linear


def test_frames_follow_the_closed_form_with_an_identity_autoencoder(images) -> None:
    """E = D = identity: x′_λ = x + λ·∂p/∂x; ∂p/∂x of MeanModel is p(1−p)·w/(C·H·W) everywhere."""
    model = MeanModel()
    attr = LatentShift(model, Identity(), n_frames=5, step=100.0, budget=1, growth=0.0).attribute(images, 1)
    p0 = prob1(model, images)
    g = (p0 * (1 - p0) * 4.0 / (SIZE * SIZE)).view(3, 1, 1, 1)
    lam = attr.extras["lambdas"]
    expected = images[:, None] + lam.float().view(3, 5, 1, 1, 1) * g[:, None]
    torch.testing.assert_close(attr.extras["frames"], expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(attr.maps, (expected - images[:, None]).abs().amax(1).sum(1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("drop,rise", [(0.3, 0.05), (0.1, 0.2)])
def test_search_stops_at_the_stated_fractions(images, drop, rise) -> None:
    """Down until p ≤ (1 − drop)·p0, up until p ≥ p0 + rise·(1 − p0): at the first step that gets there."""
    model = MeanModel(w=2.0)
    ex = LatentShift(model, Identity(), drop=drop, rise=rise, step=20.0, growth=0.0, budget=500)
    attr = ex.attribute(images, 1)
    lo, hi = attr.extras["bounds"].unbind(1)
    p0 = prob1(model, images)
    low, high = (1 - drop) * p0, p0 + rise * (1 - p0)
    assert (attr.extras["probs"][:, 0] <= low).all() and (attr.extras["probs"][:, -1] >= high).all()
    steps, sched = attr.extras["search_steps"], ex._schedule()
    grad = (p0 * (1 - p0) * 2.0 / (SIZE * SIZE)).double()
    for i in range(3):
        assert 1 < steps[i, 0] < 500 and 1 < steps[i, 1] < 500
        assert lo[i] == -sched[steps[i, 0] - 1] and hi[i] == sched[steps[i, 1] - 1]
        one_less_lo, one_less_hi = -sched[steps[i, 0] - 2], sched[steps[i, 1] - 2]
        assert prob1(model, images[i:i + 1] + float(one_less_lo * grad[i])) > low[i]
        assert prob1(model, images[i:i + 1] + float(one_less_hi * grad[i])) < high[i]


def test_search_stops_when_the_prediction_turns(images) -> None:
    """Going up on a bump, the bound is the last λ before the probability starts to fall."""
    model = BumpModel(w=4.0, c=images.mean().item() + 0.3)
    ex = LatentShift(model, Identity(), rise=0.99, step=50.0, growth=0.0, budget=1000, n_frames=12)
    attr = ex.attribute(images, 1)
    hi, n_hi = attr.extras["bounds"][:, 1], attr.extras["search_steps"][:, 1]
    assert (n_hi < 1000).all()
    p0 = prob1(model, images)
    grad = p0 * (1 - p0) * 8.0 * (model.c - images.mean((1, 2, 3))) / (SIZE * SIZE)
    shifted = lambda lam: prob1(model, images + (lam * grad).float().view(3, 1, 1, 1))  # noqa: E731
    assert (shifted(hi) >= shifted(hi + 50.0)).all() and (shifted(hi) >= shifted(hi - 50.0)).all()


def test_budget_bounds_the_search_and_identical_frames_give_zero_maps(images) -> None:
    """A classifier that ignores the image: the gradient is zero, the search runs out of budget,
    every frame equals the reconstruction and all four maps are zero."""
    attr = LatentShift(Constant(), Identity(), budget=3, step=10.0, growth=0.0, n_frames=7).attribute(images, 0)
    assert torch.equal(attr.extras["bounds"], torch.tensor([[-30.0, 30.0]] * 3, dtype=torch.float64))
    assert torch.equal(attr.extras["search_steps"], torch.full((3, 2), 3))
    for name in ("max", "mean", "minmax", "interval"):
        assert torch.equal(attr.extras[f"map_{name}"], torch.zeros(3, SIZE, SIZE))


def test_growth_schedule() -> None:
    ex = LatentShift(Constant(), Identity(), step=10.0, growth=0.1, budget=3)
    torch.testing.assert_close(ex._schedule(), torch.tensor([10.0, 21.0, 33.1], dtype=torch.float64))


def test_four_maps_closed_forms() -> None:
    frames = torch.tensor([[0.0, 2.0], [1.0, 1.0], [3.0, -1.0]]).view(1, 3, 1, 1, 2)  # F=3, pixels 2
    recon = frames[:, 1]
    m = latent_maps(frames, recon)
    torch.testing.assert_close(m["max"], torch.tensor([[[2.0, 2.0]]]))
    torch.testing.assert_close(m["mean"], torch.tensor([[[1.0, 1.0]]]))
    torch.testing.assert_close(m["minmax"], torch.tensor([[[3.0, 3.0]]]))
    torch.testing.assert_close(m["interval"], torch.tensor([[[1.5, 1.5]]]))


@pytest.mark.parametrize("name", ["max", "mean", "minmax", "interval"])
def test_map_choice_selects_the_map(cnn, ae, images, name) -> None:
    attr = explain(cnn.eval(), images, 1, method="latent_shift", autoencoder=ae, map=name, budget=5)
    assert torch.equal(attr.maps, attr.extras[f"map_{name}"]) and attr.maps.shape == (3, SIZE, SIZE)
    assert attr.signed is None and (attr.maps >= 0).all()


def test_sweep_includes_zero_and_shares_frames_by_length() -> None:
    lam = sweep_lambdas(torch.tensor([-30.0, 0.0, -5.0, 0.0], dtype=torch.float64),
                        torch.tensor([10.0, 8.0, 0.0, 0.0], dtype=torch.float64), 5)
    assert torch.equal(lam[0], torch.tensor([-30.0, -20.0, -10.0, 0.0, 10.0], dtype=torch.float64))
    assert torch.equal(lam[1], torch.tensor([0.0, 2.0, 4.0, 6.0, 8.0], dtype=torch.float64))
    assert torch.equal(lam[2], torch.tensor([-5.0, -3.75, -2.5, -1.25, 0.0], dtype=torch.float64))
    assert torch.equal(lam[3], torch.zeros(5, dtype=torch.float64))


def test_channels_last_gives_the_same_sweep(cnn, ae, images, targets) -> None:
    plain = LatentShift(cnn.eval(), ae, budget=10).attribute(images, targets)
    fast = explain(cnn, images, targets, method="latent_shift", autoencoder=ae, budget=10, channels_last=True)
    torch.testing.assert_close(fast.extras["probs"], plain.extras["probs"], rtol=1e-4, atol=1e-5)


def test_batched_images_match_single_calls_and_chunking(cnn, ae, images, targets) -> None:
    cnn.eval()
    batch = LatentShift(cnn, ae, budget=20).attribute(images, targets)
    small = LatentShift(cnn, ae, budget=20, max_batch=2).attribute(images, targets)
    for key in ("lambdas", "probs"):
        torch.testing.assert_close(batch.extras[key], small.extras[key], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(batch.maps, small.maps, rtol=1e-4, atol=1e-5)
    for i in range(3):
        alone = LatentShift(cnn, ae, budget=20).attribute(images[i:i + 1], int(targets[i]))
        torch.testing.assert_close(alone.extras["lambdas"], batch.extras["lambdas"][i:i + 1], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(alone.maps, batch.maps[i:i + 1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model", [SmallCNN(width=4, hidden=16), SmallResNet(), MeanModel()],
                         ids=["small_cnn", "small_resnet", "mean"])
def test_any_classifier_of_the_autoencoders_size(model, ae, images) -> None:
    attr = explain(model, images, 0, method="latent_shift", autoencoder=ae, budget=4)
    assert attr.maps.shape == (3, SIZE, SIZE) and torch.isfinite(attr.maps).all()


def test_state_unchanged(cnn, ae, images) -> None:
    ae.train()
    cnn.train()
    ae_before, cnn_before = copy.deepcopy(ae.state_dict()), copy.deepcopy(cnn.state_dict())
    explain(cnn, images, 1, method="latent_shift", autoencoder=ae, budget=3)
    assert ae.training and cnn.training
    assert all(p.requires_grad and p.grad is None for p in list(ae.parameters()) + list(cnn.parameters()))
    for before, now in ((ae_before, ae.state_dict()), (cnn_before, cnn.state_dict())):
        assert all(torch.equal(before[k], now[k]) for k in before)


# ----------------------------------------------------------------- bad input
def test_no_autoencoder_names_the_training_command(cnn) -> None:
    with pytest.raises(InputError, match="labkit train-ae"):
        explain(cnn, torch.zeros(1, 1, SIZE, SIZE), 0, method="latent_shift")


def test_autoencoder_of_another_size_or_channels(cnn, images) -> None:
    with pytest.raises(InputError, match=r"1×28×28 images but the classifier's images are 1×32×32.*--size 32"):
        explain(cnn, images, 0, method="latent_shift", autoencoder=ConvAutoencoder(28))
    with pytest.raises(InputError, match=r"3×32×32"):
        explain(cnn, images, 0, method="latent_shift", autoencoder=ConvAutoencoder(SIZE, in_channels=3))


def test_not_an_autoencoder(cnn) -> None:
    with pytest.raises(InputError, match="encode"):
        LatentShift(cnn, autoencoder=nn.Linear(2, 2))


@pytest.mark.parametrize("kw,match", [({"budget": 0}, "budget"), ({"drop": 0.0}, r"drop.*\(0, 1\)"),
                                      ({"rise": 1.0}, r"rise.*\(0, 1\)"), ({"drop": 1.5}, "drop"),
                                      ({"n_frames": 1}, "n_frames"), ({"map": "sum"}, "interval"),
                                      ({"step": 0.0}, "step")])
def test_bad_parameters(cnn, ae, kw, match) -> None:
    with pytest.raises(InputError, match=match):
        LatentShift(cnn, ae, **kw)


def test_target_out_of_range(cnn, ae, images) -> None:
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        explain(cnn, images, 2, method="latent_shift", autoencoder=ae)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda(cnn, ae, images, targets) -> None:
    cpu = explain(cnn.eval(), images, targets, method="latent_shift", autoencoder=ae, budget=10)
    gpu = explain(cnn.cuda(), images, targets, method="latent_shift", autoencoder=ae.cuda(), budget=10)
    assert gpu.maps.device.type == "cuda"
    torch.testing.assert_close(gpu.extras["lambdas"].cpu(), cpu.extras["lambdas"], rtol=1e-3, atol=1e-3)
