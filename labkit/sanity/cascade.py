"""Cascading randomization runner: maps of every method at every step, and their
similarity to the maps of the original model."""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from labkit.errors import InputError
from labkit.sanity.randomization import BatchNormPolicy, Order, _randomized_copy, randomization_plan
from labkit.sanity.similarity import spearman, ssim
from labkit.models.spec import describe
from labkit.validation import check_images, check_targets

METRICS: tuple[str, ...] = ("spearman_abs", "spearman_signed", "ssim")
DEFAULT_METHODS: tuple[str, ...] = ("gradient", "gradcam", "guided_backprop")


@dataclass(frozen=True)
class CascadeRow:
    """Similarity of one image's map at one step to its map under the original model.

    ``spearman_signed`` is NaN for methods without a signed map; correlations are
    NaN where a map is constant.
    """

    step: int
    layer: str
    method: str
    image: int
    spearman_abs: float
    spearman_signed: float
    ssim: float


@dataclass
class CascadeResult:
    """Tidy result of :func:`run_cascade`.

    Attributes
    ----------
    rows:
        One :class:`CascadeRow` per (step, method, image).
    layers:
        Layer randomized at each step; ``layers[0] == "original"``.
    methods:
        Explanation methods, in the order asked for.
    order:
        ``"cascade"``, ``"independent"`` or ``"bottom_up"``.
    maps:
        With ``keep_maps=True``: ``maps[step][method]`` is the canonical map batch
        ``(N, H, W)`` on the CPU (for a viewer); otherwise ``None``.
    metrics:
        The similarities computed (the others are NaN).
    """

    rows: list[CascadeRow]
    layers: list[str]
    methods: list[str]
    order: str
    maps: list[dict[str, torch.Tensor]] | None = field(default=None, repr=False)
    metrics: list[str] = field(default_factory=lambda: list(METRICS))

    def values(self, method: str, metric: str = "spearman_abs") -> torch.Tensor:
        """``(steps, N)`` float64 tensor of one metric for one method."""
        if method not in self.methods:
            raise InputError(f"unknown method {method!r}; this result has {self.methods}")
        if metric not in METRICS:
            raise InputError(f"unknown metric {metric!r}; choose one of {list(METRICS)}")
        n_images = 1 + max(r.image for r in self.rows)
        out = torch.full((len(self.layers), n_images), math.nan, dtype=torch.float64)
        for r in self.rows:
            if r.method == method:
                out[r.step, r.image] = getattr(r, metric)
        return out

    def summary(self) -> list[dict[str, Any]]:
        """Mean ± std over images per (step, method), NaNs left out.

        Each dict has ``step``, ``layer``, ``method`` and, per metric,
        ``<metric>_mean``, ``<metric>_std`` (sample std, 0 for one value) and
        ``<metric>_n`` (number of images with a defined value).
        """
        out: list[dict[str, Any]] = []
        tables = {(m, k): self.values(m, k) for m in self.methods for k in METRICS}
        for step, layer in enumerate(self.layers):
            for method in self.methods:
                entry: dict[str, Any] = {"step": step, "layer": layer, "method": method}
                for metric in METRICS:
                    v = tables[method, metric][step]
                    v = v[~v.isnan()]
                    entry[f"{metric}_mean"] = float(v.mean()) if len(v) else math.nan
                    entry[f"{metric}_std"] = float(v.std()) if len(v) > 1 else (0.0 if len(v) else math.nan)
                    entry[f"{metric}_n"] = len(v)
                out.append(entry)
        return out

    def to_text(self, metrics: Sequence[str] | None = None) -> str:
        """A printable table per metric (default: the computed ones): one row per step, one column per method.

        Images whose correlation is undefined (a constant map) are left out of the
        mean; a note under the table counts them. "—" marks a metric the method
        does not have (signed maps of CAMs).
        """
        summary = {(s["step"], s["method"]): s for s in self.summary()}
        width = max(17, *(len(m) + 2 for m in self.methods))
        lname = max(len("layer"), *(len(layer) for layer in self.layers))
        n_images = 1 + max(r.image for r in self.rows)
        blocks = []
        for metric in self.metrics if metrics is None else metrics:
            if metric not in METRICS:
                raise InputError(f"unknown metric {metric!r}; choose one of {list(METRICS)}")
            lines = [f"{metric} ({self.order}; mean ± std over images)",
                     f"{'step':>4}  {'layer':<{lname}}" + "".join(f"{m:>{width}}" for m in self.methods)]
            missing = []
            for step, layer in enumerate(self.layers):
                cells = []
                for method in self.methods:
                    s = summary[step, method]
                    mean, std, n = s[f"{metric}_mean"], s[f"{metric}_std"], s[f"{metric}_n"]
                    cells.append(f"{'—':>{width}}" if math.isnan(mean) else f"{f'{mean:+.3f} ± {std:.3f}':>{width}}")
                    if 0 < n < n_images:
                        missing.append(f"{method} step {step}: {n_images - n}")
                lines.append(f"{step:>4}  {layer:<{lname}}" + "".join(cells))
            if missing:
                lines.append(f"(images left out of the {n_images}, constant map: " + ", ".join(missing) + ")")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def __str__(self) -> str:
        return self.to_text()


