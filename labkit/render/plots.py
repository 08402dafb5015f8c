"""Small matplotlib charts returned as PNG bytes (training curves, confusion matrix,
similarity and perturbation curves, bars).

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot, no
global state), so they can be drawn from a training thread. They are for results
that change rarely (once per epoch or per run); heatmaps that follow a slider use
:mod:`labkit.render.image` instead.
"""
from __future__ import annotations

import io
import math
from typing import Any, Mapping, Sequence

import numpy as np

from labkit.errors import InputError

DPI = 100


def _figure(width: float = 4.0, height: float = 2.8, layout: str | None = "constrained") -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout=layout)


def figure_png(fig: Any) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _field(rec: Any, name: str) -> float:
    v = rec.get(name) if isinstance(rec, Mapping) else getattr(rec, name, None)
    return math.nan if v is None else float(v)


def training_curves_png(history: Sequence[Any], title: str = "") -> bytes:
    """Loss (left) and accuracy (right) per epoch from ``EpochRecord``s or their dicts."""
    fig = _figure(6.4, 2.6)
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = [_field(r, "epoch") for r in history]
    for ax, keys, ylabel in ((ax_loss, ("train_loss", "val_loss"), "loss"), (ax_acc, ("train_acc", "val_acc"), "accuracy")):
        for key, style in zip(keys, ("o-", "s--")):
            ys = [_field(r, key) for r in history]
            if any(np.isfinite(ys)):
                ax.plot(epochs, ys, style, label=key.split("_")[0], markersize=4)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if epochs:
            ax.set_xlim(0.5, max(epochs) + 0.5)
            if len(epochs) <= 12:
                ax.set_xticks(epochs)
            else:
                ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    ax_acc.set_ylim(0, 1.02)
    if not history:
        ax_loss.text(0.5, 0.5, "no epoch yet", ha="center", va="center", transform=ax_loss.transAxes)
    if title:
        fig.suptitle(title, fontsize=10)
    return figure_png(fig)


def confusion_png(confusion: Sequence[Sequence[int]], class_names: Sequence[str] = ("normal", "pneumonia"),
                  title: str = "") -> bytes:
    """Confusion matrix (rows: true class, columns: predicted) with counts in the cells."""
    cm = np.asarray(confusion, dtype=np.int64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(class_names):
        raise InputError(f"confusion must be a square {len(class_names)}×{len(class_names)} matrix, got {cm.shape}")
    fig = _figure(2.8, 2.5)
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=max(int(cm.max()), 1))
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, fontsize=8)
    ax.set_yticks(ticks, class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title, fontsize=9)
    return figure_png(fig)


def line_chart_png(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, xlabel: str = "",
                   ylabel: str = "", title: str = "", ylim: tuple[float, float] | None = None,
                   xticklabels: Sequence[str] | None = None, bands: Mapping[str, Sequence[float]] | None = None,
                   styles: Mapping[str, str] | None = None, size: tuple[float, float] = (5.0, 3.0)) -> bytes:
    """One line per ``label → (x, y)``; optional ± bands and tick labels (e.g. layer names)."""
    fig = _figure(*size)
    ax = fig.subplots()
    for label, (xs, ys) in series.items():
        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        (line,) = ax.plot(xs, ys, (styles or {}).get(label, "o-"), label=label, markersize=3)
        if bands and label in bands:
            b = np.asarray(bands[label], dtype=float)
            ax.fill_between(xs, ys - b, ys + b, color=line.get_color(), alpha=0.15, linewidth=0)
    if xticklabels is not None:
        ax.set_xticks(range(len(xticklabels)), xticklabels, rotation=45, ha="right", fontsize=7)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    if series:
        ax.legend(fontsize=7, loc="best")
    return figure_png(fig)


def similarity_png(summary: Sequence[Mapping[str, Any]], metrics: Sequence[str] = ("spearman_abs", "spearman_signed", "ssim"),
                   title: str = "") -> bytes:
    """Similarity to the original map per randomization step (from ``CascadeResult.summary()``).

    One panel per metric, one line per method (the same colour in every panel), a
    ±std band over images. A method with no defined value for a metric (no signed
    map, constant maps) has no line in that panel.
    """
    steps = sorted({int(r["step"]) for r in summary})
    layers = {int(r["step"]): str(r["layer"]) for r in summary}
    methods = list(dict.fromkeys(r["method"] for r in summary))
    colors = {m: f"C{i % 10}" for i, m in enumerate(methods)}
    fig = _figure(3.2 * len(metrics) + 1.4, 3.2)
    axes = np.atleast_1d(fig.subplots(1, len(metrics), sharey=True))
    handles: dict[str, Any] = {}
    for ax, metric in zip(axes, metrics):
        for method in methods:
            rows = sorted((r for r in summary if r["method"] == method), key=lambda r: r["step"])
            ys = np.array([r[f"{metric}_mean"] for r in rows], dtype=float)
            if not np.isfinite(ys).any():
                continue
            sd = np.nan_to_num(np.array([r[f"{metric}_std"] for r in rows], dtype=float))
            (line,) = ax.plot(steps, ys, "o-", markersize=3, color=colors[method], label=method)
            ax.fill_between(steps, ys - sd, ys + sd, color=colors[method], alpha=0.15, linewidth=0)
            handles.setdefault(method, line)
        ax.axhline(0.0, color="gray", linewidth=0.8)
        ax.set_title(metric.replace("_", " "), fontsize=9)
        ax.set_xticks(steps, [layers[s] for s in steps], rotation=60, ha="right", fontsize=7)
        ax.set_ylim(-1.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("similarity to original map")
    if handles:
        fig.legend([handles[m] for m in methods if m in handles], [m for m in methods if m in handles],
                   loc="outside right upper", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return figure_png(fig)


def bar_chart_png(values: Mapping[str, float], *, ylabel: str = "", title: str = "",
                  ylim: tuple[float, float] | None = (0.0, 1.0)) -> bytes:
    """Bars with the value printed on top (e.g. marker attribution fraction per method)."""
    fig = _figure(max(3.0, 0.8 * len(values) + 1.0), 2.6)
    ax = fig.subplots()
    names = list(values)
    vals = [float(values[n]) for n in names]
    ax.bar(range(len(names)), np.nan_to_num(vals), color="tab:orange")
    for i, v in enumerate(vals):
        ax.text(i, (0 if not np.isfinite(v) else v) + 0.02, "—" if not np.isfinite(v) else f"{v:.2f}",
                ha="center", fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    return figure_png(fig)


def matplotlib_overlay_png(image: object, saliency: object, alpha: float = 0.5, cmap: str = "inferno") -> bytes:
    """A heatmap overlay drawn the usual matplotlib way (one figure per call).

    The slow reference the panel benchmark compares :func:`labkit.render.heatmap_png` with.
    """
    from labkit.render.image import to_array

    fig = _figure(2.56, 2.56, layout=None)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(to_array(image), cmap="gray", vmin=-1, vmax=1)
    ax.imshow(np.abs(to_array(saliency)), cmap=cmap, alpha=alpha)
    ax.axis("off")
    return figure_png(fig)
