"""Grad-CAM, Grad-CAM++ and Score-CAM."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from captum.attr import LayerAttribution, LayerGradCam

from labkit.explain import explain
from labkit.models import SmallResNet


@pytest.mark.parametrize("layer", ["features.conv3", "features.conv2", "features.relu3"])
def test_gradcam_matches_captum_layer_gradcam(cnn, images, targets, layer) -> None:
    attr = explain(cnn, images, targets, method="gradcam", layer=layer)
    cnn.eval()
    module = dict(cnn.named_modules())[layer]
    cam = LayerGradCam(cnn, module).attribute(images, target=targets, relu_attributions=True)
    torch.testing.assert_close(attr.extras["layer_cam"], cam[:, 0], rtol=1e-5, atol=1e-8)
    up = LayerAttribution.interpolate(cam, (32, 32), interpolate_mode="bilinear")[:, 0]
    torch.testing.assert_close(attr.maps, up, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", ["gradcam", "gradcam_pp", "scorecam", "layercam", "hirescam"])
def test_cams_are_non_negative_and_unsigned(cnn, images, targets, name) -> None:
    attr = explain(cnn, images, targets, method=name)
    assert attr.signed is None and (attr.maps >= 0).all() and attr.maps.sum() > 0
    assert attr.extras["layer_cam"].shape == (3, 8, 8)
    assert name in ("layercam", "hirescam") or attr.extras["weights"].shape == (3, 16)


def _acts_grads(model, x, t):
    store = []
    h = model.features.conv3.register_forward_hook(lambda m, i, o: store.append(o))
    out = model(x.requires_grad_(True))
    h.remove()
    (g,) = torch.autograd.grad(out[0, t], store[0])
    return store[0].detach(), g


def test_gradcam_pp_matches_reference_formula(cnn, images) -> None:
    attr = explain(cnn, images[:1], 1, method="gradcam_pp", layer="features.conv3")
    cnn.eval()
    a, g = _acts_grads(cnn, images[:1].clone(), 1)
    w = torch.zeros(a.shape[1])
    for k in range(a.shape[1]):
        for i in range(a.shape[2]):
            for j in range(a.shape[3]):
                gk = float(g[0, k, i, j])
                den = 2 * gk ** 2 + float(a[0, k].sum()) * gk ** 3 + 1e-6
                if gk != 0:
                    w[k] += gk ** 2 / den * max(gk, 0.0)
    cam = F.relu((w[:, None, None] * a[0]).sum(0))
    torch.testing.assert_close(attr.extras["layer_cam"][0], cam, rtol=1e-4, atol=1e-7)


def test_scorecam_probability_weighting_matches_per_mask_loop(cnn, images) -> None:
    attr = explain(cnn, images[:2], 1, method="scorecam", layer="features.conv3", weighting="probability")
    cnn.eval()
    for n in range(2):
        xi = images[n:n + 1]
        store = []
        with torch.no_grad():
            h = cnn.features.conv3.register_forward_hook(lambda m, i, o: store.append(o))
            cnn(xi)
            h.remove()
            acts, cam = store[0], torch.zeros(8, 8)
            for k in range(acts.shape[1]):
                up = F.interpolate(acts[:, k:k + 1], size=(32, 32), mode="bilinear", align_corners=False)
                if up.max() == up.min():
                    continue
                mask = (up - up.min()) / (up.max() - up.min())
                cam += torch.softmax(cnn(xi * mask), 1)[0, 1] * acts[0, k]
        torch.testing.assert_close(attr.extras["layer_cam"][n], F.relu(cam), rtol=1e-4, atol=1e-7)


def test_constant_channels_get_zero_scorecam_weight(inplace_net, images) -> None:
    with torch.no_grad():
        inplace_net.conv2.weight[0].zero_()
        inplace_net.conv2.bias[0] = 1.0
    attr = explain(inplace_net, images, 0, method="scorecam", layer="conv2")
    assert (attr.extras["weights"][:, 0] == 0).all() and (attr.extras["weights"][:, 1:] > 0).all()


@pytest.mark.parametrize("name", ["gradcam", "gradcam_pp", "scorecam", "layercam", "hirescam", "guided_gradcam"])
def test_cams_unaffected_by_inplace_relu_after_the_layer(inplace_net, images, name) -> None:
    a = explain(inplace_net, images, 2, method=name, layer="conv2")
    inplace_net.relu1.inplace = inplace_net.relu2.inplace = False
    b = explain(inplace_net, images, 2, method=name, layer="conv2")
    assert a.maps.shape == (3, 32, 32) and a.maps.sum() > 0
    torch.testing.assert_close(a.maps, b.maps)


def test_gradcam_on_a_resnet_block_output(images) -> None:
    torch.manual_seed(0)
    model = SmallResNet(width=4)
    attr = explain(model, images, 1, method="gradcam", layer="layer2")
    assert attr.maps.shape == (3, 32, 32) and attr.extras["layer_cam"].shape == (3, 16, 16)
