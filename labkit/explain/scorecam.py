"""Score-CAM: feature maps weighted by the score of the image they mask."""
from __future__ import annotations

import torch

from labkit.explain.base import Attribution, cat, chunks, register, target_probs
from labkit.explain.cam import CAMExplainer, upsample


def normalized_masks(acts: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Upsample ``(M, h, w)`` activation maps to ``size`` and min-max scale each to [0, 1].

    Returns the masks ``(M, H, W)`` and a bool ``(M,)`` that is False for constant
    maps (they carry no spatial information and get weight 0).
    """
    up = upsample(acts, size)
    lo = up.amin((1, 2), keepdim=True)
    span = up.amax((1, 2), keepdim=True) - lo
    valid = span.flatten() > 0
    return (up - lo) / torch.where(span > 0, span, torch.ones_like(span)), valid


@register("scorecam", "Score-CAM")
class ScoreCAM(CAMExplainer):
    """Score-CAM: ``ReLU(Σ_k w_k A^k)`` with ``w_k = p_c(x ⊙ M_k)``.

    ``M_k`` is channel ``k`` of ``layer`` upsampled to the image and min-max
    scaled to [0, 1]; masked pixels move towards 0.0 (mid-gray). ``p_c`` is the
    softmax probability of the target. Gradient-free: every masked image of every
    input goes through the model as batches without building a graph; constant
    channels get weight 0. As for the other CAMs, the ReLU is applied at layer
    resolution before bilinear upsampling.

    References
    ----------
    H. Wang, Z. Wang, M. Du, F. Yang, Z. Zhang, S. Ding, P. Mardziel, X. Hu.
    "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural
    Networks." CVPR Workshops, 2020.
    """

    description = "Feature maps weighted by the class probability of the image each one masks (no gradients)."

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        n, size, chunk = x.shape[0], x.shape[-2:], self.chunk_size(x)
        store: list[torch.Tensor] = []
        with torch.no_grad():
            with self._capture(store, with_grad=False):
                for sl in chunks(n, chunk):
                    self.model(x[sl])
            acts = cat(store)
            k = acts.shape[1]
            weights = []
            for sl in chunks(n * k, chunk):
                idx = torch.arange(sl.start, sl.stop, device=x.device)
                img = idx // k
                masks, valid = normalized_masks(acts.flatten(0, 1)[sl], size)
                p = target_probs(self.model(x[img] * masks[:, None]), target[img])
                weights.append(torch.where(valid, p, torch.zeros_like(p)))
            weights = cat(weights).view(n, k)
        return self._cam_result(acts, weights, size)
