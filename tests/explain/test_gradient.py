"""Vanilla gradient and Gradient × Input against captum and known values."""
from __future__ import annotations

import pytest
import torch
from captum.attr import InputXGradient, Saliency

from labkit.explain import explain

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("use_abs", [True, False])
def test_gradient_matches_captum_saliency(cnn, images, targets, use_abs) -> None:
    attr = explain(cnn, images, targets, method="gradient")
    cnn.eval()
    ref = Saliency(cnn).attribute(images, target=targets, abs=use_abs)[:, 0]
    torch.testing.assert_close(attr.maps if use_abs else attr.signed, ref, rtol=1e-5, atol=1e-7)


def test_grad_x_input_matches_captum(cnn, images, targets) -> None:
    attr = explain(cnn, images, targets, method="grad_x_input")
    cnn.eval()
    ref = InputXGradient(cnn).attribute(images, target=targets)[:, 0]
    torch.testing.assert_close(attr.signed, ref, rtol=1e-5, atol=1e-7)


def test_gradient_of_a_linear_model_is_its_weight(linear, images) -> None:
    attr = explain(linear, images, 1)
    w = linear.fc.weight[1].detach().view(32, 32)
    torch.testing.assert_close(attr.signed, w.expand(3, 32, 32))
    torch.testing.assert_close(attr.extras["score"], linear(images)[:, 1].detach())


def test_grad_x_input_is_zero_on_mid_gray_pixels(cnn, images) -> None:
    images = images.clone()
    images[:, :, :8] = 0.0
    attr = explain(cnn, images, 1, method="grad_x_input")
    assert (attr.maps[:, :8] == 0).all() and (attr.maps[:, 8:] > 0).any()
