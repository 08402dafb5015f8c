"""Predictions and clinical metrics (sensitivity, specificity, balanced accuracy,
AUROC, confusion matrix), in numpy: the ROC curve is scikit-learn's ``roc_curve``
computed the same way (the tests check it against scikit-learn), without importing
scikit-learn, whose import took 1.0 s of CPU in every ``labkit train`` run (benchmarks/README.md)."""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from labkit.data.split import Split
from labkit.errors import InputError
from labkit.models.layers import channels_last_weights
from labkit.train.inference import inference_model
from labkit.train.memory import keep_freed_memory


@dataclass(frozen=True)
class Predictions:
    """Model outputs on a split: ``logits (N, K)``, ``probs (N, K)``, ``preds (N,)``, ``labels (N,)`` (CPU)."""

    logits: torch.Tensor
    probs: torch.Tensor
    preds: torch.Tensor
    labels: torch.Tensor

    @property
    def scores(self) -> np.ndarray:
        """p(pneumonia) per image, the score behind AUROC and thresholds."""
        return self.probs[:, 1].numpy()

    @property
    def accuracy(self) -> float:
        return float((self.preds == self.labels).float().mean())


#: Images per forward pass of :func:`predict` by device type: small batches stay in
#: cache on CPU (524 validation images at 64×64: 64 per pass took half the CPU time
#: of 512 per pass, benchmarks/README.md); GPUs prefer large ones.
PREDICT_BATCH: dict[str, int] = {"cpu": 64}
OTHER_DEVICE_BATCH = 512


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """Logits for ``images`` in eval mode and fp32, in batches; restores the model's mode.

    ``batch_size`` defaults to ``PREDICT_BATCH`` for the model's device. The forward
    runs on :func:`~labkit.train.inference.inference_model`: where a Sequential has
    conv/batch-norm pairs, a copy with them folded, in channels-last layout on CPU. On
    CPU the conv weights (of a model used as it is) and the images are held in
    channels-last layout during the call (the faster oneDNN kernels) and freed
    activations stay in the process for the next batch
    (:func:`~labkit.train.memory.keep_freed_memory`). Logits agree with the plain
    contiguous forward to float rounding (about 1e-7).
    """
    was_training = model.training
    model.eval()
    try:
        dev = next(model.parameters()).device
        bs = batch_size or PREDICT_BATCH.get(dev.type, OTHER_DEVICE_BATCH)
        cpu = dev.type == "cpu" and images.dim() == 4
        net = inference_model(model, channels_last=cpu)
        with contextlib.ExitStack() as cpu_paths:
            if cpu:
                cpu_paths.enter_context(keep_freed_memory())
                cpu_paths.enter_context(channels_last_weights(net.modules()))
            out = [net(_layout(images[i:i + bs].to(dev), cpu)) for i in range(0, len(images), bs)]
    finally:
        model.train(was_training)
    return torch.cat(out).float()


def _layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def evaluate(model: nn.Module, split: Split, batch_size: int | None = None) -> Predictions:
    """Run ``model`` over a whole split and return :class:`Predictions`."""
    logits = predict(model, split.images, batch_size).cpu()
    probs = logits.softmax(1)
    return Predictions(logits, probs, probs.argmax(1), split.labels.cpu())


@dataclass(frozen=True)
class ClinicalMetrics:
    """Binary metrics with pneumonia (1) as the positive class."""

    n: int
    threshold: float
    accuracy: float
    sensitivity: float
    specificity: float
    balanced_accuracy: float
    auroc: float
    ppv: float
    npv: float
    confusion: tuple[tuple[int, int], tuple[int, int]]  # rows: true normal/pneumonia; cols: predicted

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ClinicalMetrics":
        """The inverse of :meth:`as_dict` (JSON turns the confusion matrix into lists)."""
        (tn, fp), (fn, tp) = d["confusion"]
        return cls(**{**d, "confusion": ((int(tn), int(fp)), (int(fn), int(tp)))})

    def summary(self) -> str:
        """Printable multi-line report."""
        (tn, fp), (fn, tp) = self.confusion
        return (f"n={self.n}  threshold={self.threshold:.3f}\n"
                f"accuracy {self.accuracy:.3f}  sensitivity {self.sensitivity:.3f}  specificity {self.specificity:.3f}\n"
                f"balanced accuracy {self.balanced_accuracy:.3f}  AUROC {self.auroc:.3f}  "
                f"PPV {self.ppv:.3f}  NPV {self.npv:.3f}\n"
                f"confusion (rows true normal/pneumonia, cols predicted): [[{tn}, {fp}], [{fn}, {tp}]]")


