from __future__ import annotations

import math

import pytest
import torch

from labkit.errors import InputError
from labkit.evaluate import DeletionCurve, InsertionCurve, deletion_curve, gaussian_blur, insertion_curve


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def trapezoid(ys: list[float]) -> float:
    h = 1 / (len(ys) - 1)
    return h * (sum(ys) - (ys[0] + ys[-1]) / 2)


ONES = torch.ones(1, 1, 2, 2, dtype=torch.float64)
SALIENCY = torch.tensor([[[2.0, 1.0], [-1.0, 0.5]]], dtype=torch.float64)  # order: x0, x1, x3, x2


def test_deletion_closed_form(four_pixel_model):
    curve = deletion_curve(four_pixel_model, ONES, 1, SALIENCY, steps=4, fill=0.0)
    # remaining logit after removing 0..4 pixels: 2.5, 0.5, -0.5, -1.0, 0.0
    expected = [sigmoid(v) for v in (2.5, 0.5, -0.5, -1.0, 0.0)]
    assert isinstance(curve, DeletionCurve)
    assert torch.allclose(curve.fractions, torch.tensor([0, 0.25, 0.5, 0.75, 1], dtype=torch.float64))
    assert torch.allclose(curve.scores[0], torch.tensor(expected, dtype=torch.float64))
    assert float(curve.auc[0]) == pytest.approx(trapezoid(expected))
    assert curve.metric.higher_is_better is False


def test_insertion_closed_form_is_the_mirror(four_pixel_model):
    curve = insertion_curve(four_pixel_model, ONES, 1, SALIENCY, steps=4, fill=0.0)
    expected = [sigmoid(v) for v in (0.0, 2.0, 3.0, 3.5, 2.5)]
    assert isinstance(curve, InsertionCurve)
    assert torch.allclose(curve.scores[0], torch.tensor(expected, dtype=torch.float64))
    assert float(curve.auc[0]) == pytest.approx(trapezoid(expected))
    assert curve.metric.higher_is_better is True


def test_target_zero_is_the_complement(four_pixel_model):
    one = deletion_curve(four_pixel_model, ONES, 1, SALIENCY, steps=4)
    zero = deletion_curve(four_pixel_model, ONES, 0, SALIENCY, steps=4)
    assert torch.allclose(one.scores + zero.scores, torch.ones_like(one.scores))


@pytest.fixture
def batch(wide_margin_model):
    g = torch.Generator().manual_seed(3)
    x = torch.rand(5, 1, 16, 16, generator=g, dtype=torch.float64) * 2 - 1
    maps = torch.rand(5, 16, 16, generator=g, dtype=torch.float64)
    return wide_margin_model, x, maps


def _prob(model, x, target):
    with torch.no_grad():
        return torch.softmax(model(x), 1)[:, target].double()


@pytest.mark.parametrize("fill", [0.0, -1.0, "blur"])
def test_curves_start_and_end_at_full_and_filled_scores(batch, fill):
    model, x, maps = batch
    filled = gaussian_blur(x, 1.0) if fill == "blur" else torch.full_like(x, fill)
    dele = deletion_curve(model, x, 1, maps, steps=7, fill=fill, blur_sigma=1.0)
    ins = insertion_curve(model, x, 1, maps, steps=7, fill=fill, blur_sigma=1.0)
    assert dele.scores.shape == (5, 8) and dele.auc.shape == (5,) and dele.fractions.shape == (8,)
    assert torch.allclose(dele.scores[:, 0], _prob(model, x, 1))
    assert torch.allclose(dele.scores[:, -1], _prob(model, filled, 1))
    assert torch.allclose(ins.scores[:, 0], _prob(model, filled, 1))
    assert torch.allclose(ins.scores[:, -1], _prob(model, x, 1))


def test_batched_equals_one_by_one_and_chunking(batch):
    model, x, maps = batch
    whole = deletion_curve(model, x, [0, 1, 0, 1, 1], maps, steps=5)
    small = deletion_curve(model, x, [0, 1, 0, 1, 1], maps, steps=5, batch_size=4)
    assert torch.allclose(whole.scores, small.scores)
    for i, t in enumerate([0, 1, 0, 1, 1]):
        single = deletion_curve(model, x[i:i + 1], t, maps[i:i + 1], steps=5)
        assert torch.allclose(single.scores[0], whole.scores[i])


def test_model_mode_restored(batch):
    model, x, maps = batch
    model.train()
    deletion_curve(model, x, 1, maps, steps=2)
    assert model.training


def test_blur_keeps_constant_images():
    x = torch.full((2, 1, 8, 8), 0.3)
    assert torch.allclose(gaussian_blur(x, 2.0), x)


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps"),
    ({"saliency": torch.zeros(5, 8, 8)}, r"\(5, 16, 16\)"),
    ({"saliency": torch.zeros(4, 16, 16)}, r"\(5, 16, 16\)"),
    ({"saliency": torch.full((5, 16, 16), math.nan)}, "NaN"),
    ({"fill": "noise"}, "fill"),
    ({"fill": math.inf}, "fill"),
    ({"target": 2}, "target"),
])
def test_bad_inputs(batch, kwargs, match):
    model, x, maps = batch
    args = {"saliency": maps, "target": 1, **kwargs}
    with pytest.raises(InputError, match=match):
        deletion_curve(model, x, args.pop("target"), args.pop("saliency"), **args)


def test_bad_images(batch):
    model, x, maps = batch
    with pytest.raises(InputError, match=r"\[-1, 1\]"):
        insertion_curve(model, x * 5, 1, maps)
