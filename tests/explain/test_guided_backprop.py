"""Guided Backprop and Guided Grad-CAM against captum; hooks are temporary."""
from __future__ import annotations

import pytest
import torch
from captum.attr import GuidedBackprop, GuidedGradCam

from labkit.explain import explain
from labkit.explain.guided_backprop import guided_relus

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_guided_backprop_matches_captum(cnn, images, targets) -> None:
    attr = explain(cnn, images, targets, method="guided_backprop")
    cnn.eval()
    ref = GuidedBackprop(cnn).attribute(images, target=targets)[:, 0]
    torch.testing.assert_close(attr.signed, ref, rtol=1e-5, atol=1e-9)


def test_guided_gradcam_matches_captum(cnn, images, targets) -> None:
    attr = explain(cnn, images, targets, method="guided_gradcam")
    cnn.eval()
    ref = GuidedGradCam(cnn, cnn.features.relu3).attribute(images, target=targets,
                                                           interpolate_mode="bilinear")[:, 0]
    torch.testing.assert_close(attr.signed, ref, rtol=1e-5, atol=1e-12)


def test_hooks_removed_after_use_and_after_errors(cnn, images) -> None:
    explain(cnn, images, 1, method="guided_backprop")
    assert all(not m._forward_hooks for m in cnn.modules())
    with pytest.raises(RuntimeError):
        with guided_relus(cnn):
            assert any(m._forward_hooks for m in cnn.modules())
            raise RuntimeError("boom")
    assert all(not m._forward_hooks for m in cnn.modules())
    cnn.eval()
    plain = explain(cnn, images, 1, method="gradient")
    x = images.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(cnn(x)[:, 1].sum(), x)
    torch.testing.assert_close(plain.signed, g[:, 0])  # ordinary gradients again


def test_guided_backprop_with_inplace_relu(inplace_net, images) -> None:
    ours = explain(inplace_net, images, 2, method="guided_backprop")
    # reference: replace the in-place ReLUs by out-of-place ones and use captum
    inplace_net.relu1.inplace = inplace_net.relu2.inplace = False
    ref = GuidedBackprop(inplace_net).attribute(images, target=2)[:, 0]
    torch.testing.assert_close(ours.signed, ref)


def test_guided_backprop_ignores_negative_gradients(cnn, images) -> None:
    """Unlike the gradient, guided backprop of the first layer's input only sees
    positive signals; its map differs from the plain gradient."""
    gbp = explain(cnn, images, 1, method="guided_backprop")
    grad = explain(cnn, images, 1, method="gradient")
    assert not torch.allclose(gbp.signed, grad.signed)
