"""Occlusion: slide a filled patch over the image and record the probability drop."""
from __future__ import annotations

import contextlib
import math

import torch

from labkit.errors import InputError
from labkit.explain.base import Attribution, Explainer, Param, cat, chunks, register, target_probs
from labkit.models.layers import channels_last_weights


def window_starts(size: int, patch: int, stride: int) -> list[int]:
    """Top-left offsets along one axis: ``0, stride, ...`` until the axis is covered.

    Same grid as captum's ``Occlusion``: ``ceil((size − patch)/stride) + 1`` windows,
    the last one cut off at the border when ``size − patch`` is not a multiple of
    ``stride``.
    """
    return [k * stride for k in range(math.ceil((size - patch) / stride) + 1)]


def occlusion_masks(h: int, w: int, patch: int, stride: int, device: torch.device) -> torch.Tensor:
    """Boolean masks ``(n_windows, H, W)``, True inside each occluding window."""
    ys, xs = window_starts(h, patch, stride), window_starts(w, patch, stride)
    masks = torch.zeros(len(ys) * len(xs), h, w, dtype=torch.bool, device=device)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            masks[i * len(xs) + j, y:y + patch, x:x + patch] = True
    return masks


@register("occlusion", "Occlusion")
class Occlusion(Explainer):
    """Drop of the target softmax probability when a square patch is filled.

    For each window the patch is set to ``fill`` and ``p_c(x) − p_c(x_occluded)``
    is recorded; a pixel's value is the mean over the windows that cover it.
    Positive values mark evidence *for* the target class; ``maps`` and ``signed``
    both hold this signed drop. Every occluded image of
    every input goes through the model as batches without building a graph.
    ``stride`` may not exceed ``patch`` (every pixel must be covered).

    References
    ----------
    M. D. Zeiler, R. Fergus. "Visualizing and Understanding Convolutional
    Networks." ECCV, 2014.
    """

    description = "Probability drop when a gray patch hides each region (slow but faithful)."
    params = (
        Param("patch", "int", 8, min=2, max=None, step=1, description="side of the square patch (≤ image side)"),
        Param("stride", "int", 4, min=1, max=None, step=1, description="step between patches (≤ patch)",
              coarse=8),
        Param("fill", "float", 0.0, min=-1.0, max=1.0, step=0.05,
              description="gray level of the patch on the [-1, 1] scale (0.0 = mid-gray, -1.0 = black), "
                          "converted to the model's normalisation"),
    )

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        n, _, h, w = x.shape
        patch, stride, fill = int(self.config["patch"]), int(self.config["stride"]), float(self.config["fill"])
        if patch > min(h, w):
            raise InputError(f"patch {patch} is larger than the image ({h}×{w}); choose 2 … {min(h, w)}")
        if stride > patch and patch < max(h, w):
            raise InputError(f"stride {stride} is larger than patch {patch}: pixels would be skipped; "
                             f"choose a stride in [1, {patch}]")
        masks = occlusion_masks(h, w, patch, stride, x.device)
        nw = masks.shape[0]
        # one extra all-False mask: the unoccluded image rides along in the same batches
        masks_ext = torch.cat([masks, masks.new_zeros(1, h, w)])
        fill_t = (torch.tensor(fill, dtype=x.dtype, device=x.device) if self.spec.lab_range
                  else self.spec.level(fill, x))
        # forward passes only: channels-last conv kernels (CPU) change the probabilities by float
        # rounding alone (no max-pool argmax is read, unlike a gradient), and run them about 2× faster
        cpu = x.device.type == "cpu"
        with torch.no_grad(), channels_last_weights(self.model.modules()) if cpu else contextlib.nullcontext():
            probs = []
            for sl in chunks(n * (nw + 1), self.chunk_size(x)):
                idx = torch.arange(sl.start, sl.stop, device=x.device)
                img, win = idx // (nw + 1), idx % (nw + 1)
                batch = torch.where(masks_ext[win, None], fill_t, x[img])
                batch = batch.contiguous(memory_format=torch.channels_last) if cpu else batch
                probs.append(target_probs(self.model(batch), target[img]))
            probs = cat(probs).view(n, nw + 1)
            prob = probs[:, nw]
            drops = prob[:, None] - probs[:, :nw]
            weights = masks.flatten(1).to(x.dtype)
            maps = (drops @ weights) / weights.sum(0)
        maps = maps.view(n, h, w)
        return self._result(maps, maps.clone(), probability=prob)
