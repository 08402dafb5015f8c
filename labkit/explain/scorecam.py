"""Score-CAM: feature maps weighted by the score of the image they mask."""
from __future__ import annotations

import math

import torch

from labkit.explain.base import Attribution, Param, cat, chunks, frozen_eval, register, target_probs, target_scores
from labkit.explain.cam import CAMExplainer, upsample


WEIGHTINGS = ("softmax", "probability")


def normalized_masks(acts: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Upsample ``(M, h, w)`` non-constant activation maps to ``size`` and min-max scale each to [0, 1]."""
    up = upsample(acts, size)
    lo = up.amin((1, 2), keepdim=True)
    return (up - lo) / (up.amax((1, 2), keepdim=True) - lo)


@register("scorecam", "Score-CAM")
class ScoreCAM(CAMExplainer):
    """Score-CAM: ``ReLU(Σ_k w_k A^k)`` with ``w = softmax_k(f_c(x ⊙ M_k))``.

    ``M_k`` is channel ``k`` of ``layer`` upsampled to the image and min-max
    scaled to [0, 1]; masked pixels move towards 0.0 of the model's input (mid-gray
    in [-1, 1]). ``weighting="softmax"`` (default, the paper's and pytorch-grad-cam's):
    a softmax over channels of the target logit of each masked image;
    ``"probability"``: ``w_k = p_c(x ⊙ M_k)``, the softmax probability of the target
    for each mask on its own (labkit's earlier weighting). Gradient-free: every masked
    image of every input goes through the model as batches without building a graph,
    on CPU with conv weights in channels-last layout (forward values equal to rounding,
    about 1.25× faster); constant channels get weight 0 and no masked pass. As for the
    other CAMs, the ReLU is applied at layer resolution before bilinear upsampling. ``channel_fraction < 1`` scores only
    that share of each image's channels, those of highest mean activation (the
    others get weight 0): the panels' quick preview, not the published method.

    References
    ----------
    H. Wang, Z. Wang, M. Du, F. Yang, Z. Zhang, S. Ding, P. Mardziel, X. Hu.
    "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural
    Networks." CVPR Workshops, 2020.
    """

    description = "Feature maps weighted by the class score of the image each one masks (no gradients)."
    params = CAMExplainer.params + (
        Param("weighting", "choice", "softmax", choices=WEIGHTINGS,
              description="softmax over channels of masked-image logits (paper), or each mask's probability"),
        Param("channel_fraction", "float", 1.0, min=0.01, max=1.0, step=0.01,
              description="share of channels scored, those of highest mean activation (1 = all, as published)",
              coarse=0.25),
    )

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> Attribution:
        n, size, chunk = x.shape[0], x.shape[-2:], self.chunk_size(x)
        probability = self.config["weighting"] == "probability"
        store: list[torch.Tensor] = []
        with torch.no_grad():
            with self._capture(store, with_grad=False):
                for sl in chunks(n, chunk):
                    self.model(x[sl])
            acts = cat(store)
            k = acts.shape[1]
            m = max(1, math.ceil(self.config["channel_fraction"] * k))
            flat = acts.flatten(0, 1)
            # masked passes for the m most active channels of each image (all by default), less the
            # constant ones (no spatial information); the others get weight 0 (−inf before the softmax)
            chosen = torch.ones(n, k, dtype=torch.bool, device=x.device) if m == k else torch.zeros(
                n, k, dtype=torch.bool, device=x.device).scatter(1, acts.mean((2, 3)).topk(m, dim=1).indices, True)
            varying = (chosen.flatten() & (flat.amax((1, 2)) > flat.amin((1, 2)))).nonzero().flatten()
            scores = torch.full((n * k,), 0.0 if probability else -math.inf, device=x.device, dtype=x.dtype)
            with frozen_eval(self.model, channels_last=x.device.type == "cpu"):
                for sl in chunks(len(varying), chunk):
                    idx = varying[sl]
                    img = idx // k
                    logits = self.model(x[img] * normalized_masks(flat[idx], size)[:, None])
                    score = target_probs if probability else target_scores
                    scores[idx] = score(logits, target[img])
            weights = scores.view(n, k)
            if not probability:  # constant channels (-inf) get weight 0; all constant: all 0
                weights = torch.softmax(weights, 1).nan_to_num(0.0)
        return self._cam_result(acts, weights, size)
