"""Shared machinery of the class activation map (CAM) family.

A forward hook on the chosen layer records its output ``A`` (``(N, K, h, w)``).
For gradient-based CAMs the hook also cuts the graph there, so the backward pass
stops at the layer instead of running down to the input.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F

from labkit.errors import InputError
from labkit.explain.base import Attribution, Explainer, Param, batches, cat, target_gradient
from labkit.models.layers import conv_layers, get_layer

LAYER_PARAM = Param("layer", "layer", None,
                    description="layer whose feature maps are weighted (None = the model's last conv block output)")


class CAMExplainer(Explainer):
    """Base class of CAM methods: captures a layer's activations (and gradients)
    and turns per-channel weights into an upsampled, non-negative map."""

    has_signed = False
    params = (LAYER_PARAM,)

    @contextlib.contextmanager
    def _capture(self, store: list[torch.Tensor], with_grad: bool) -> Iterator[None]:
        """While active, each forward appends the layer output to ``store``.

        With ``with_grad`` the output is replaced by a fresh leaf that requires
        grad (appended to ``store``), so ∂score/∂A can be taken directly.
        """
        layer = get_layer(self.model, str(self.config["layer"]))

        def hook(module: torch.nn.Module, inputs: object, out: object) -> torch.Tensor | None:
            if not isinstance(out, torch.Tensor) or out.dim() != 4:
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise InputError(f"layer {self.config['layer']!r} outputs {shape}, not (N, K, h, w) feature "
                                 f"maps; choose a conv layer: {list(conv_layers(self.model))}")
            # downstream in-place ops (ReLU(inplace=True)) must not touch what is stored
            if not with_grad:
                store.append(out.clone())
                return None
            act = out.detach().requires_grad_(True)
            store.append(act)
            return act.clone()

        handle = layer.register_forward_hook(hook)
        try:
            yield
        finally:
            handle.remove()

    def activations_and_grads(self, x: torch.Tensor, target: torch.Tensor
                              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Layer activations ``A``, gradients ``∂f_c/∂A`` (both ``(N, K, h, w)``) and logits f_c(x)."""
        acts, grads, scores = [], [], []
        store: list[torch.Tensor] = []
        with self._capture(store, with_grad=True), torch.enable_grad():
            for xs, ts in batches(self.chunk_size(x), x, target):
                first = len(store)  # the layer's first output in this forward pass
                logits = self.model(xs)
                g, s = target_gradient(logits, ts, store[first])
                acts.append(store[first].detach())
                grads.append(torch.zeros_like(store[first]) if g is None else g)
                scores.append(s)
        return cat(acts), cat(grads), cat(scores)

    def _cam_result(self, acts: torch.Tensor, weights: torch.Tensor, size: tuple[int, int],
                    **extras: object) -> Attribution:
        """``ReLU(Σ_k w_k A_k)`` at layer resolution, upsampled bilinearly to ``size``."""
        return self._map_result((weights[:, :, None, None] * acts).sum(1), size, weights=weights, **extras)

    def _map_result(self, cam: torch.Tensor, size: tuple[int, int], **extras: object) -> Attribution:
        """``ReLU(cam)`` at layer resolution ``(N, h, w)``, upsampled bilinearly to ``size``."""
        cam = F.relu(cam)
        return self._result(upsample(cam, size), None, layer_cam=cam, **extras)


def upsample(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of ``(N, h, w)`` maps to ``(N, *size)`` (align_corners=False)."""
    return F.interpolate(cam[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
