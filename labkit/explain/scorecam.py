"""Score-CAM: feature maps weighted by the score of the image they mask."""
from __future__ import annotations

import contextlib
import math
from typing import Callable

import torch

from labkit.explain.base import Attribution, Param, cat, chunks, frozen_eval, register, target_probs, target_scores
from labkit.explain.cam import CAMExplainer, upsample
from labkit.models.layers import folded_batchnorm


WEIGHTINGS = ("softmax", "probability")
PRECISIONS = ("fp32", "bf16")
#: fewest masked passes that get the BatchNorm-folded copy: folding takes 8 ms (SmallCNN) to 0.1 s
#: (ResNet-18) and saves about 0.035 ms (SmallCNN, 64 px) to 3 ms (ResNet-18, 224 px) per masked image
FOLD_PASSES = 256


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
    image of every input goes through the model as batches in inference mode, on CPU
    with conv weights and images in channels-last layout, and from ``FOLD_PASSES``
    masked images on with each BatchNorm that follows a conv folded into it
    (:func:`~labkit.models.layers.folded_batchnorm`): logits equal to float rounding,
    fewer and faster kernels. Constant channels get weight 0 and no masked pass; channels
    whose min-max scaled maps are equal (``A₂ = a·A₁ + b``, ``a > 0``) share one pass,
    since they give the same mask (:func:`distinct_masks`). As for the other CAMs, the
    ReLU is applied at layer resolution before bilinear upsampling. ``channel_fraction < 1``
    scores only that share of each image's channels, those of highest mean activation
    (the others get weight 0): the panels' quick preview, not the published method.
    ``precision="bf16"`` (opt-in) runs the masked passes under bf16 autocast, several
    times faster on CPUs with AMX or AVX-512 BF16 and on recent GPUs (emulated, slow,
    elsewhere), with logits off by about 1 %: not the fp32 method.

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
        Param("precision", "choice", "fp32", choices=PRECISIONS,
              description="fp32 (as published), or bf16 autocast for the masked passes: faster where the "
                          "hardware has bf16 units, logits off by about 1 %"),
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
            # masked passes for the m most active channels of each image (all by default); the others get
            # weight 0 (−inf before the softmax)
            chosen = torch.ones(n, k, dtype=torch.bool, device=x.device) if m == k else torch.zeros(
                n, k, dtype=torch.bool, device=x.device).scatter(1, acts.mean((2, 3)).topk(m, dim=1).indices, True)
            flat = acts.flatten(0, 1)
            rep, inverse = distinct_masks(flat, chosen.flatten(), k)
            rep_scores = self._masked_scores(x, target, flat, rep, k, target_probs if probability else target_scores)
            scores = torch.full((n * k,), 0.0 if probability else -math.inf, device=x.device, dtype=x.dtype)
            scores[inverse >= 0] = rep_scores[inverse[inverse >= 0]]
            weights = scores.view(n, k)
            if not probability:  # constant channels (-inf) get weight 0; all constant: all 0
                weights = torch.softmax(weights, 1).nan_to_num(0.0)
        return self._cam_result(acts, weights, size, masked_passes=torch.bincount(rep // k, minlength=n))

    def _masked_scores(self, x: torch.Tensor, target: torch.Tensor, flat: torch.Tensor, rep: torch.Tensor, k: int,
                       score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """``score(logits, target)`` of each image masked by each of its maps in ``rep`` (indices into ``flat``)."""
        cpu = x.device.type == "cpu"
        net = folded_batchnorm(self.model) if len(rep) >= FOLD_PASSES else self.model
        out = torch.empty(len(rep), device=x.device, dtype=x.dtype)
        low = torch.autocast(x.device.type, dtype=torch.bfloat16) if self.config["precision"] == "bf16" \
            else contextlib.nullcontext()
        with frozen_eval(net, channels_last=cpu), torch.inference_mode(), low:
            xs = x.contiguous(memory_format=torch.channels_last) if cpu else x
            for sl in chunks(len(rep), self.chunk_size(x)):
                img = rep[sl] // k
                out[sl] = score(net(xs[img] * normalized_masks(flat[rep[sl]], x.shape[-2:])[:, None]), target[img])
        return out


def distinct_masks(flat: torch.Tensor, chosen: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The channels that need a masked pass, and which of them scores each channel.

    ``flat`` holds the ``(N·K, h, w)`` maps of ``N`` images with ``K`` channels each,
    ``chosen`` ``(N·K,)`` those to score. Constant maps carry no spatial information
    and get no pass. Two maps of one image whose min-max scaled ``h × w`` values are
    equal (``A₂ = a·A₁ + b``, ``a > 0``: a single active cell at the same place, say)
    give the same mask after upsampling and scaling, so one pass scores both.
    Returns ``rep`` (flat indices of one map per distinct mask, grouped by image) and
    ``inverse`` ``(N·K,)``: for each map the position in ``rep`` of its mask, −1 for none.
    """
    lo, hi = flat.amin((1, 2), keepdim=True), flat.amax((1, 2), keepdim=True)
    varying = (chosen & (hi > lo).flatten()).nonzero().flatten()
    keys = torch.cat([(varying // k).to(flat.dtype)[:, None],
                      ((flat[varying] - lo[varying]) / (hi[varying] - lo[varying])).flatten(1)], 1)
    _, which = torch.unique(keys, dim=0, return_inverse=True)
    first = torch.full((int(which.max()) + 1 if len(which) else 0,), len(varying), device=flat.device)
    first = first.scatter_reduce(0, which, torch.arange(len(varying), device=flat.device), "amin")
    rep = varying[first]
    inverse = torch.full((flat.shape[0],), -1, dtype=torch.long, device=flat.device)
    inverse[varying] = which
    return rep, inverse
