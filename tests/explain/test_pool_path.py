"""Max-pools during explainer calls run torch's channels-last kernel: same values and
gradients as torch's NCHW path, bit for bit, and the model is left as it was."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import labkit.explain.calls as calls
from labkit.explain import explain
from labkit.explain.base import frozen_eval

POOLS = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, ceil_mode=True),
         dict(kernel_size=2, stride=1, dilation=2), dict(kernel_size=(2, 3), stride=(2, 1))]


def tied_batch(n: int, c: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Values on a coarse grid, so most windows hold several equal maxima (the tie-breaking case)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-2, 3, (n, c, h, w), generator=g).float() / 2


def values_and_grad(pool: nn.MaxPool2d, x: torch.Tensor, forward) -> tuple[torch.Tensor, torch.Tensor]:
    xi = x.clone().requires_grad_(True)
    out = forward(pool, xi)
    seed = torch.arange(out.numel(), dtype=out.dtype).view_as(out) % 7 - 3  # distinct gradients per window
    (g,) = torch.autograd.grad(out, xi, seed)
    return out.detach(), g


@pytest.mark.parametrize("kwargs", POOLS)
@pytest.mark.parametrize("shape", [(1, 16, 17, 16), (5, 3, 12, 11), (2, 1, 9, 9)])
@pytest.mark.parametrize("grad_min", [0, calls.CL_POOL_GRAD_MIN])  # the autograd.Function path and torch's
def test_pool_path_equals_torch_bit_for_bit(monkeypatch, kwargs, shape, grad_min) -> None:
    monkeypatch.setattr(calls, "CL_POOL_GRAD_MIN", grad_min)
    pool, x = nn.MaxPool2d(**kwargs), tied_batch(*shape)
    want_out, want_grad = values_and_grad(pool, x, nn.MaxPool2d.forward)
    got_out, got_grad = values_and_grad(pool, x, calls._pool_forward)
    assert torch.equal(got_out, want_out) and got_out.is_contiguous()
    assert torch.equal(got_grad, want_grad) and got_grad.is_contiguous()
    with torch.no_grad():
        assert torch.equal(calls._pool_forward(pool, x), want_out)


def test_channels_last_path_is_taken(monkeypatch) -> None:
    monkeypatch.setattr(calls, "CL_POOL_GRAD_MIN", 0)
    x = tied_batch(2, 8, 8, 8).requires_grad_(True)
    out = calls._pool_forward(nn.MaxPool2d(2), x)
    assert type(out.grad_fn).__name__ == "_ChannelsLastMaxPoolBackward"
    with torch.no_grad():  # the no-grad path converts the layout around torch's kernel
        assert calls._pool_forward(nn.MaxPool2d(2), x).is_contiguous()


def test_frozen_eval_routes_pools_and_restores_them(cnn) -> None:
    pools = [m for m in cnn.modules() if isinstance(m, nn.MaxPool2d)]
    assert pools
    with frozen_eval(cnn):
        assert all(m.forward.func is calls._pool_forward for m in pools)
    assert all("forward" not in m.__dict__ for m in pools)
    with pytest.raises(RuntimeError, match="boom"):
        with frozen_eval(cnn):
            raise RuntimeError("boom")
    assert all("forward" not in m.__dict__ for m in pools)


def test_a_pool_with_its_own_forward_is_left_alone(cnn, images) -> None:
    pool = next(m for m in cnn.modules() if isinstance(m, nn.MaxPool2d))
    calls_seen = []
    pool.forward = lambda x: calls_seen.append(1) or nn.MaxPool2d.forward(pool, x)
    explain(cnn, images[:1], 1)
    assert calls_seen and pool.__dict__["forward"] is not None


@pytest.mark.parametrize("method", ["gradient", "smoothgrad", "gradcam", "occlusion", "guided_backprop"])
def test_maps_equal_those_with_torchs_pool(monkeypatch, cnn, images, method) -> None:
    params = {"n_samples": 4} if method == "smoothgrad" else {}
    monkeypatch.setattr(calls, "CL_POOL_GRAD_MIN", 0)  # these small batches take the gradient path too
    torch.manual_seed(0)
    fast = explain(cnn, images, 1, method=method, **params).maps
    monkeypatch.setattr(calls, "_pool_forward", lambda pool, x: nn.MaxPool2d.forward(pool, x))
    torch.manual_seed(0)
    plain = explain(cnn, images, 1, method=method, **params).maps
    assert torch.equal(fast, plain)
