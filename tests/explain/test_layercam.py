"""LayerCAM against pytorch-grad-cam and its definition."""
from __future__ import annotations

import pytest
import torch

from labkit.explain import explain
from pgc_reference import min_max, reference_maps

from pytorch_grad_cam import LayerCAM  # noqa: E402  (pgc_reference skips when missing)


@pytest.mark.parametrize("layer", ["features.relu3", "features.relu2"])
def test_matches_pytorch_grad_cam(cnn, images, targets, layer) -> None:
    attr = explain(cnn, images, targets, method="layercam", layer=layer)
    ref = reference_maps(LayerCAM, cnn, layer, images, targets.tolist())
    torch.testing.assert_close(min_max(attr.maps), ref, atol=2e-4, rtol=0)


def test_definition(cnn, images) -> None:
    store = []
    h = cnn.features.relu3.register_forward_hook(lambda m, i, o: store.append(o))
    out = cnn.eval()(images[:1].clone().requires_grad_(True))
    h.remove()
    (g,) = torch.autograd.grad(out[0, 1], store[0])
    expected = torch.relu((g.clamp(min=0) * store[0]).sum(1))
    attr = explain(cnn, images[:1], 1, method="layercam")
    torch.testing.assert_close(attr.extras["layer_cam"], expected.detach(), rtol=1e-5, atol=1e-7)
    assert attr.signed is None and (attr.maps >= 0).all()
