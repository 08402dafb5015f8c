"""The procedural phantom: deterministic, in range, lesion masks only inside pneumonia lungs."""
from __future__ import annotations

import pytest
import torch

from labkit.data import load_phantom, make_phantom
from labkit.errors import InputError


def test_deterministic_with_seed() -> None:
    a, b, c = make_phantom(16, 32, seed=3), make_phantom(16, 32, seed=3), make_phantom(16, 32, seed=4)
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("size", [28, 64])
def test_shapes_dtypes_and_range(size: int) -> None:
    x, y, m = make_phantom(40, size, seed=0)
    assert x.shape == (40, 1, size, size) and x.dtype == torch.float32
    assert y.shape == (40,) and y.dtype == torch.long and set(y.tolist()) == {0, 1}
    assert m.shape == (40, size, size) and m.dtype == torch.bool
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0


def test_masks_empty_for_normal_and_inside_lungs_for_pneumonia() -> None:
    size = 64
    x, y, m = make_phantom(200, size, seed=1)
    assert not m[y == 0].any()
    pneu = m[y == 1]
    assert len(pneu) > 50 and pneu.flatten(1).any(1).all()
    # lesions lie in the lung fields: never at the image border, and within the rib cage region
    ys, xs = pneu.any(0).nonzero().T.float() / (size - 1)
    assert ys.min() > 0.1 and ys.max() < 0.9 and xs.min() > 0.05 and xs.max() < 0.95
    # lesions are opacities: brighter than the same image outside the lesion on average
    for img, mask in zip(x[y == 1][:20, 0], pneu[:20]):
        assert img[mask].mean() > img[~mask].mean()


def test_pneumonia_fraction_and_errors() -> None:
    _, y, m = make_phantom(20, 32, pneumonia_fraction=0.0)
    assert int(y.sum()) == 0 and not m.any()
    _, y, _ = make_phantom(20, 32, pneumonia_fraction=1.0)
    assert int(y.sum()) == 20
    for kwargs in (dict(n=0), dict(n=4, size=8), dict(n=4, pneumonia_fraction=1.5)):
        with pytest.raises(InputError):
            make_phantom(**kwargs)


def test_load_phantom_labdata() -> None:
    data = load_phantom(size=32, device="cpu", counts={"train": 30, "val": 10, "test": 10})
    assert data.name == "phantom" and data.size == 32
    assert [len(s) for s in data.splits.values()] == [30, 10, 10]
    assert all(s.masks is not None and s.masks.shape == (len(s), 32, 32) for s in data.splits.values())
    assert "not patient data" in data.notes[0]
    sub = data["train"].subset(10, seed=0)
    assert sub.masks.shape == (10, 32, 32)
