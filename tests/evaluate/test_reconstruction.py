"""Reconstruction report: MAE, probability shift by label, AUROC on decoded images."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from labkit.data import Split
from labkit.errors import InputError
from labkit.evaluate.reconstruction import reconstruction_report


class Shift(nn.Module):
    """A stand-in autoencoder: D(E(x)) = x + offset."""

    def __init__(self, offset: float = 0.0) -> None:
        super().__init__()
        self.offset = nn.Parameter(torch.tensor(offset))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.offset


class MeanModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(3.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.w * x.mean((1, 2, 3))
        return torch.stack([torch.zeros_like(s), s], 1)


@pytest.fixture
def split() -> Split:
    gen = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 1] * 20)
    images = (torch.rand(40, 1, 8, 8, generator=gen) * 0.8 - 0.4) + 0.3 * (labels.view(-1, 1, 1, 1) - 0.5)
    return Split("test", images, labels)


def test_perfect_reconstruction(split) -> None:
    r = reconstruction_report(Shift(0.0), MeanModel(), split)
    assert r.n == 40 and r.mae == 0 and r.mse == 0 and r.drop_positive == 0 and r.drop_negative == 0
    assert r.auroc_decoded == r.auroc_original and r.auroc_original > 0.9


def test_darker_reconstructions_lower_the_prediction(split) -> None:
    r = reconstruction_report(Shift(-0.1), MeanModel(), split)
    assert r.mae == pytest.approx(0.1) and r.mse == pytest.approx(0.01)
    sig = lambda x: 1 / (1 + np.exp(-3.0 * x.mean((1, 2, 3)).double().numpy()))  # noqa: E731
    drop = sig(split.images) - sig(split.images - 0.1)
    y = split.labels.numpy()
    assert r.drop_positive == pytest.approx(drop[y == 1].mean())
    assert r.drop_negative == pytest.approx(drop[y == 0].mean())
    assert r.drop_positive > 0 and r.abs_shift == pytest.approx(np.abs(drop).mean())
    assert r.auroc_decoded == pytest.approx(roc_auc_score(y, sig(split.images - 0.1)))  # a shift keeps the ranking
    assert "positives" in r.summary() and "paper 0.12" in r.summary()


def test_without_a_classifier_only_the_error(split) -> None:
    r = reconstruction_report(Shift(0.2), None, split)
    assert r.mae == pytest.approx(0.2) and math.isnan(r.drop_positive) and math.isnan(r.auroc_decoded)


def test_bad_input(split) -> None:
    with pytest.raises(InputError, match="empty"):
        reconstruction_report(Shift(), None, Split("test", torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long)))

    class Crop(Shift):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[..., :4, :4]

    with pytest.raises(InputError, match="train-ae --size 8"):
        reconstruction_report(Crop(), MeanModel(), split)