def _explain_batched(model: nn.Module, x: torch.Tensor, target: torch.Tensor, method: str,
                     params: Mapping[str, Any], batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    from labkit.explain import explain  # imported here: explain may import sanity helpers

    maps, signed = [], []
    for i in range(0, len(x), batch_size):
        att = explain(model, x[i:i + batch_size], target[i:i + batch_size], method=method, **params)
        maps.append(att.maps.detach().cpu())
        signed.append(None if att.signed is None else att.signed.detach().cpu())
    has_signed = all(s is not None for s in signed)
    return torch.cat(maps), (torch.cat(signed) if has_signed else None)  # type: ignore[arg-type]


def run_cascade(model: nn.Module, images: torch.Tensor, targets: int | Sequence[int] | torch.Tensor,
                methods: Sequence[str] = DEFAULT_METHODS, order: Order = "cascade",
                method_params: Mapping[str, Mapping[str, Any]] | None = None, seed: int = 0,
                progress: Callable[[int, int], None] | None = None, *, keep_maps: bool = False,
                layers: Sequence[str] | None = None, batchnorm: BatchNormPolicy = "with_layer",
                batch_size: int = 64, blocks: Sequence[str] | str | None = None,
                metrics: Sequence[str] = METRICS) -> CascadeResult:
    """Randomize ``model`` step by step and compare every method's maps with the original.

    Parameters
    ----------
    model:
        The trained model (not modified; the explanations run on copies in eval mode).
    images, targets:
        Images ``(N, C, H, W)`` as the model takes them (its ``ModelSpec``) and the class explained for each (the
        same class at every step, as in the paper).
    methods:
        Names from :func:`labkit.explain.list_explainers`.
    order, layers, blocks, batchnorm, seed:
        Passed to :func:`labkit.sanity.randomize_layers` (forward order is found
        with ``images[:1]``).
    method_params:
        Extra keyword arguments per method, e.g. ``{"smoothgrad": {"n_samples": 16}}``.
    progress:
        Called as ``progress(done, total)`` after each (step, method).
    keep_maps:
        Keep the canonical maps of every step and method (on the CPU) in
        :attr:`CascadeResult.maps`.
    batch_size:
        Images per call to ``explain``.
    metrics:
        The similarities to compute, from ``METRICS``; the others are NaN in the rows.
        SSIM takes most of the time besides the maps (about 70 % of a call on
        SmallCNN gradient maps), so leave it out when only correlations are read.

    Returns
    -------
    CascadeResult
        Step 0 is the original model (similarity 1 for non-constant maps). For
        each step and method: Spearman correlation of the absolute maps, of the
        signed maps (NaN when the method has none) and SSIM of the absolute maps.

    References
    ----------
    Adebayo et al. (2018). Sanity Checks for Saliency Maps. NeurIPS, section 3.
    """
    images = check_images(images, spec=describe(model))
    if isinstance(methods, str):
        methods = [methods]
    methods = list(methods)
    if not methods:
        raise InputError("methods must name at least one explanation method")
    from labkit.explain import list_explainers

    unknown = [m for m in methods if m not in list_explainers()]
    if unknown:
        raise InputError(f"unknown method(s) {unknown}; choose from {list_explainers()}")
    method_params = dict(method_params or {})
    extra = sorted(set(method_params) - set(methods))
    if extra:
        raise InputError(f"method_params has entries for {extra}, which are not in methods {methods}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be an int >= 1, got {batch_size!r}")
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if not metrics or any(m not in METRICS for m in metrics):
        raise InputError(f"metrics must name one or more of {list(METRICS)}, got {metrics}")
    base = copy.deepcopy(model).eval()
    p = next(base.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    x = images.to(device)
    with torch.no_grad():
        num_classes = base(x[:1]).shape[1]
    t = check_targets(targets, x.shape[0], num_classes, device=device)

    plan = randomization_plan(base, order, layers, x[:1], batchnorm, blocks)
    steps = ((name, _randomized_copy(base, modules, seed)) for name, modules in plan)
    total = (1 + len(plan)) * len(methods)
    rows: list[CascadeRow] = []
    kept: list[dict[str, torch.Tensor]] | None = [] if keep_maps else None
    reference: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
    layer_names: list[str] = []
    done = 0
    for step, (layer, net) in enumerate(itertools.chain([("original", base)], steps)):
        net.eval()
        layer_names.append(layer)
        step_maps: dict[str, torch.Tensor] = {}
        for method in methods:
            maps, signed = _explain_batched(net, x, t, method, method_params.get(method, {}), batch_size)
            if step == 0:
                reference[method] = (maps, signed)
            ref_maps, ref_signed = reference[method]
            nan = torch.full((len(x),), math.nan, dtype=torch.float64)
            s_abs = spearman(ref_maps.abs(), maps.abs()) if "spearman_abs" in metrics else nan
            s_sig = (spearman(ref_signed, signed) if ref_signed is not None and signed is not None
                     and "spearman_signed" in metrics else nan)
            s_ssim = ssim(ref_maps.abs(), maps.abs()) if "ssim" in metrics else nan
            rows.extend(CascadeRow(step, layer, method, i, float(s_abs[i]), float(s_sig[i]), float(s_ssim[i]))
                        for i in range(len(x)))
            step_maps[method] = maps
            done += 1
            if progress is not None:
                progress(done, total)
        if kept is not None:
            kept.append(step_maps)
    return CascadeResult(rows=rows, layers=layer_names, methods=methods, order=order, maps=kept, metrics=metrics)

