"""Mutation tests of the exercise 02 checks: right implementations pass, plausible wrong ones
fail with the feedback that names their mistake."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion

from checkhelp import assert_accepted, assert_rejected
from labkit import checks


# ---- building blocks -------------------------------------------------------------------------
def _grad(model, x, target, score=lambda z, t: z[:, t]):
    x = x.clone().requires_grad_(True)
    score(model(x), target).sum().backward()
    return x.grad


def _prob(z, t):
    return z.softmax(1)[:, t]


# ---- gradient --------------------------------------------------------------------------------
def gradient_backward(model, x, target):
    return _grad(model, x, target).abs()[:, 0]


def gradient_autograd_loop(model, x, target):
    maps = []
    for img in x:
        img = img[None].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model(img)[0, target], img)
        maps.append(g[0].abs().sum(0))
    return torch.stack(maps)


def gradient_signed(model, x, target):
    return _grad(model, x, target)[:, 0]


def gradient_of_probability(model, x, target):
    return _grad(model, x, target, _prob).abs()[:, 0]


def gradient_class_one(model, x, target):
    return _grad(model, x, target, lambda z, t: z[:, 1]).abs()[:, 0]


def gradient_normalized(model, x, target):
    g = gradient_backward(model, x, target)
    return g / g.flatten(1).max(1).values[:, None, None]


def gradient_keeps_channel(model, x, target):
    return _grad(model, x, target).abs()


def gradient_stub(model, x, target):
    raise NotImplementedError()


@pytest.mark.parametrize("fn", [gradient_backward, gradient_autograd_loop])
def test_gradient_accepts(fn):
    assert_accepted(checks.gradient, fn)
    assert_accepted(checks.gradient, fn, hidden=True)


@pytest.mark.parametrize("fn, fragment", [
    (gradient_signed, "signed gradient"),
    (gradient_of_probability, "softmax probability"),
    (gradient_class_one, "instead of class 0"),
    (gradient_normalized, "normalized per map"),
    (gradient_keeps_channel, "drop the channel axis"),
    (gradient_stub, "NotImplementedError"),
])
def test_gradient_rejects(fn, fragment):
    assert_rejected(checks.gradient, fn, fragment)


# ---- gradient × input ------------------------------------------------------------------------
def gxi(model, x, target):
    return (x * _grad(model, x, target)).sum(1)


def gxi_via_einsum(model, x, target):
    g = _grad(model, x, target)
    return torch.einsum("nchw,nchw->nhw", x, g)


def gxi_abs(model, x, target):
    return (x * _grad(model, x, target)).abs()[:, 0]


def gxi_rescaled_input(model, x, target):
    return ((x + 1) / 2 * _grad(model, x, target))[:, 0]


def gxi_gradient_only(model, x, target):
    return _grad(model, x, target)[:, 0]


def gxi_times_abs_gradient(model, x, target):
    return (x * _grad(model, x, target).abs())[:, 0]


@pytest.mark.parametrize("fn", [gxi, gxi_via_einsum])
def test_grad_x_input_accepts(fn):
    assert_accepted(checks.grad_x_input, fn)


@pytest.mark.parametrize("fn, fragment", [
    (gxi_abs, "absolute value"),
    (gxi_rescaled_input, "rescaled the input to [0, 1]"),
    (gxi_gradient_only, "gradient alone"),
    (gxi_times_abs_gradient, "multiplied x by |∂f_c/∂x|"),
])
def test_grad_x_input_rejects(fn, fragment):
    assert_rejected(checks.grad_x_input, fn, fragment)


# ---- SmoothGrad ------------------------------------------------------------------------------
def smoothgrad_loop(model, x, target, sigma, noise):
    total = torch.zeros_like(x)
    for eps in noise:
        total += _grad(model, (x + sigma * eps).clamp(-1, 1), target).abs()
    return (total / len(noise)).sum(1)


def smoothgrad_batched(model, x, target, sigma, noise):
    n = noise.shape[0]
    noisy = torch.clamp(x[None] + sigma * noise, min=-1.0, max=1.0).reshape(-1, *x.shape[1:])
    g = _grad(model, noisy, target).view(n, *x.shape)
    return g.abs().mean(dim=0)[:, 0]


def smoothgrad_unclamped(model, x, target, sigma, noise):
    return torch.stack([_grad(model, x + sigma * e, target).abs() for e in noise]).mean(0)[:, 0]


def smoothgrad_abs_of_mean(model, x, target, sigma, noise):
    return torch.stack([_grad(model, (x + sigma * e).clamp(-1, 1), target) for e in noise]).mean(0).abs()[:, 0]


def smoothgrad_variance(model, x, target, sigma, noise):
    return torch.stack([_grad(model, (x + sigma ** 2 * e).clamp(-1, 1), target).abs() for e in noise]).mean(0)[:, 0]


def smoothgrad_sum(model, x, target, sigma, noise):
    return torch.stack([_grad(model, (x + sigma * e).clamp(-1, 1), target).abs() for e in noise]).sum(0)[:, 0]


@pytest.mark.parametrize("fn", [smoothgrad_loop, smoothgrad_batched])
def test_smoothgrad_accepts(fn):
    assert_accepted(checks.smoothgrad, fn)


@pytest.mark.parametrize("fn, fragment", [
    (smoothgrad_unclamped, "not clamped"),
    (smoothgrad_abs_of_mean, "averaged the signed gradients"),
    (smoothgrad_variance, "σ² instead of σ"),
    (smoothgrad_sum, "summed over the 6 samples"),
])
def test_smoothgrad_rejects(fn, fragment):
    assert_rejected(checks.smoothgrad, fn, fragment)


# ---- Integrated Gradients --------------------------------------------------------------------
def ig_loop(model, x, target, baseline, steps=32):
    total = torch.zeros_like(x)
    for k in range(steps):
        alpha = (k + 0.5) / steps
        total += _grad(model, baseline + alpha * (x - baseline), target)
    return ((x - baseline) * total / steps).sum(1)


def ig_batched_reversed_path(model, x, target, baseline, steps=32):
    # the path from x to the baseline visits the same midpoints: same result
    alphas = (torch.arange(steps) + 0.5) / steps
    path = torch.cat([x + a * (baseline - x) for a in alphas])
    g = _grad(model, path, target).view(steps, *x.shape).mean(0)
    return ((x - baseline) * g)[:, 0]


def ig_no_delta(model, x, target, baseline, steps=32):
    return torch.stack([_grad(model, baseline + (k + 0.5) / steps * (x - baseline), target)
                        for k in range(steps)]).mean(0)[:, 0]


def ig_times_x(model, x, target, baseline, steps=32):
    return x[:, 0] * ig_no_delta(model, x, target, baseline, steps)


def ig_ignores_baseline(model, x, target, baseline, steps=32):
    return ig_loop(model, x, target, torch.zeros_like(x), steps)


def ig_linspace(model, x, target, baseline, steps=32):
    g = torch.stack([_grad(model, baseline + a * (x - baseline), target) for a in torch.linspace(0, 1, steps)])
    return ((x - baseline) * g.mean(0))[:, 0]


def ig_gradient_at_input(model, x, target, baseline, steps=32):
    return ((x - baseline) * _grad(model, x, target))[:, 0]


@pytest.mark.parametrize("fn", [ig_loop, ig_batched_reversed_path])
def test_integrated_gradients_accepts(fn):
    result = assert_accepted(checks.integrated_gradients, fn)
    assert any("completeness" in m for m in result.feedback)


@pytest.mark.parametrize("fn, fragment", [
    (ig_no_delta, "(x − baseline) factor is missing"),
    (ig_times_x, "multiplied by x instead of (x − baseline)"),
    (ig_ignores_baseline, "baseline argument is ignored"),
    (ig_linspace, "torch.linspace(0, 1, steps)"),
    (ig_gradient_at_input, "taken at the input x"),
])
def test_integrated_gradients_rejects(fn, fragment):
    assert_rejected(checks.integrated_gradients, fn, fragment)


def captum_ig(model, x, target, baseline, steps):
    ig = IntegratedGradients(model)
    return ig.attribute(x, baselines=baseline, target=target, n_steps=steps, method="riemann_middle").sum(1)


def captum_ig_squeezed(model, x, target, baseline, steps):
    attr = IntegratedGradients(lambda inp: model(inp)).attribute(
        x, baselines=baseline, target=target, n_steps=steps, method="riemann_middle", internal_batch_size=4)
    return attr.squeeze(1).detach()


def captum_default_rule(model, x, target, baseline, steps):
    return IntegratedGradients(model).attribute(x, baselines=baseline, target=target, n_steps=steps)[:, 0]


def captum_no_baseline(model, x, target, baseline, steps):
    return IntegratedGradients(model).attribute(x, target=target, n_steps=steps, method="riemann_middle")[:, 0]


def captum_default_steps(model, x, target, baseline, steps):
    return IntegratedGradients(model).attribute(x, baselines=baseline, target=target,
                                                method="riemann_middle")[:, 0]


def captum_keeps_channel(model, x, target, baseline, steps):
    return IntegratedGradients(model).attribute(x, baselines=baseline, target=target, n_steps=steps,
                                                method="riemann_middle")


@pytest.mark.parametrize("fn", [captum_ig, captum_ig_squeezed])
def test_ig_captum_accepts(fn):
    assert_accepted(checks.ig_captum, fn)


@pytest.mark.parametrize("fn, fragment", [
    (captum_default_rule, "Gauss–Legendre"),
    (captum_no_baseline, "baselines was not passed"),
    (captum_default_steps, "default of 50 steps"),
    (captum_keeps_channel, "drop the channel axis"),
])
def test_ig_captum_rejects(fn, fragment):
    assert_rejected(checks.ig_captum, fn, fragment)


# ---- occlusion -------------------------------------------------------------------------------
def _occlusion_loop(model, x, target, patch, stride, fill, score="prob", reduce="mean", sign=1):
    n, _, h, w = x.shape
    f = (lambda z: z.softmax(1)[:, target]) if score == "prob" else (lambda z: z[:, target])
    with torch.no_grad():
        base = f(model(x))
        total, count = torch.zeros(n, h, w), torch.zeros(h, w)
        for i in range(0, h - patch + 1, stride):
            for j in range(0, w - patch + 1, stride):
                occluded = x.clone()
                occluded[:, :, i:i + patch, j:j + patch] = fill
                drop = sign * (base - f(model(occluded)))
                if reduce == "last":
                    total[:, i:i + patch, j:j + patch] = drop[:, None, None]
                else:
                    total[:, i:i + patch, j:j + patch] += drop[:, None, None]
                count[i:i + patch, j:j + patch] += 1
    return total / count if reduce == "mean" else total


def occlusion_loop(model, x, target, patch=8, stride=4, fill=0.0):
    return _occlusion_loop(model, x, target, patch, stride, fill)


def occlusion_captum(model, x, target, patch=8, stride=4, fill=0.0):
    occ = Occlusion(lambda inp: model(inp).softmax(1))
    attr = occ.attribute(x, sliding_window_shapes=(1, patch, patch), strides=(1, stride, stride),
                         baselines=fill, target=target)
    return attr[:, 0]


def occlusion_logit(model, x, target, patch=8, stride=4, fill=0.0):
    return _occlusion_loop(model, x, target, patch, stride, fill, score="logit")


def occlusion_sum(model, x, target, patch=8, stride=4, fill=0.0):
    return _occlusion_loop(model, x, target, patch, stride, fill, reduce="sum")


def occlusion_flipped(model, x, target, patch=8, stride=4, fill=0.0):
    return _occlusion_loop(model, x, target, patch, stride, fill, sign=-1)


def occlusion_last_wins(model, x, target, patch=8, stride=4, fill=0.0):
    return _occlusion_loop(model, x, target, patch, stride, fill, reduce="last")


def occlusion_gray_fill(model, x, target, patch=8, stride=4, fill=0.0):
    return _occlusion_loop(model, x, target, patch, stride, 0.0)


@pytest.mark.parametrize("fn", [occlusion_loop, occlusion_captum])
def test_occlusion_accepts(fn):
    assert_accepted(checks.occlusion, fn)


@pytest.mark.parametrize("fn, fragment", [
    (occlusion_logit, "drop of the logit"),
    (occlusion_sum, "summed the drops"),
    (occlusion_flipped, "sign is flipped"),
    (occlusion_last_wins, "last patch wins"),
    (occlusion_gray_fill, "fill value is ignored"),
])
def test_occlusion_rejects(fn, fragment):
    assert_rejected(checks.occlusion, fn, fragment)


# ---- Grad-CAM --------------------------------------------------------------------------------
def _cam_parts(model, x, target, layer, score=lambda z, t: z[:, t]):
    store = {}
    handle = layer.register_forward_hook(lambda mod, inp, out: store.update(a=out))
    try:
        z = model(x)
    finally:
        handle.remove()
    (g,) = torch.autograd.grad(score(z, target).sum(), store["a"])
    return store["a"].detach(), g


def _up(cam, x, mode="bilinear"):
    kw = {"align_corners": False} if mode == "bilinear" else {}
    return F.interpolate(cam[:, None], size=x.shape[-2:], mode=mode, **kw)[:, 0]


def gradcam_hooks(model, x, target, layer):
    a, g = _cam_parts(model, x, target, layer)
    return _up(F.relu((g.mean((2, 3), keepdim=True) * a).sum(1)), x)


def gradcam_captum(model, x, target, layer):
    cam = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)
    return LayerAttribution.interpolate(cam, x.shape[-2:], interpolate_mode="bilinear")[:, 0].detach()


def gradcam_no_relu(model, x, target, layer):
    a, g = _cam_parts(model, x, target, layer)
    return _up((g.mean((2, 3), keepdim=True) * a).sum(1), x)


def gradcam_elementwise(model, x, target, layer):
    a, g = _cam_parts(model, x, target, layer)
    return _up(F.relu((g * a).sum(1)), x)


def gradcam_probability(model, x, target, layer):
    a, g = _cam_parts(model, x, target, layer, lambda z, t: z.softmax(1)[:, t])
    return _up(F.relu((g.mean((2, 3), keepdim=True) * a).sum(1)), x)


def gradcam_low_resolution(model, x, target, layer):
    a, g = _cam_parts(model, x, target, layer)
    return F.relu((g.mean((2, 3), keepdim=True) * a).sum(1))


def gradcam_normalized(model, x, target, layer):
    m = gradcam_hooks(model, x, target, layer)
    return m / m.flatten(1).max(1).values.clamp_min(1e-12)[:, None, None]


def gradcam_nearest(model, x, target, layer):
    a, g = _cam_parts(model, x, target, layer)
    return _up(F.relu((g.mean((2, 3), keepdim=True) * a).sum(1)), x, mode="nearest")


@pytest.mark.parametrize("fn", [gradcam_hooks, gradcam_captum])
def test_gradcam_accepts(fn):
    assert_accepted(checks.gradcam, fn)
    assert_accepted(checks.gradcam, fn, hidden=True)


@pytest.mark.parametrize("fn, fragment", [
    (gradcam_no_relu, "no ReLU"),
    (gradcam_elementwise, "position by position"),
    (gradcam_probability, "softmax probability"),
    (gradcam_low_resolution, "upsample it to the image size"),
    (gradcam_normalized, "normalized to [0, 1]"),
    (gradcam_nearest, "nearest-neighbour"),
])
def test_gradcam_rejects(fn, fragment):
    assert_rejected(checks.gradcam, fn, fragment)
