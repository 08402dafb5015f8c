"""Checks of exercise 02: occlusion (drop of p_target, overlapping patches averaged)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from labkit.checks import fixtures
from labkit.checks.compare import as_maps, close, diagnose
from labkit.checks.registry import exercise
from labkit.checks.runner import Checker
from labkit.explain import explain


# ---- 02: occlusion ----------------------------------------------------------------------------
def occlusion_reference(model: nn.Module, x: torch.Tensor, target: int, patch: int, stride: int, fill: float,
                        score: str = "prob", reduce: str = "mean", sign: int = 1, windows: str = "exact"
                        ) -> torch.Tensor:
    """Occlusion map and its usual mistakes (a straightforward loop; the fixture images are small).

    ``windows``: ``"exact"`` (every patch inside the image), ``"short"`` (the last position
    missed: ``range(0, H - patch, stride)``) or ``"over"`` (patches run past the edge, clipped).
    """
    n, _, h, w = x.shape
    end = {"exact": 1, "short": 0, "over": patch}[windows]
    starts_y = list(range(0, h - patch + end, stride))
    starts_x = list(range(0, w - patch + end, stride))
    f = (lambda z: z.softmax(1)[:, target]) if score == "prob" else (lambda z: z[:, target])
    with torch.no_grad():
        base = f(model(x))
        total = torch.zeros(n, h, w, dtype=x.dtype)
        count = torch.zeros(h, w, dtype=x.dtype)
        batch, boxes = [], []
        for y0 in starts_y:
            for x0 in starts_x:
                occ = x.clone()
                occ[:, :, y0:y0 + patch, x0:x0 + patch] = fill
                batch.append(occ)
                boxes.append((y0, x0))
        scores = f(model(torch.cat(batch))).view(len(boxes), n)
        for (y0, x0), s in zip(boxes, scores):
            d = sign * (base - s)
            if reduce == "last":
                total[:, y0:y0 + patch, x0:x0 + patch] = d[:, None, None]
            elif reduce == "max":
                region = total[:, y0:y0 + patch, x0:x0 + patch]
                first = count[y0:y0 + patch, x0:x0 + patch] == 0
                total[:, y0:y0 + patch, x0:x0 + patch] = torch.where(first, d[:, None, None],
                                                                     torch.maximum(region, d[:, None, None]))
            else:
                total[:, y0:y0 + patch, x0:x0 + patch] += d[:, None, None]
            count[y0:y0 + patch, x0:x0 + patch] += 1
    if reduce == "mean":
        return total / count.clamp_min(1)
    return total


def _uncovered(ck: Checker, raw: object, patch: int, stride: int) -> None:
    """NaN only along the bottom/right border: pixels no window covered (0 / 0), the off-by-one mistake."""
    if not isinstance(raw, torch.Tensor) or not raw.is_floating_point() or raw.dim() < 2:
        return
    nan = torch.isnan(raw.detach())
    if not nan.any():
        return
    h, w = raw.shape[-2:]
    inner = nan[..., : h - stride, : w - stride]
    if inner.any():
        return
    raise ck.fail(f"your occlusion map is NaN at {int(nan.sum())} pixels along the bottom/right border, which no "
                  "patch covered (0 / 0): your windows are off by one, the last patch position (ending at the "
                  "image border) is missing; use range(0, H - patch + 1, stride)")


@exercise("02_occlusion", "Occlusion (probability drop, overlapping patches averaged)", points=2)
def occlusion(ck: Checker, fn: Callable) -> None:
    """Check ``fn(model, x, target, patch, stride, fill)`` → mean drop of p_target over covering patches."""
    ck.require_callable(fn, "function")
    cases = fixtures.cases()
    settings = ((8, 4, 0.0), (8, 8, -1.0), (16, 8, 0.5))
    for i, case in enumerate(cases):
        m, x, t = case.model, case.x[:2], case.target
        patch, stride, fill = settings[i % len(settings)]
        raw = ck.call(fn, m, x, t, patch, stride, fill)
        _uncovered(ck, raw, patch, stride)
        out = as_maps(ck, raw, x, "your occlusion map")
        ref = explain(m, x, t, "occlusion", patch=patch, stride=stride, fill=fill).maps.double()
        if close(out, ref):
            continue
        other_fill = 0.0 if fill != 0.0 else -1.0
        what = f"{case.name}, patch {patch}, stride {stride}, fill {fill}"
        diagnose(ck, out, ref, [
            ("you measured the drop of the logit; occlusion records the drop of the softmax probability "
             "p_target", lambda: occlusion_reference(m, x, t, patch, stride, fill, score="logit")),
            ("the sign is flipped: record p(original) − p(occluded), so evidence for the class is positive",
             lambda: occlusion_reference(m, x, t, patch, stride, fill, sign=-1)),
            ("you summed the drops of overlapping patches; average them (divide by the number of patches "
             "covering each pixel)", lambda: occlusion_reference(m, x, t, patch, stride, fill, reduce="sum")),
            ("each patch overwrites the pixels it covers, so the last patch wins; average over all patches "
             "covering a pixel", lambda: occlusion_reference(m, x, t, patch, stride, fill, reduce="last")),
            ("you kept the largest drop per pixel; average over the patches covering it",
             lambda: occlusion_reference(m, x, t, patch, stride, fill, reduce="max")),
            (f"the fill value is ignored: fill the patch with `fill` ({fill} here)",
             lambda: occlusion_reference(m, x, t, patch, stride, other_fill)),
            ("two mistakes: you measured the drop of the logit, not of the probability p_target, and the sign is "
             "flipped (record p(original) − p(occluded))",
             lambda: occlusion_reference(m, x, t, patch, stride, fill, score="logit", sign=-1)),
            ("two mistakes: you measured the drop of the logit, and you summed overlapping patches instead of "
             "averaging them", lambda: occlusion_reference(m, x, t, patch, stride, fill, score="logit", reduce="sum")),
            (f"the stride is ignored: you moved the patch by its size ({patch}) instead of the stride ({stride})",
             lambda: occlusion_reference(m, x, t, patch, patch, fill)),
            (f"the stride is ignored: you moved the patch one pixel at a time instead of by the stride ({stride})",
             lambda: occlusion_reference(m, x, t, patch, 1, fill)),
            ("your windows are off by one: the last patch position (ending at the image border) is missing; "
             "use range(0, H - patch + 1, stride)", lambda: occlusion_reference(m, x, t, patch, stride, fill,
                                                                               windows="short")),
            ("your patches run past the image border; only positions where the whole patch fits count: "
             "range(0, H - patch + 1, stride)", lambda: occlusion_reference(m, x, t, patch, stride, fill,
                                                                           windows="over")),
            (f"you filled the patch with white (1.0); fill it with `fill` ({fill} here)",
             lambda: occlusion_reference(m, x, t, patch, stride, 1.0)),
        ], what, "your occlusion map")
    ck.award(2, f"matches labkit's occlusion on {len(cases)} seeded models with several patch sizes, strides and fills")


__all__ = ["occlusion", "occlusion_reference"]
