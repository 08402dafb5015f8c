"""SmoothGrad: identity with Gradient, reproducibility, captum in expectation."""
from __future__ import annotations

import pytest
import torch
from captum.attr import NoiseTunnel, Saliency

from labkit.explain import explain

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_one_sample_without_noise_is_gradient(cnn, images, targets) -> None:
    sg = explain(cnn, images, targets, method="smoothgrad", n_samples=1, sigma=0.0)
    grad = explain(cnn, images, targets, method="gradient")
    assert torch.equal(sg.maps, grad.maps) and torch.equal(sg.signed, grad.signed)


def test_no_noise_gives_gradient_for_any_sample_count(cnn, images, targets) -> None:
    sg = explain(cnn, images, targets, method="smoothgrad", n_samples=5, sigma=0.0)
    grad = explain(cnn, images, targets, method="gradient")
    torch.testing.assert_close(sg.maps, grad.maps)


def test_seeded_and_reproducible(cnn, images) -> None:
    a = explain(cnn, images, 1, method="smoothgrad", n_samples=4, seed=7)
    b = explain(cnn, images, 1, method="smoothgrad", n_samples=4, seed=7)
    c = explain(cnn, images, 1, method="smoothgrad", n_samples=4, seed=8)
    assert torch.equal(a.maps, b.maps) and not torch.equal(a.maps, c.maps)


def test_abs_map_is_mean_of_abs_gradients(cnn, images) -> None:
    """Smilkov convention: mean |∇| ≥ |mean ∇| everywhere."""
    attr = explain(cnn, images, 1, method="smoothgrad", n_samples=8, sigma=0.3)
    assert (attr.maps >= attr.signed.abs() - 1e-7).all()
    assert (attr.maps > attr.signed.abs() + 1e-6).any()


def test_matches_captum_noise_tunnel_in_expectation(cnn, corr) -> None:
    # images away from ±1, so that clamping (labkit) vs no clamping (captum) rarely matters
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(5)) - 0.5
    ours = explain(cnn, x, 1, method="smoothgrad", n_samples=100, sigma=0.15)
    cnn.eval()
    torch.manual_seed(0)
    ref = NoiseTunnel(Saliency(cnn)).attribute(x, nt_type="smoothgrad", nt_samples=100, stdevs=0.15,
                                               target=1, abs=True)[:, 0]
    assert corr(ours.maps, ref) > 0.97
    grad = explain(cnn, x, 1, method="gradient").maps
    assert corr(ours.maps, ref) > corr(grad, ref)  # closer to captum's SmoothGrad than the plain gradient
