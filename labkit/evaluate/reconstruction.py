"""How faithful is the Latent Shift autoencoder? Reconstruction error and what decoding
alone does to the classifier.

Latent Shift explains ``f(D(z))``, not ``f(x)``: if decoding already moves the
prediction, every frame of the movie carries that shift. The paper reports a mean
drop of 0.12 on positive and 0.04 on negative images (Table K.1).

References
----------
J. P. Cohen et al. "Gifsplanation via Latent Shift: A Simple Autoencoder Approach to
Counterfactual Generation for Chest X-rays." MIDL 2021, Appendix K.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from labkit.data.split import Split
from labkit.errors import InputError
from labkit.train.autoencoder import reconstruct
from labkit.train.metrics import auroc, predict

#: the paper's mean prediction drop caused by decoding (Table K.1)
PAPER_DROP = {"positive": 0.12, "negative": 0.04}


@dataclass(frozen=True)
class ReconstructionReport:
    """Reconstruction error and the classifier's probability of class 1 on ``x`` vs ``D(E(x))``.

    ``drop_positive``/``drop_negative`` are the mean of ``p(x) − p(D(E(x)))`` over
    images labelled 1 / 0 (positive = decoding lowers the prediction);
    ``abs_shift`` is the mean ``|p(x) − p(D(E(x)))|`` over all images.
    """

    n: int
    mae: float
    mse: float
    drop_positive: float
    drop_negative: float
    abs_shift: float
    auroc_original: float
    auroc_decoded: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def summary(self) -> str:
        return (f"reconstruction on {self.n} images: MAE {self.mae:.4f}, MSE {self.mse:.4f}\n"
                f"p(class 1) drop from decoding: positives {self.drop_positive:+.3f} "
                f"(paper {PAPER_DROP['positive']:.2f}), negatives {self.drop_negative:+.3f} "
                f"(paper {PAPER_DROP['negative']:.2f}); mean |shift| {self.abs_shift:.3f}\n"
                f"AUROC original {self.auroc_original:.3f}, decoded {self.auroc_decoded:.3f} "
                f"(difference {self.auroc_decoded - self.auroc_original:+.3f})")


def reconstruction_report(autoencoder: nn.Module, classifier: nn.Module | None, split: Split,
                          batch_size: int = 256) -> ReconstructionReport:
    """Evaluate ``autoencoder`` on ``split`` (e.g. the test split), with ``classifier`` when given.

    Without a classifier the probability fields are NaN. The images are moved to the
    autoencoder's device; neither model is changed.
    """
    if len(split) == 0:
        raise InputError(f"the {split.name} split is empty: nothing to reconstruct")
    x = split.images
    recon = reconstruct(autoencoder, x, batch_size)
    x = x.to(recon.device)
    if recon.shape != x.shape:
        raise InputError(f"the autoencoder decodes to {tuple(recon.shape[1:])} but the images are "
                         f"{tuple(x.shape[1:])}: train one at this size with `labkit train-ae --size {x.shape[-1]}`")
    diff = recon - x
    nan = float("nan")
    fields = dict(n=len(x), mae=float(diff.abs().mean()), mse=float(diff.pow(2).mean()))
    if classifier is None:
        return ReconstructionReport(**fields, drop_positive=nan, drop_negative=nan, abs_shift=nan,
                                    auroc_original=nan, auroc_decoded=nan)
    p_x = predict(classifier, x, batch_size).softmax(1)[:, 1].double().cpu().numpy()
    p_r = predict(classifier, recon, batch_size).softmax(1)[:, 1].double().cpu().numpy()
    y = split.labels.cpu().numpy()
    drop = p_x - p_r

    def mean_where(mask: np.ndarray) -> float:
        return float(drop[mask].mean()) if mask.any() else nan

    return ReconstructionReport(**fields, drop_positive=mean_where(y == 1), drop_negative=mean_where(y == 0),
                                abs_shift=float(np.abs(drop).mean()),
                                auroc_original=auroc(y, p_x),
                                auroc_decoded=auroc(y, p_r))  # NaN with one class