def _check_binary(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, scores = np.asarray(labels).reshape(-1), np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise InputError(f"labels and scores must have the same length, got {labels.shape} and {scores.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise InputError("labels must be 0 (normal) or 1 (pneumonia)")
    if not np.isfinite(scores).all():
        raise InputError("scores contain NaN or inf; expected probabilities p(pneumonia)")
    return labels.astype(int), scores


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates with each distinct score as the threshold (``score ≥ t``
    is positive), highest threshold first, after the point (0, 0) at ``t = inf``: scikit-learn's
    ``roc_curve(labels, scores, drop_intermediate=False)``. Needs both classes in ``labels``.

    References
    ----------
    T. Fawcett. "An introduction to ROC analysis." Pattern Recognition Letters 27(8), 2006 (Algorithm 1).
    """
    order = np.argsort(scores, kind="mergesort")[::-1]
    s, positive = np.asarray(scores)[order], np.asarray(labels)[order] == 1
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last image of each run of equal scores
    tps = np.r_[0, np.cumsum(positive)[last]]
    fps = np.r_[0, last + 1] - tps
    return fps / fps[-1], tps / tps[-1], np.r_[np.inf, s[last]]


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids); NaN when only one class is present (it is undefined then)."""
    labels = np.asarray(labels)
    if len(np.unique(labels)) != 2:
        return float("nan")
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.trapezoid(tpr, fpr))


def clinical_metrics(labels: np.ndarray | torch.Tensor, scores: np.ndarray | torch.Tensor,
                     threshold: float = 0.5) -> ClinicalMetrics:
    """Metrics at ``threshold`` on p(pneumonia) ``scores``; AUROC is threshold-free."""
    labels, scores = _check_binary(np.asarray(labels), np.asarray(scores))
    preds = (scores >= threshold).astype(int)
    tn, fp, fn, tp = (int(v) for v in np.bincount(2 * labels + preds, minlength=4))

    def ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    sens, spec = ratio(tp, tp + fn), ratio(tn, tn + fp)
    return ClinicalMetrics(n=len(labels), threshold=float(threshold), accuracy=ratio(tp + tn, len(labels)),
                           sensitivity=sens, specificity=spec, balanced_accuracy=(sens + spec) / 2,
                           auroc=auroc(labels, scores),
                           ppv=ratio(tp, tp + fp), npv=ratio(tn, tn + fn), confusion=((tn, fp), (fn, tp)))


def choose_threshold(labels: np.ndarray | torch.Tensor, scores: np.ndarray | torch.Tensor) -> float:
    """Operating threshold maximizing Youden's J (= balanced accuracy) on validation data.

    The cut is placed halfway between the best validation score and the next lower one:
    validation predictions are the same as at the score itself, but a wide gap between
    the classes (a shortcut model) does not push the threshold to its edge.
    """
    labels, scores = _check_binary(np.asarray(labels), np.asarray(scores))
    if len(np.unique(labels)) < 2:
        raise InputError("choosing a threshold needs both classes in the validation labels")
    fpr, tpr, thr = roc_curve(labels, scores)
    best = int(np.argmax(tpr - fpr))
    t = thr[best]
    if np.isfinite(t) and best + 1 < len(thr):
        t = (t + thr[best + 1]) / 2
    return float(min(max(t, 0.0), 1.0))
