from __future__ import annotations

import math

import pytest
import torch

from labkit.errors import InputError
from labkit.evaluate import pointing_game, region_fraction, topk_iou

RAMP = torch.arange(100.0).reshape(1, 10, 10)  # pixel value = its row-major index


def corner_mask(size: int = 3) -> torch.Tensor:
    mask = torch.zeros(10, 10, dtype=torch.bool)
    mask[:size, :size] = True
    return mask


def test_region_fraction_closed_form():
    maps = torch.zeros(2, 10, 10)
    maps[0, 0, 0], maps[0, 5, 5] = 3.0, -1.0   # abs: 3 inside, 1 outside
    maps[1] = 1.0                              # uniform: mask area fraction
    got = region_fraction(maps, corner_mask())
    assert got.shape == (2,) and got.dtype == torch.float64
    assert float(got[0]) == pytest.approx(0.75)
    assert float(got[1]) == pytest.approx(9 / 100)


def test_region_fraction_edge_cases():
    assert float(region_fraction(torch.zeros(1, 10, 10), corner_mask())[0]) == 0.0
    assert float(region_fraction(torch.ones(1, 10, 10), torch.ones(10, 10))[0]) == pytest.approx(1.0)
    per_image = torch.stack([corner_mask(), ~corner_mask()])
    got = region_fraction(torch.ones(2, 10, 10), per_image.int())
    assert torch.allclose(got, torch.tensor([0.09, 0.91], dtype=torch.float64))


def test_topk_iou_closed_forms():
    top10 = torch.zeros(10, 10, dtype=torch.bool)
    top10.view(-1)[90:] = True
    assert float(topk_iou(RAMP, top10)[0]) == 1.0                 # p = mask area (10 %)
    assert float(topk_iou(RAMP, top10, p=0.2)[0]) == pytest.approx(10 / 20)
    assert float(topk_iou(RAMP, top10, p=0.05)[0]) == pytest.approx(5 / 10)
    assert float(topk_iou(-RAMP, ~top10 & (RAMP[0] < 10))[0]) == pytest.approx(0.0)  # abs ranks
    assert float(topk_iou(RAMP, corner_mask())[0]) == 0.0


def test_pointing_game_with_tolerance():
    maps = torch.zeros(3, 10, 10)
    maps[0, 1, 1] = 5.0       # inside the corner mask
    maps[1, 3, 3] = 5.0       # one pixel off the 3×3 corner (diagonally)
    maps[2, 8, 8] = -9.0      # far away; abs counts
    hits = pointing_game(maps, corner_mask())
    assert hits.dtype == torch.bool and hits.tolist() == [True, False, False]
    assert pointing_game(maps, corner_mask(), tolerance=1).tolist() == [True, True, False]


@pytest.mark.parametrize("fn, kwargs, match", [
    (region_fraction, {"mask": torch.zeros(9, 10)}, r"\(10, 10\)"),
    (topk_iou, {"mask": torch.zeros(2, 10, 10)}, r"\(1, 10, 10\)"),
    (topk_iou, {"p": 0.0}, r"\(0, 1\]"),
    (topk_iou, {"p": 1.5}, r"\(0, 1\]"),
    (topk_iou, {"mask": torch.zeros(10, 10)}, "empty"),
    (pointing_game, {"tolerance": -1}, "tolerance"),
    (region_fraction, {"mask": torch.full((10, 10), 0.5)}, "0 and 1"),
])
def test_bad_masks_and_fractions(fn, kwargs, match):
    args = {"mask": corner_mask(), **kwargs}
    with pytest.raises(InputError, match=match):
        fn(RAMP, **args)


@pytest.mark.parametrize("maps, match", [
    (torch.full((1, 10, 10), math.nan), "NaN"),
    (torch.zeros(10, 10), r"\(N, H, W\)"),
    ([[0.0]], "torch.Tensor"),
])
def test_bad_maps(maps, match):
    for fn in (region_fraction, topk_iou, pointing_game):
        with pytest.raises(InputError, match=match):
            fn(maps, corner_mask())
