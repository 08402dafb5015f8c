from __future__ import annotations

import pytest
import torch

from labkit.errors import InputError
from labkit.evaluate import StabilityResult, stability



def test_linear_model_gradient_is_perfectly_stable(wide_margin_model, bright_images, abs_gradient):
    res = stability(wide_margin_model, bright_images, 1, abs_gradient, sigma=0.03, n=5)
    assert isinstance(res, StabilityResult)
    assert torch.allclose(res.correlation, torch.ones(3, dtype=torch.float64))
    assert torch.equal(res.same_rate, torch.ones(3, dtype=torch.float64))
    assert res.per_copy.shape == (3, 5)
    assert res.metric.higher_is_better


def input_map(model, x, target):
    return x[:, 0]


def test_only_copies_with_the_same_prediction_count(linear_classifier):
    model = linear_classifier(torch.ones(16, 16, dtype=torch.float64))  # class 1 iff sum(x) > 0
    g = torch.Generator().manual_seed(4)
    x = (torch.rand(1, 1, 16, 16, generator=g, dtype=torch.float64) - 0.5) * 0.5
    x = x - x.mean()  # on the decision boundary: noise flips about half the copies
    res = stability(model, x, 0, input_map, sigma=0.03, n=40, seed=1)
    kept = ~res.per_copy.isnan()
    assert 0 < float(res.same_rate[0]) < 1
    assert float(res.same_rate[0]) == pytest.approx(kept.double().mean().item())
    assert float(res.correlation[0]) == pytest.approx(res.per_copy[kept].mean().item())
    assert float(res.correlation[0]) < 1


def test_seeded_and_sigma_zero(wide_margin_model, bright_images):
    a = stability(wide_margin_model, bright_images, 1, input_map, sigma=0.05, n=3, seed=2)
    b = stability(wide_margin_model, bright_images, 1, input_map, sigma=0.05, n=3, seed=2)
    assert torch.equal(a.per_copy, b.per_copy)
    assert (a.correlation < 1).all()
    zero = stability(wide_margin_model, bright_images, 1, input_map, sigma=0.0, n=2)
    assert torch.allclose(zero.correlation, torch.ones(3, dtype=torch.float64))


class ExactImageDetector(torch.nn.Module):
    """Predicts class 0 only for the exact constant image 0.25; any noise flips it to class 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dist = (x - 0.25).abs().flatten(1).sum(1)
        return torch.stack([-1e3 * dist, torch.full_like(dist, -1e-6)], dim=1)


def test_no_copy_kept_gives_nan():
    x = torch.full((2, 1, 8, 8), 0.25)
    res = stability(ExactImageDetector(), x, 0, input_map, sigma=0.03, n=4)
    assert torch.equal(res.same_rate, torch.zeros(2, dtype=torch.float64))
    assert res.correlation.isnan().all() and res.per_copy.isnan().all()


@pytest.mark.parametrize("kwargs, match", [
    ({"sigma": -0.1}, "sigma"), ({"n": 0}, "n must"), ({"method": 3}, "method"), ({"target": 5}, "target")])
def test_bad_inputs(wide_margin_model, bright_images, kwargs, match):
    args = {"method": input_map, "target": 1, **kwargs}
    with pytest.raises(InputError, match=match):
        stability(wide_margin_model, bright_images, args.pop("target"), args.pop("method"), **args)


def test_named_explainer_gradient_on_a_linear_model(wide_margin_model, bright_images):
    res = stability(wide_margin_model, bright_images, 1, "gradient", sigma=0.03, n=3)
    assert torch.allclose(res.correlation, torch.ones(3, dtype=torch.float64))
