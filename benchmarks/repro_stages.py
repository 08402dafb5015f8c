"""The measurements behind each row of the reproduction table, for one trained seed.

Every function takes trained models and a seed and returns plain floats (means
over the images of that seed), so ``reproduce_findings.py`` can aggregate them
over seeds. Explanations target the class each model predicts.
"""
from __future__ import annotations

import torch
from captum.attr import IntegratedGradients as CaptumIG
from torch import nn

from labkit.data import CornerSquare, LabData, Split
from labkit.evaluate import deletion_curve, region_fraction, stability
from labkit.explain import explain
from labkit.models import TutorialCNN, parameterized_layers
from labkit.sanity import pearson, randomize_layers, randomize_model, spearman, train_random_labels
from labkit.train import clinical_metrics, predict

#: the five methods of the reference's marker and deletion tables, in its order
FIVE = ("occlusion", "integrated_gradients", "smoothgrad", "gradient", "gradcam")
CASCADE = ("gradient", "gradcam", "guided_backprop", "guided_gradcam")
#: a method passes the cascade when its mean Spearman |map| similarity falls below this
PASS_BELOW = 0.5


def targets(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return predict(model, x).argmax(1)


def maps(model: nn.Module, x: torch.Tensor, t: torch.Tensor, method: str, **params: object) -> torch.Tensor:
    return explain(model, x, t, method=method, **params).maps


def clinical(model: nn.Module, test: Split) -> dict[str, float]:
    """Test metrics at p(pneumonia) ≥ 0.5, and p(pneumonia) of an all-gray image."""
    probs = predict(model, test.images).softmax(1)[:, 1].cpu()
    m = clinical_metrics(test.labels.cpu(), probs)
    gray = predict(model, torch.zeros_like(test.images[:1])).softmax(1)[0, 1]
    return {"accuracy": m.accuracy, "sensitivity": m.sensitivity, "specificity": m.specificity,
            "balanced_accuracy": m.balanced_accuracy, "auroc": m.auroc, "gray_p": float(gray)}


def ig_vs_captum(model: nn.Module, x: torch.Tensor, steps: int = 50) -> float:
    """Mean Pearson between labkit's signed IG and captum's (gray baseline, ``steps`` points)."""
    t = targets(model, x)
    ours = explain(model, x, t, method="integrated_gradients", steps=steps, baseline="gray").signed
    theirs = CaptumIG(model.eval()).attribute(x, baselines=torch.zeros_like(x), target=t, n_steps=steps,
                                              internal_batch_size=512).sum(1)
    return float(pearson(ours, theirs.detach()).nanmean())


def _last(steps: object) -> nn.Module:
    *_, (_, net) = steps
    return net


def randomization(model: nn.Module, x: torch.Tensor, seed: int) -> dict[str, float]:
    """Pearson of gradient maps, trained vs randomized: whole model, head (linear layers), features (convs)."""
    t = targets(model, x)
    ref = maps(model, x, t, "gradient")
    layers = [name for name, m in parameterized_layers(model, x[:1])]
    head = [n for n, m in parameterized_layers(model, x[:1]) if isinstance(m, nn.Linear)]
    feats = [n for n in layers if n not in head]
    nets = {"full": randomize_model(model, seed=seed),
            "head": _last(randomize_layers(model, "cascade", seed, layers=head, example=x[:1])),
            "features": _last(randomize_layers(model, "cascade", seed, layers=feats, example=x[:1]))}
    return {k: float(pearson(ref, maps(net.eval(), x, t, "gradient")).nanmean()) for k, net in nets.items()}


def label_randomization(model: nn.Module, train: Split, x: torch.Tensor, seed: int,
                        subset: int) -> dict[str, float]:
    """Memorize ``subset`` permuted labels; Pearson/Spearman of gradient maps vs the trained model."""
    net, history = train_random_labels(TutorialCNN().to(x.device), train.images, train.labels, seed=seed,
                                       subset=subset, max_epochs=150, lr=1e-3, batch_size=64)
    t = targets(model, x)
    a, b = maps(model, x, t, "gradient"), maps(net, x, t, "gradient")
    return {"train_acc": float(history[-1]["acc"]), "epochs": float(history[-1]["epoch"]),
            "pearson": float(pearson(a, b).nanmean()), "spearman": float(spearman(a, b).nanmean())}


def cascade(model: nn.Module, x: torch.Tensor, seed: int) -> dict[str, float]:
    """Mean Spearman |map| with the head random and with every layer random; 1.0 = passes, 0.0 = fails.

    Walks :func:`labkit.sanity.randomize_layers` itself rather than calling ``run_cascade``,
    which also computes SSIM at every step (61 of 86 s of a profiled call here).
    """
    t = targets(model, x)
    ref = {k: maps(model, x, t, k) for k in CASCADE}
    sims: list[dict[str, float]] = []
    linear: list[bool] = []
    for layer, net in randomize_layers(model, "cascade", seed, example=x[:1]):
        net.eval()
        sims.append({k: float(spearman(ref[k], maps(net, x, t, k)).nanmean()) for k in CASCADE})
        linear.append(isinstance(model.get_submodule(layer), nn.Linear))
    head = max(i for i, is_linear in enumerate(linear) if is_linear)
    out = {}
    for k in CASCADE:
        out[f"{k}.head"], out[f"{k}.all"] = sims[head][k], sims[-1][k]
        out[f"{k}.passes"] = float(sims[head][k] < PASS_BELOW and sims[-1][k] < PASS_BELOW)
    return out


def five_maps(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Maps of the reference's five methods (explaining the predicted class), computed once per model."""
    t = targets(model, x)
    return {m: maps(model, x, t, m) for m in FIVE}


def shortcut(model: nn.Module, data: LabData, marker: CornerSquare, sel: Split,
             sel_maps: dict[str, torch.Tensor], n_images: int) -> dict[str, float]:
    """Marked/clean accuracy, marker removal (typical, first ``n_images``, largest), marker
    fractions of ``sel_maps`` on the marked images ``sel``."""
    marked, clean = data.with_marker(marker)["test"], data["test"]
    p_marked = predict(model, marked.images).softmax(1)[:, 1].cpu()
    p_clean = predict(model, clean.images).softmax(1)[:, 1].cpu()
    labels = clean.labels.cpu()
    out = {"acc_marked": float(((p_marked >= 0.5).long() == labels).float().mean()),
           "acc_clean": float(((p_clean >= 0.5).long() == labels).float().mean())}
    hits = ((labels == 1) & (p_marked >= 0.5)).nonzero().flatten()
    first, many = int(hits[0]), hits[:n_images]
    drop = p_marked - p_clean
    largest = int(drop.argmax())
    out.update(typical_marked=float(p_marked[first]), typical_clean=float(p_clean[first]),
               many_marked=float(p_marked[many].mean()), many_clean=float(p_clean[many].mean()),
               n_many=float(len(many)), largest_marked=float(p_marked[largest]),
               largest_clean=float(p_clean[largest]))
    mask = marker.mask(sel.labels, sel.size)
    for method in FIVE:
        out[f"fraction.{method}"] = float(region_fraction(sel_maps[method], mask).mean())
    return out


def deletion(model: nn.Module, x: torch.Tensor, x_maps: dict[str, torch.Tensor], seed: int,
             steps: int = 16) -> dict[str, float]:
    """Deletion AUC (gray fill 0.0) of ``x_maps`` and of a uniform random map, on the images
    predicted pneumonia (the reference's example is one); ``normal.*`` on the others."""
    t = targets(model, x)
    gen = torch.Generator().manual_seed(seed)
    rows = {"random": torch.rand(x.shape[0], *x.shape[-2:], generator=gen).to(x.device), **x_maps}
    out = {"n_pneumonia": float((t == 1).sum())}
    for k, s in rows.items():
        auc = deletion_curve(model, x, t, s, steps=steps, fill=0.0).auc
        out[k], out[f"normal.{k}"] = float(auc[t.cpu() == 1].mean()), float(auc[t.cpu() == 0].mean())
    return out


def stabilities(model: nn.Module, x: torch.Tensor, seed: int, copies: int,
                ig_steps_check: bool = False) -> dict[str, float]:
    """Pearson(map(x), map(x + N(0, 0.03²))) for Gradient and IG (32 steps), copies that keep the
    prediction; with ``ig_steps_check`` also IG at 50 steps."""
    t = targets(model, x)
    out = {}
    runs = [("gradient", "gradient", {}), ("integrated_gradients", "integrated_gradients", {})]
    if ig_steps_check:
        runs.append(("integrated_gradients.50", "integrated_gradients", {"steps": 50}))
    for key, method, params in runs:
        res = stability(model, x, t, method, sigma=0.03, n=copies, seed=seed, **params)
        out[key] = float(res.correlation.nanmean())
        out[f"{key}.kept"] = float(res.same_rate.mean())
    return out


def split_for(data: LabData, n: int, seed: int, marker: CornerSquare | None = None) -> Split:
    """``n`` stratified test images of this seed (marked when ``marker`` is given)."""
    test = data.with_marker(marker)["test"] if marker is not None else data["test"]
    return test.subset(n, seed=seed)
