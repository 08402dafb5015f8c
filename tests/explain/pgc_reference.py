"""pytorch-grad-cam as the reference of the CAM tests (imported as ``pgc_reference``).

pytorch-grad-cam min-max scales each map to [0, 1] (after the ReLU, at layer
resolution and again after resizing), so labkit's maps are compared after the
same scaling.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402


def reference_maps(cam_class: type, model: torch.nn.Module, layer: str, x: torch.Tensor,
                   targets: list[int]) -> torch.Tensor:
    """pytorch-grad-cam's maps ``(N, H, W)`` for ``cam_class`` at ``layer``."""
    module = dict(model.named_modules())[layer]
    with cam_class(model=model.eval(), target_layers=[module]) as cam:
        cam.batch_size = 64  # Score-CAM's masked batches
        out = cam(input_tensor=x.clone(), targets=[ClassifierOutputTarget(int(t)) for t in targets])
    return torch.from_numpy(np.asarray(out))


def min_max(maps: torch.Tensor) -> torch.Tensor:
    """Each map scaled as pytorch-grad-cam does: ``(m − min) / (1e-7 + max − min)``."""
    flat = maps.flatten(1)
    flat = flat - flat.min(1, keepdim=True).values
    return (flat / (1e-7 + flat.max(1, keepdim=True).values)).view_as(maps)


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image Pearson correlation of two map batches."""
    a, b = a.flatten(1).double(), b.flatten(1).double()
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
