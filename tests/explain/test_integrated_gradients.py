"""Integrated Gradients: captum agreement, completeness, baselines."""
from __future__ import annotations

import pytest
import torch
from captum.attr import IntegratedGradients

from labkit.explain import explain, make_baseline

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("baseline", ["gray", "black"])
def test_matches_captum_riemann_middle(cnn, images, targets, corr, baseline) -> None:
    attr = explain(cnn, images, targets, method="integrated_gradients", steps=16, baseline=baseline)
    cnn.eval()
    base = torch.full_like(images, 0.0 if baseline == "gray" else -1.0)
    ref = IntegratedGradients(cnn).attribute(images, baselines=base, target=targets, n_steps=16,
                                             method="riemann_middle")[:, 0]
    assert corr(attr.signed, ref) >= 0.999
    torch.testing.assert_close(attr.signed, ref, rtol=1e-4, atol=1e-6)


def test_completeness_with_enough_steps(cnn, images, targets) -> None:
    attr = explain(cnn, images, targets, method="integrated_gradients", steps=256, baseline="black")
    diff = attr.extras["score"] - attr.extras["baseline_score"]
    torch.testing.assert_close(attr.signed.sum((1, 2)) - diff, attr.extras["completeness_gap"])
    assert (attr.extras["completeness_gap"].abs() <= 0.02 * diff.abs()).all()
    coarse = explain(cnn, images, targets, method="integrated_gradients", steps=2, baseline="black")
    assert coarse.extras["completeness_gap"].abs().sum() > attr.extras["completeness_gap"].abs().sum()


def test_exact_on_a_linear_model_with_one_step(linear, images) -> None:
    attr = explain(linear, images, 1, method="integrated_gradients", steps=1)
    w = linear.fc.weight[1].detach().view(32, 32)
    torch.testing.assert_close(attr.signed, images[:, 0] * w)  # gray baseline: (x − 0) ⊙ w
    assert attr.extras["completeness_gap"].abs().max() < 1e-4


def test_scores_in_extras(cnn, images) -> None:
    attr = explain(cnn, images, 1, method="integrated_gradients", steps=2, baseline="black")
    cnn.eval()
    with torch.no_grad():
        torch.testing.assert_close(attr.extras["score"], cnn(images)[:, 1])
        torch.testing.assert_close(attr.extras["baseline_score"], cnn(torch.full_like(images, -1.0))[:, 1])


def test_baselines(images) -> None:
    assert (make_baseline("gray", images) == 0).all()
    assert (make_baseline("black", images) == -1).all()
    blurred = make_baseline("blurred", images)
    assert blurred.shape == images.shape and blurred.std() < images.std() / 3
    flat = torch.full_like(images, 0.3)
    torch.testing.assert_close(make_baseline("blurred", flat), flat)  # blur keeps constant images
    noise = make_baseline("noise", images, seed=1)
    assert noise.min() >= -1 and noise.max() <= 1 and noise.std() > 0.5
    assert torch.equal(noise, make_baseline("noise", images, seed=1))


@pytest.mark.parametrize("kind", ["blurred", "noise"])
def test_image_baselines_run_and_are_reported(cnn, images, kind) -> None:
    attr = explain(cnn, images, 1, method="integrated_gradients", steps=4, baseline=kind, seed=3)
    assert torch.equal(attr.extras["baseline"], make_baseline(kind, images, seed=3))


@pytest.mark.parametrize("shape", [(32, 32), (1, 32, 32), (1, 1, 32, 32), (3, 1, 32, 32)])
def test_custom_baseline_tensor(cnn, images, shape) -> None:
    base = torch.full(shape, -1.0)
    custom = explain(cnn, images, 1, method="integrated_gradients", steps=4, baseline=base)
    black = explain(cnn, images, 1, method="integrated_gradients", steps=4, baseline="black")
    assert custom.params["baseline"] == "custom"
    torch.testing.assert_close(custom.signed, black.signed)
