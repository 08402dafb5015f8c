from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from skimage.metrics import structural_similarity

from labkit.errors import InputError
from labkit.sanity import pearson, rankdata, spearman, ssim, topk_overlap


@pytest.fixture
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(4, 12, 12, generator=g)
    b = a + 0.5 * torch.rand(4, 12, 12, generator=g)
    return a, b


def test_rankdata_matches_scipy_with_ties():
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 5, (3, 40), generator=g).double()
    expected = np.stack([stats.rankdata(row, method="average") for row in x.numpy()])
    assert np.allclose(rankdata(x).numpy(), expected)


def test_spearman_and_pearson_match_scipy(pair):
    a, b = pair
    rho, r = spearman(a, b), pearson(a, b)
    for i in range(4):
        x, y = a[i].double().ravel(), b[i].double().ravel()
        assert float(rho[i]) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-10)
        assert float(r[i]) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-10)


def test_spearman_with_ties_matches_scipy():
    g = torch.Generator().manual_seed(2)
    a = torch.randint(0, 4, (2, 8, 8), generator=g).float()
    b = torch.randint(0, 4, (2, 8, 8), generator=g).float()
    rho = spearman(a, b)
    for i in range(2):
        expected = stats.spearmanr(a[i].double().ravel(), b[i].double().ravel())[0]
        assert float(rho[i]) == pytest.approx(expected, abs=1e-10)


def test_correlation_closed_forms(pair):
    a, _ = pair
    assert torch.allclose(spearman(a, a), torch.ones(4, dtype=torch.float64))
    assert torch.allclose(spearman(a, a.exp()), torch.ones(4, dtype=torch.float64))  # monotone map
    assert torch.allclose(spearman(a, -a), -torch.ones(4, dtype=torch.float64))
    assert torch.allclose(pearson(a, 3 * a + 1), torch.ones(4, dtype=torch.float64))
    assert shape_ok(spearman(a, a))


def shape_ok(r: torch.Tensor) -> bool:
    return r.shape == (4,) and r.dtype == torch.float64


def test_constant_map_gives_nan(pair):
    a, _ = pair
    b = a.clone()
    b[1] = 0.25
    assert math.isnan(float(spearman(a, b)[1])) and math.isnan(float(pearson(a, b)[1]))
    assert not spearman(a, b)[[0, 2, 3]].isnan().any()


def test_ssim_identity_and_skimage(pair):
    a, b = pair
    assert torch.allclose(ssim(a, a), torch.ones(4, dtype=torch.float64))
    assert torch.allclose(ssim(a, 7 * a + 2), torch.ones(4, dtype=torch.float64))  # per-map normalization
    got = ssim(a, b)
    for i in range(4):
        ai, bi = a[i].double(), b[i].double()
        x = ((ai - ai.min()) / (ai.max() - ai.min())).numpy()
        y = ((bi - bi.min()) / (bi.max() - bi.min())).numpy()
        ref = structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=1.0)
        assert float(got[i]) == pytest.approx(ref, abs=1e-8)
    assert (ssim(a, 1 - a) < 0.5).all()


def test_ssim_joint_and_small_maps(pair):
    a, b = pair
    assert (ssim(a, 2 * a, normalize="joint") < 1).all()
    small = torch.rand(2, 5, 6)
    assert torch.allclose(ssim(small, small), torch.ones(2, dtype=torch.float64))


def test_topk_overlap_closed_forms():
    a = torch.arange(100.0).reshape(1, 10, 10)
    assert float(topk_overlap(a, a, 0.1)) == 1.0
    assert float(topk_overlap(a, -a, 0.1)) == 0.0
    assert float(topk_overlap(a, -a, 0.6)) == pytest.approx(20 / 60)  # top 60 vs bottom 60 share 20
    assert float(topk_overlap(a, a.roll(5), 0.1)) == pytest.approx(0.5)


@pytest.mark.parametrize("a, b, match", [
    (torch.zeros(2, 4, 4), torch.zeros(2, 4, 5), "same shape"),
    (torch.full((1, 4, 4), math.nan), torch.zeros(1, 4, 4), "NaN"),
    (torch.zeros(4), torch.zeros(4), r"\(N, H, W\)"),
    (np.zeros((1, 4, 4)), torch.zeros(1, 4, 4), "torch.Tensor"),
])
def test_bad_inputs(a, b, match):
    for fn in (spearman, pearson, ssim):
        with pytest.raises(InputError, match=match):
            fn(a, b)


@pytest.mark.parametrize("k", [0, 1.5, -0.1, True])
def test_bad_k_fraction(k):
    with pytest.raises(InputError, match=r"\(0, 1\]"):
        topk_overlap(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4), k)
