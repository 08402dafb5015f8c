"""Method agreement: Spearman, top-k % IoU and thresholded IoU of two map batches; the matrix."""
from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import spearmanr

from labkit.errors import InputError
from labkit.evaluate import agreement, agreement_matrix, method_maps
from labkit.models import SmallCNN


def test_identical_maps_agree_fully() -> None:
    m = torch.rand(3, 8, 8)
    a = agreement(m, m * 2 + 1)
    assert torch.allclose(a.spearman, torch.ones(3, dtype=torch.float64))
    assert (a.topk_iou == 1).all() and (a.threshold_iou == 1).all()


def test_spearman_matches_scipy() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(4, 6, 6), torch.randn(4, 6, 6)
    got = agreement(a, b).spearman
    for i in range(4):
        assert got[i].item() == pytest.approx(spearmanr(a[i].abs().flatten(), b[i].abs().flatten())[0], abs=1e-12)


def test_topk_iou_by_hand() -> None:
    a = torch.zeros(1, 10, 10)
    b = torch.zeros(1, 10, 10)
    a[0, 0, :10] = torch.arange(10, 20)  # top 10 % = row 0
    b[0, 0, :5] = torch.arange(10, 15)   # top 10 % = half of row 0 + 5 pixels elsewhere
    b[0, 9, :5] = torch.arange(10, 15)
    # 5 shared pixels of 10 + 10 - 5 = 15
    assert agreement(a, b, k=10).topk_iou.item() == pytest.approx(5 / 15)


def test_threshold_iou_by_hand() -> None:
    a = torch.tensor([[[0.0, 1.0], [0.6, 0.2]]])
    b = torch.tensor([[[0.0, 0.9], [0.1, 1.0]]])
    # a ≥ 0.5 after scaling: {1, 0.6}; b: {0.9, 1.0} → shared 1 of 3
    assert agreement(a, b, threshold=0.5).threshold_iou.item() == pytest.approx(1 / 3)


def test_signed_and_constant_maps() -> None:
    m = torch.randn(2, 5, 5)
    assert torch.allclose(agreement(m, -m, absolute=True).spearman, torch.ones(2, dtype=torch.float64))
    assert torch.allclose(agreement(m, -m, absolute=False).spearman, -torch.ones(2, dtype=torch.float64))
    flat = agreement(torch.ones(1, 4, 4), torch.ones(1, 4, 4))
    assert math.isnan(flat.spearman.item()) and math.isnan(flat.threshold_iou.item())


def test_order_puts_strong_agreement_first_and_nan_last() -> None:
    base = torch.rand(1, 6, 6)
    maps_a = torch.cat([base, base, torch.ones(1, 6, 6), base])
    maps_b = torch.cat([base, 1 - base, torch.ones(1, 6, 6), base + 0.3 * torch.rand(1, 6, 6)])
    assert agreement(maps_a, maps_b).order("spearman") == [0, 3, 1, 2]


def test_matrix_is_symmetric_with_unit_diagonal() -> None:
    torch.manual_seed(0)
    maps = {"a": torch.rand(3, 8, 8), "b": torch.rand(3, 8, 8), "c": torch.rand(3, 8, 8)}
    mat = agreement_matrix(maps, "topk_iou", k=20)
    assert mat.methods == ["a", "b", "c"] and mat.values.shape == (3, 3) and mat.per_image.shape == (3, 3, 3)
    assert torch.allclose(mat.values, mat.values.T) and (mat.values.diagonal() == 1).all()
    assert mat.values[0, 1].item() == pytest.approx(agreement(maps["a"], maps["b"], k=20).topk_iou.mean().item())


def test_methods_on_a_model() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    maps = method_maps(SmallCNN(width=4), x, 1, ["gradient", "grad_x_input", "gradcam"])
    mat = agreement_matrix(maps)
    assert mat.values.shape == (3, 3) and torch.isfinite(mat.values).all()


@pytest.mark.parametrize("call, message", [
    (lambda: agreement(torch.rand(2, 4, 4), torch.rand(3, 4, 4)), "same shape"),
    (lambda: agreement(torch.rand(2, 4, 4), torch.rand(2, 4, 4), k=0), "percentage in \\(0, 100\\]"),
    (lambda: agreement(torch.rand(2, 4, 4), torch.rand(2, 4, 4), threshold=1.5), "threshold must be a fraction"),
    (lambda: agreement_matrix({"a": torch.rand(1, 4, 4)}), "at least two methods"),
    (lambda: agreement_matrix({"a": torch.rand(1, 4, 4), "b": torch.rand(1, 4, 4)}, "pearson"), "spearman"),
    (lambda: agreement(torch.rand(4, 4), torch.rand(4, 4)), "\\(N, H, W\\)"),
])
def test_bad_input(call, message) -> None:
    with pytest.raises(InputError, match=message):
        call()
