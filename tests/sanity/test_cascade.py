from __future__ import annotations

import math

import pytest
import torch

from labkit.errors import InputError
from labkit.explain import explain
from labkit.sanity import CascadeResult, run_cascade

METHODS = ["gradient", "gradcam", "guided_backprop"]


@pytest.fixture
def result(tiny_cnn, images) -> CascadeResult:
    return run_cascade(tiny_cnn, images, 0, methods=METHODS, keep_maps=True)


def _values(res: CascadeResult, step: int, method: str, metric: str) -> torch.Tensor:
    return res.values(method, metric)[step]


def test_step_zero_is_the_original_model(result, tiny_cnn, images):
    assert result.layers == ["original", "head.fc2", "head.fc1", "features.conv3", "features.conv2",
                             "features.conv1"]
    for method in METHODS:
        direct = explain(tiny_cnn, images, 0, method=method).maps
        assert torch.allclose(result.maps[0][method], direct)
        for metric in ("spearman_abs", "ssim"):
            v = _values(result, 0, method, metric)
            defined = v[~v.isnan()]
            assert len(defined) > 0 and torch.allclose(defined, torch.ones_like(defined)), (method, metric)
    assert torch.allclose(_values(result, 0, "gradient", "spearman_signed"), torch.ones(6, dtype=torch.float64))
    assert _values(result, 0, "gradcam", "spearman_signed").isnan().all()  # CAMs have no sign


def test_rows_summary_and_table(result):
    assert len(result.rows) == 6 * len(METHODS) * 6
    row = result.rows[0]
    assert (row.step, row.layer, row.method, row.image) == (0, "original", "gradient", 0)
    summary = result.summary()
    assert len(summary) == 6 * len(METHODS)
    first = summary[0]
    assert first["spearman_abs_mean"] == pytest.approx(1.0) and first["spearman_abs_n"] == 6
    text = result.to_text()
    assert "features.conv1" in text and "guided_backprop" in text and "spearman_signed" in text
    assert len(result.maps) == 6 and result.maps[3]["gradient"].shape == (6, 16, 16)


def test_full_randomization_changes_the_gradient(result):
    last = _values(result, 5, "gradient", "spearman_abs")
    assert float(last.nanmean()) < 0.9


def test_input_model_untouched_and_reproducible(tiny_cnn, images):
    before = {k: v.clone() for k, v in tiny_cnn.state_dict().items()}
    tiny_cnn.train()
    a = run_cascade(tiny_cnn, images, [0, 1, 0, 1, 0, 1], methods=["gradient"], seed=3)
    b = run_cascade(tiny_cnn, images, [0, 1, 0, 1, 0, 1], methods=["gradient"], seed=3)
    assert tiny_cnn.training
    for k, v in tiny_cnn.state_dict().items():
        assert torch.equal(v, before[k])
    assert [(r.spearman_abs, r.ssim) for r in a.rows] == [(r.spearman_abs, r.ssim) for r in b.rows]
    assert a.maps is None


def test_independent_order_progress_and_layer_subset(tiny_cnn, images):
    calls: list[tuple[int, int]] = []
    res = run_cascade(tiny_cnn, images[:2], 1, methods=["gradient", "smoothgrad"], order="independent",
                      layers=["features.conv1", "head.fc2"], progress=lambda d, t: calls.append((d, t)),
                      method_params={"smoothgrad": {"n_samples": 4}})
    assert res.layers == ["original", "features.conv1", "head.fc2"]
    assert calls == [(i, 6) for i in range(1, 7)]
    assert not math.isnan(res.summary()[-1]["spearman_abs_mean"])


@pytest.mark.parametrize("kwargs, match", [
    ({"methods": ["lrp"]}, "unknown method"),
    ({"methods": []}, "at least one"),
    ({"method_params": {"smoothgrad": {}}}, "not in methods"),
    ({"order": "sideways"}, "order"),
    ({"targets": 4}, "target"),
    ({"metrics": ["pearson"]}, "metrics must name"),
    ({"metrics": []}, "metrics must name"),
])
def test_bad_inputs(tiny_cnn, images, kwargs, match):
    args = {"targets": 1, "methods": ["gradient"], **kwargs}
    with pytest.raises(InputError, match=match):
        run_cascade(tiny_cnn, images, **args)


def test_bad_metric_name(result):
    with pytest.raises(InputError, match="metric"):
        result.to_text(metrics=["pearson"])


def test_metrics_subset_computes_only_those(result, tiny_cnn, images):
    """Leaving SSIM out changes nothing else: the Spearman rows equal the full run's."""
    part = run_cascade(tiny_cnn, images, 0, methods=METHODS, metrics=["spearman_abs"])
    assert part.metrics == ["spearman_abs"]
    for method in METHODS:
        torch.testing.assert_close(part.values(method, "spearman_abs"), result.values(method, "spearman_abs"),
                                   rtol=0, atol=0, equal_nan=True)
        assert part.values(method, "ssim").isnan().all()
        assert part.values(method, "spearman_signed").isnan().all()
    assert "ssim" not in part.to_text() and "spearman_abs" in part.to_text()
