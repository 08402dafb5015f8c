"""Mutation tests of the exercise 02 checks: right implementations pass, plausible wrong ones
fail with the feedback that names their mistake."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion

from checkhelp import harness
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


def gradient_torch_func(model, x, target):
    g = torch.func.vmap(torch.func.grad(lambda xi: model(xi[None])[0, target]))(x)
    return g.abs().sum(1)


def gradient_train_mode(model, x, target):
    model.train()
    return _grad(model, x, target).abs()[:, 0]


def gradient_signed_probability(model, x, target):
    return _grad(model, x, target, _prob)[:, 0]


def gradient_zeros(model, x, target):
    return torch.zeros(x.shape[0], *x.shape[-2:])


def gradient_labkit(model, x, target):
    from labkit.explain import explain

    return explain(model, x, target, "gradient").maps


def gradient_checker_internals(model, x, target):
    from labkit.checks.gradients import grad

    return grad(model, x, target).abs().sum(1)


def gradient_captum(model, x, target):
    from captum.attr import Saliency

    return Saliency(model).attribute(x, target=target)[:, 0]


test_gradient = harness(checks.gradient, accept=[gradient_backward, gradient_autograd_loop, gradient_torch_func],
    reject=[
    (gradient_signed, "signed gradient"),
    (gradient_of_probability, "softmax probability"),
    (gradient_class_one, "instead of class 0"),
    (gradient_normalized, "normalized per map"),
    (gradient_keeps_channel, "drop the channel axis"),
    (gradient_stub, "NotImplementedError"),
    (gradient_train_mode, 'training mode'),
    (gradient_signed_probability, 'two mistakes: you returned the signed gradient'),
    (gradient_zeros, 'zero everywhere'),
], game=[
    (gradient_labkit, 'your function called labkit.explain'),
    (gradient_checker_internals, 'your function called labkit.checks.gradients.grad'),
    (gradient_captum, 'your function called captum'),
])


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


def gxi_loop(model, x, target):
    return torch.stack([gxi(model, img[None], target)[0] for img in x])


def gxi_torch_func(model, x, target):
    g = torch.func.vmap(torch.func.grad(lambda xi: model(xi[None])[0, target]))(x)
    return (x * g).sum(1)


def gxi_probability(model, x, target):
    return (x * _grad(model, x, target, _prob))[:, 0]


def gxi_train_mode(model, x, target):
    model.train()
    return gxi(model, x, target)


def gxi_abs_of_probability(model, x, target):
    return (x * _grad(model, x, target, _prob)).abs()[:, 0]


def gxi_labkit(model, x, target):
    from labkit.explain import explain

    return explain(model, x, target, "grad_x_input").signed


test_grad_x_input = harness(checks.grad_x_input, accept=[gxi, gxi_via_einsum, gxi_loop, gxi_torch_func],
    reject=[
    (gxi_abs, "absolute value"),
    (gxi_rescaled_input, "rescaled the input to [0, 1]"),
    (gxi_gradient_only, "gradient alone"),
    (gxi_times_abs_gradient, "multiplied x by |∂f_c/∂x|"),
    (gxi_probability, 'softmax probability'),
    (gxi_train_mode, 'training mode'),
    (gxi_abs_of_probability, 'two mistakes: you returned the absolute value'),
], game=[
    (gxi_labkit, 'your function called labkit.explain'),
])


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


def smoothgrad_torch_func(model, x, target, sigma, noise):
    noisy = (x[None] + sigma * noise).clamp(-1, 1).flatten(0, 1)
    g = torch.func.vmap(torch.func.grad(lambda xi: model(xi[None])[0, target]))(noisy)
    return g.abs().view(noise.shape).mean(0).sum(1)


def smoothgrad_unscaled(model, x, target, sigma, noise):
    return torch.stack([_grad(model, (x + n).clamp(-1, 1), target).abs() for n in noise]).mean(0)[:, 0]


def smoothgrad_with_clean(model, x, target, sigma, noise):
    copies = [x] + [(x + sigma * n).clamp(-1, 1) for n in noise]
    return torch.stack([_grad(model, c, target).abs() for c in copies]).mean(0)[:, 0]


def smoothgrad_probability(model, x, target, sigma, noise):
    return torch.stack([_grad(model, (x + sigma * n).clamp(-1, 1), target, _prob).abs() for n in noise]).mean(0)[:, 0]


def smoothgrad_unclamped_abs_of_mean(model, x, target, sigma, noise):
    return torch.stack([_grad(model, x + sigma * n, target) for n in noise]).mean(0).abs()[:, 0]


def smoothgrad_checker_reference(model, x, target, sigma, noise):
    from labkit.checks.gradients import smoothgrad_reference

    return smoothgrad_reference(model, x, target, sigma, noise)


test_smoothgrad = harness(checks.smoothgrad, accept=[smoothgrad_loop, smoothgrad_batched, smoothgrad_torch_func],
    reject=[
    (smoothgrad_unclamped, "not clamped"),
    (smoothgrad_abs_of_mean, "averaged the signed gradients"),
    (smoothgrad_variance, "σ² instead of σ"),
    (smoothgrad_sum, "summed over the 6 samples"),
    (smoothgrad_unscaled, 'not scaled by σ'),
    (smoothgrad_with_clean, 'included the clean image'),
    (smoothgrad_probability, 'softmax probability'),
    (smoothgrad_unclamped_abs_of_mean, 'two mistakes'),
], game=[
    (smoothgrad_checker_reference, 'your function called labkit.checks.gradients.smoothgrad_reference'),
])


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


def test_integrated_gradients_reports_completeness():
    assert any("completeness" in m for m in checks.integrated_gradients(ig_loop).feedback)


def ig_torch_func(model, x, target, baseline, steps=32):
    alphas = (torch.arange(steps, dtype=x.dtype) + 0.5) / steps
    path = (baseline[None] + alphas.view(-1, 1, 1, 1, 1) * (x - baseline)[None]).flatten(0, 1)
    g = torch.func.vmap(torch.func.grad(lambda xi: model(xi[None])[0, target]))(path)
    return ((x - baseline) * g.view(steps, *x.shape).mean(0)).sum(1)


def _ig(model, x, target, baseline, alphas, weights):
    g = torch.stack([w * _grad(model, baseline + a * (x - baseline), target) for a, w in zip(alphas, weights)])
    return ((x - baseline) * g.sum(0))[:, 0]


def ig_one_step(model, x, target, baseline, steps=32):
    return _ig(model, x, target, baseline, [0.5], [1.0])


def ig_baseline_is_x(model, x, target, baseline, steps=32):
    return ig_loop(model, x, target, x, steps)


def ig_trapezoid(model, x, target, baseline, steps=32):
    alphas = torch.linspace(0, 1, steps + 1)
    weights = torch.full((steps + 1,), 1.0 / steps)
    weights[[0, -1]] /= 2
    return _ig(model, x, target, baseline, alphas, weights)


def ig_no_delta_summed(model, x, target, baseline, steps=32):
    alphas = (torch.arange(steps) + 0.5) / steps
    return torch.stack([_grad(model, baseline + a * (x - baseline), target) for a in alphas]).sum(0)[:, 0]


def ig_labkit(model, x, target, baseline, steps=32):
    from labkit.explain import explain

    return explain(model, x, target, "integrated_gradients", baseline=baseline, steps=steps).signed


test_integrated_gradients = harness(checks.integrated_gradients, accept=[ig_loop, ig_batched_reversed_path, ig_torch_func],
    reject=[
    (ig_no_delta, "(x − baseline) factor is missing"),
    (ig_times_x, "multiplied by x instead of (x − baseline)"),
    (ig_ignores_baseline, "baseline argument is ignored"),
    (ig_linspace, "torch.linspace(0, 1, steps)"),
    (ig_gradient_at_input, "taken at the input x"),
    (ig_one_step, 'single step'),
    (ig_baseline_is_x, 'baseline equals the input x'),
    (ig_trapezoid, 'trapezoid rule'),
    (ig_no_delta_summed, 'two mistakes'),
], game=[
    (ig_labkit, 'your function called labkit.explain'),
])


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


def captum_ig_per_image(model, x, target, baseline, steps):
    ig = IntegratedGradients(model)
    return torch.cat([ig.attribute(x[i:i + 1], baselines=baseline[i:i + 1], target=target, n_steps=steps,
                                   method="riemann_middle") for i in range(len(x))]).sum(1)


def captum_no_baseline_default_rule(model, x, target, baseline, steps):
    return IntegratedGradients(model).attribute(x, target=target, n_steps=steps)[:, 0]


def captum_abs(model, x, target, baseline, steps):
    return captum_ig(model, x, target, baseline, steps).abs()


def captum_checker_reference(model, x, target, baseline, steps):
    from labkit.checks.ig import ig_reference

    return ig_reference(model, x, target, baseline, steps)


test_ig_captum = harness(checks.ig_captum, accept=[captum_ig, captum_ig_squeezed, captum_ig_per_image],
    reject=[
    (captum_default_rule, "Gauss–Legendre"),
    (captum_no_baseline, "baselines was not passed"),
    (captum_default_steps, "default of 50 steps"),
    (captum_keeps_channel, "drop the channel axis"),
    (captum_no_baseline_default_rule, 'Gauss–Legendre'),
    (captum_abs, '|IG|'),
], game=[
    (captum_checker_reference, 'your function called labkit.checks.ig.ig_reference'),
])


# ---- occlusion -------------------------------------------------------------------------------
def _occlusion_loop(model, x, target, patch, stride, fill, score="prob", reduce="mean", sign=1, end=1):
    n, _, h, w = x.shape
    f = (lambda z: z.softmax(1)[:, target]) if score == "prob" else (lambda z: z[:, target])
    with torch.no_grad():
        base = f(model(x))
        total, count = torch.zeros(n, h, w), torch.zeros(h, w)
        for i in range(0, h - patch + end, stride):
            for j in range(0, w - patch + end, stride):
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


def occlusion_batched(model, x, target, patch=8, stride=4, fill=0.0):
    n, _, h, w = x.shape
    starts = [(i, j) for i in range(0, h - patch + 1, stride) for j in range(0, w - patch + 1, stride)]
    masks = torch.zeros(len(starts), 1, h, w, dtype=torch.bool)
    for k, (i, j) in enumerate(starts):
        masks[k, :, i:i + patch, j:j + patch] = True
    occluded = torch.where(masks[:, None], torch.full_like(x, fill)[None], x[None]).flatten(0, 1)
    with torch.no_grad():
        drops = model(x).softmax(1)[:, target][None] - model(occluded).softmax(1)[:, target].view(len(starts), n)
    total = (drops[:, :, None, None] * masks[:, 0, None].float()).sum(0)
    return total / masks[:, 0].float().sum(0).clamp_min(1)


def occlusion_per_image(model, x, target, patch=8, stride=4, fill=0.0):
    return torch.cat([_occlusion_loop(model, img[None], target, patch, stride, fill) for img in x])


def occlusion_stride_ignored(model, x, target, patch=8, stride=4, fill=0.0):
    return _occlusion_loop(model, x, target, patch, patch, fill)


def occlusion_off_by_one(model, x, target, patch=8, stride=4, fill=0.0):
    return _occlusion_loop(model, x, target, patch, stride, fill, end=0)


def occlusion_white(model, x, target, patch=8, stride=4, fill=0.0):
    return _occlusion_loop(model, x, target, patch, stride, 1.0)


def occlusion_logit_summed(model, x, target, patch=8, stride=4, fill=0.0):
    return _occlusion_loop(model, x, target, patch, stride, fill, score="logit", reduce="sum")


def occlusion_labkit(model, x, target, patch=8, stride=4, fill=0.0):
    from labkit.explain import explain

    return explain(model, x, target, "occlusion", patch=patch, stride=stride, fill=fill).maps


test_occlusion = harness(checks.occlusion, accept=[occlusion_loop, occlusion_batched, occlusion_per_image],
    reject=[
    (occlusion_logit, "drop of the logit"),
    (occlusion_sum, "summed the drops"),
    (occlusion_flipped, "sign is flipped"),
    (occlusion_last_wins, "last patch wins"),
    (occlusion_gray_fill, "fill value is ignored"),
    (occlusion_stride_ignored, 'stride is ignored'),
    (occlusion_off_by_one, 'off by one'),
    (occlusion_white, 'white (1.0)'),
    (occlusion_logit_summed, 'two mistakes'),
], game=[
    (occlusion_captum, 'your function called captum'),
    (occlusion_labkit, 'your function called labkit.explain'),
])


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


def gradcam_per_image(model, x, target, layer):
    return torch.cat([gradcam_hooks(model, img[None], target, layer) for img in x])


def gradcam_max_pooled(model, x, target, layer):
    a, g = _cam_parts(model, x, target, layer)
    return _up(F.relu((g.amax((2, 3), keepdim=True) * a).sum(1)), x)


def gradcam_no_weights(model, x, target, layer):
    a, _ = _cam_parts(model, x, target, layer)
    return _up(F.relu(a.sum(1)), x)


def gradcam_relu_on_gradients(model, x, target, layer):
    a, g = _cam_parts(model, x, target, layer)
    return _up(F.relu((F.relu(g).mean((2, 3), keepdim=True) * a).sum(1)), x)


def gradcam_no_relu_summed(model, x, target, layer):
    a, g = _cam_parts(model, x, target, layer)
    return _up((g.sum((2, 3), keepdim=True) * a).sum(1), x)


def gradcam_labkit(model, x, target, layer):
    from labkit.explain import explain

    return explain(model, x, target, "gradcam").maps


test_gradcam = harness(checks.gradcam, accept=[gradcam_hooks, gradcam_per_image], reject=[
    (gradcam_no_relu, "no ReLU"),
    (gradcam_elementwise, "position by position"),
    (gradcam_probability, "softmax probability"),
    (gradcam_low_resolution, "upsample it to the image size"),
    (gradcam_normalized, "normalized to [0, 1]"),
    (gradcam_nearest, "nearest-neighbour"),
    (gradcam_max_pooled, 'spatial maximum'),
    (gradcam_no_weights, 'gradient weights are missing'),
    (gradcam_relu_on_gradients, 'ReLU to the gradients'),
    (gradcam_no_relu_summed, 'two mistakes'),
], game=[
    (gradcam_captum, 'your function called captum'),
    (gradcam_labkit, 'your function called labkit.explain'),
])
