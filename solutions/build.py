"""Write the instructor notebooks of this folder (and the lecture walkthrough
``notebooks/when_explanations_lie.ipynb``) from the cell lists below.

The committed ``*.ipynb`` files are what instructors and nbgrader use; this script
is the convenient way to edit them (plain Python instead of notebook JSON). After
editing a list here::

    python solutions/build.py          # rewrites solutions/*.ipynb and the lecture notebook
    labkit assign                      # regenerates exercises/ (the student versions)

Cell helpers: ``md`` (text), ``code`` (runs, not graded), ``answer`` (a solution
cell: the part between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes a
stub for students), ``tests`` (a locked, graded test cell; ``### BEGIN HIDDEN
TESTS`` … ``### END HIDDEN TESTS`` is removed for students) and ``written`` (a
free-text answer graded by hand).
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
LECTURE_PATH = HERE.parent / "notebooks" / "when_explanations_lie.ipynb"


def _src(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def md(text: str) -> dict:
    return {"type": "markdown", "source": _src(text)}


def code(*parts: str) -> dict:
    return {"type": "code", "source": "\n".join(_src(p) for p in parts)}


def answer(grade_id: str, text: str) -> dict:
    return {"type": "code", "source": _src(text), "nbgrader": dict(grade=False, solution=True, locked=False,
                                                                    grade_id=grade_id)}


def tests(grade_id: str, points: float, text: str) -> dict:
    return {"type": "code", "source": _src(text), "nbgrader": dict(grade=True, solution=False, locked=True,
                                                                    grade_id=grade_id, points=points)}


def written(grade_id: str, points: float, text: str) -> dict:
    return {"type": "markdown", "source": _src(text), "nbgrader": dict(grade=True, solution=True, locked=False,
                                                                        grade_id=grade_id, points=points)}


def check_cell(grade_id: str, points: float, call: str, hidden: str | None = None) -> dict:
    """The standard test cell: optional hidden tests, then the visible check whose points nbgrader reads."""
    lines = [f"# Test cell ({points:g} point{'s' if points != 1 else ''}): shows feedback and your points. "
             "Do not edit."]
    if hidden:
        lines += ["### BEGIN HIDDEN TESTS", hidden, "### END HIDDEN TESTS"]
    lines.append(f"{call}.grade()")
    return tests(grade_id, points, "\n".join(lines))


HOW_TO = """
**How this notebook works.** Complete every cell that says `# YOUR CODE HERE` (delete the
`raise NotImplementedError()` line). The *test cell* under it checks your work on small
seeded models, shows feedback that names the likely mistake, and prints your points.
Run cells from the top; the checks take a few seconds each. Pixels are in [-1, 1]
(−1 black, 0 mid-gray, 1 white); images are batches `x` of shape `(N, 1, H, W)`;
class 0 is *normal*, class 1 is *pneumonia*. When a GPU is present the data and models live on
it: create new tensors on the images' device (`torch.zeros(..., device=x.device)`).
"""

SETUP = """
import torch
import matplotlib.pyplot as plt

from labkit import checks
from labkit.checks.lab import lab_data, lab_model, show_maps

torch.manual_seed(0)
data = lab_data()                     # PneumoniaMNIST, pixels in [-1, 1]
"""


# =====================================================================================
# 01 — data and clinical metrics
# =====================================================================================
NB01 = [
    md("""
    # 01 · Data and clinical metrics

    A saliency map explains a model; it is only worth looking at if the model is worth
    something. This notebook looks at PneumoniaMNIST (pediatric chest X-rays, normal vs
    pneumonia) and at the numbers a clinician needs: sensitivity, specificity, balanced
    accuracy, the confusion matrix. Accuracy alone hides a lot on an imbalanced test set.
    """),
    md(HOW_TO),
    code(SETUP, """
    for name, split in data.splits.items():
        normal, pneumonia = split.class_counts()
        print(f"{name:>5}: {len(split):4d} images, {normal:4d} normal, {pneumonia:4d} pneumonia")
    """),
    code("""
    test = data["test"]
    fig, axes = plt.subplots(2, 6, figsize=(9, 3.2))
    for row, label in enumerate((0, 1)):
        idx = (test.labels == label).nonzero().flatten()[:6]
        for ax, i in zip(axes[row], idx.tolist()):
            ax.imshow(test.images[i, 0].cpu(), cmap="gray", vmin=-1, vmax=1)
            ax.set_title(data.class_names[label], fontsize=8)
            ax.axis("off")
    plt.tight_layout()
    plt.show()
    """),
    md("""
    ## 1.1 The confusion matrix

    Write `confusion(labels, preds)` for numpy arrays of 0/1 labels and predictions. Return
    the 2 × 2 matrix of **counts** with rows = true class and columns = predicted class,
    class 0 (normal) first:

    |              | predicted normal | predicted pneumonia |
    |--------------|------------------|---------------------|
    | **normal**   | TN               | FP                  |
    | **pneumonia**| FN               | TP                  |

    Both classes must appear even when one is never predicted.
    """),
    answer("confusion", """
    import numpy as np


    def confusion(labels, preds):
        \"\"\"[[TN, FP], [FN, TP]] for 0/1 numpy arrays (pneumonia = 1 is the positive class).\"\"\"
        ### BEGIN SOLUTION
        labels, preds = np.asarray(labels), np.asarray(preds)
        tn = int(np.sum((labels == 0) & (preds == 0)))
        fp = int(np.sum((labels == 0) & (preds == 1)))
        fn = int(np.sum((labels == 1) & (preds == 0)))
        tp = int(np.sum((labels == 1) & (preds == 1)))
        return np.array([[tn, fp], [fn, tp]])
        ### END SOLUTION
    """),
    check_cell("test_confusion", 1, "checks.confusion(confusion)",
               "checks.confusion(confusion, hidden=True).require()"),
    md("""
    ## 1.2 Sensitivity, specificity, balanced accuracy

    Write `clinical_metrics_by_hand(labels, scores, threshold=0.5)`. `scores` are
    p(pneumonia); predict pneumonia when `score >= threshold`. Return a dict with

    * `"sensitivity"` = TP / (TP + FN): the share of pneumonia cases the model finds;
    * `"specificity"` = TN / (TN + FP): the share of normal images it calls normal;
    * `"balanced_accuracy"` = (sensitivity + specificity) / 2.

    You may use your `confusion` from above.
    """),
    answer("clinical_metrics_by_hand", """
    def clinical_metrics_by_hand(labels, scores, threshold=0.5):
        \"\"\"Sensitivity, specificity and balanced accuracy at a threshold on p(pneumonia).\"\"\"
        ### BEGIN SOLUTION
        preds = (np.asarray(scores) >= threshold).astype(int)
        (tn, fp), (fn, tp) = confusion(labels, preds)
        sensitivity = tp / (tp + fn)
        specificity = tn / (tn + fp)
        return {"sensitivity": sensitivity, "specificity": specificity,
                "balanced_accuracy": (sensitivity + specificity) / 2}
        ### END SOLUTION
    """),
    check_cell("test_clinical_metrics", 3, "checks.clinical_metrics_by_hand(clinical_metrics_by_hand)",
               "checks.clinical_metrics_by_hand(clinical_metrics_by_hand, hidden=True).require()"),
    md("""
    ## 1.3 Your metrics against labkit's, on a trained model

    `lab_model` gives a small CNN trained on the training split (trained once, then loaded
    from a cache). Its operating threshold was chosen on the validation split. Compare your
    numbers with `labkit.train.clinical_metrics` on the test split: they must agree.
    """),
    code("""
    from labkit.train import clinical_metrics, evaluate

    baseline = lab_model(data, "baseline")
    pred = evaluate(baseline.model, data["test"])
    labels, scores = pred.labels.numpy(), pred.scores
    mine = clinical_metrics_by_hand(labels, scores, baseline.threshold)
    ref = clinical_metrics(labels, scores, baseline.threshold)
    print(f"threshold {baseline.threshold:.3f}")
    for key, value in mine.items():
        print(f"{key:>18}: yours {value:.3f}   labkit {getattr(ref, key):.3f}")
    print("confusion (yours):", confusion(labels, (scores >= baseline.threshold).astype(int)).tolist())
    print(f"accuracy {ref.accuracy:.3f}, AUROC {ref.auroc:.3f}")
    """),
    md("""
    ## 1.4 A useless model with a good-looking accuracy

    A "model" that answers *pneumonia* for every image needs no training. What is its
    accuracy on the test split? Compute it from `data["test"].labels` (three decimals are
    compared) and store it in `always_pneumonia_accuracy`.
    """),
    answer("always_pneumonia", """
    always_pneumonia_accuracy = None
    ### BEGIN SOLUTION
    always_pneumonia_accuracy = float((data["test"].labels == 1).float().mean())
    ### END SOLUTION
    print(always_pneumonia_accuracy)
    """),
    check_cell("test_always_pneumonia", 1,
               'checks.question("01_q_always_pneumonia", always_pneumonia_accuracy)'),
    md("""
    Which single number exposes that model as useless? Answer with one letter in
    `which_metric`:

    * **a** its accuracy
    * **b** its sensitivity
    * **c** its balanced accuracy
    * **d** the number of pneumonia predictions it makes
    """),
    answer("which_metric", """
    which_metric = None  # "a", "b", "c" or "d"
    ### BEGIN SOLUTION
    which_metric = "c"
    ### END SOLUTION
    """),
    check_cell("test_which_metric", 1, 'checks.question("01_q_which_metric", which_metric)'),
    md("""
    ## Explore

    The training panel trains a model on the shared experiment state and shows its
    clinical metrics when it finishes (on a laptop CPU a full run takes a few minutes;
    the notebooks above use the cached model instead).
    """),
    code("""
    from labkit.panels import TrainingController
    from labkit.state import ExperimentState

    state = ExperimentState(data=data)
    state.add_model(baseline)
    TrainingController(state)
    """),
]


# =====================================================================================
# 02 — saliency from scratch
# =====================================================================================
NB02 = [
    md("""
    # 02 · Saliency maps from scratch

    You will write the classic saliency methods yourself — Gradient, Gradient × Input,
    SmoothGrad, Integrated Gradients, occlusion and Grad-CAM — check each against labkit's
    reference implementation, compare your Integrated Gradients with captum's, and then
    look at what they say about a trained chest X-ray classifier.

    Every function has the signature `fn(model, x, target, ...)`: `x` is a batch
    `(N, 1, H, W)`, `target` the class to explain (an int), and the class score is the
    **logit** `model(x)[:, target]` (no softmax) unless stated otherwise. Return one map
    per image, shape `(N, H, W)`. The model is in eval mode; do not change its weights.
    """),
    md(HOW_TO),
    code(SETUP, """
    baseline = lab_model(data, "baseline")
    model = baseline.model
    test = data["test"]
    normal = (test.labels == 0).nonzero().flatten()[:1]
    pneumonia = (test.labels == 1).nonzero().flatten()[:2]
    x = test.images[torch.cat([normal, pneumonia])]       # three test images
    target = 1                                            # explain "pneumonia"
    with torch.no_grad():
        p = model(x).softmax(1)[:, 1]
    titles = [f"{data.class_names[int(test.labels[i])]}, p={q:.2f}"
              for i, q in zip(torch.cat([normal, pneumonia]).tolist(), p.tolist())]
    print(titles)
    """),
    md("""
    ## 2.1 Vanilla gradient

    $$S_c(x) = \\left|\\frac{\\partial f_c(x)}{\\partial x}\\right|$$

    Make `x` require gradients (work on a copy: `x.clone().requires_grad_(True)`), take the
    target logit, back-propagate, return the absolute gradient without the channel axis.
    """),
    answer("gradient_saliency", """
    def gradient_saliency(model, x, target):
        \"\"\"|∂f_target/∂x| for each image: (N, 1, H, W) → (N, H, W).\"\"\"
        ### BEGIN SOLUTION
        x = x.clone().requires_grad_(True)
        score = model(x)[:, target].sum()       # images are independent: one backward for all
        (grad,) = torch.autograd.grad(score, x)
        return grad.abs().sum(1)
        ### END SOLUTION
    """),
    check_cell("test_gradient", 2, "checks.gradient(gradient_saliency)",
               "checks.gradient(gradient_saliency, hidden=True).require()"),
    md("""
    ## 2.2 Gradient × Input

    $$S_c(x) = x \\odot \\frac{\\partial f_c(x)}{\\partial x}$$

    Return the **signed** map (sum over the channel axis). Keep in mind where it must be
    zero, whatever the model: wherever the pixel value is 0.
    """),
    answer("grad_x_input", """
    def grad_x_input(model, x, target):
        \"\"\"x ⊙ ∂f_target/∂x, signed: (N, 1, H, W) → (N, H, W).\"\"\"
        ### BEGIN SOLUTION
        xg = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(xg)[:, target].sum(), xg)
        return (x * grad).sum(1)
        ### END SOLUTION
    """),
    check_cell("test_grad_x_input", 2, "checks.grad_x_input(grad_x_input)",
               "checks.grad_x_input(grad_x_input, hidden=True).require()"),
    md("""
    ## 2.3 SmoothGrad

    Average the absolute gradient over noisy copies of the image:

    $$S_c(x) = \\frac{1}{n}\\sum_{k=1}^{n} \\left|\\nabla f_c\\big(\\mathrm{clamp}(x + \\sigma\\,\\varepsilon_k,\\,-1,\\,1)\\big)\\right|$$

    The standard-normal noise is given: `noise` has shape `(n, N, 1, H, W)` (so that your
    result can be compared exactly). **Clamp** every noisy copy back to the pixel range.
    With σ = 0 SmoothGrad must equal the vanilla gradient.
    """),
    answer("smoothgrad", """
    def smoothgrad(model, x, target, sigma, noise):
        \"\"\"Mean |gradient| over the copies clamp(x + sigma * noise[k], -1, 1).\"\"\"
        ### BEGIN SOLUTION
        n = noise.shape[0]
        noisy = (x[None] + sigma * noise.to(x.device)).clamp(-1.0, 1.0).reshape(-1, *x.shape[1:]).requires_grad_(True)
        (grad,) = torch.autograd.grad(model(noisy)[:, target].sum(), noisy)
        return grad.view(n, *x.shape).abs().mean(0).sum(1)
        ### END SOLUTION
    """),
    check_cell("test_smoothgrad", 2, "checks.smoothgrad(smoothgrad)",
               "checks.smoothgrad(smoothgrad, hidden=True).require()"),
    md("""
    ## 2.4 Integrated Gradients

    $$\\mathrm{IG}_c(x) = (x - x') \\odot \\frac{1}{m}\\sum_{k=0}^{m-1} \\nabla f_c\\Big(x' + \\alpha_k (x - x')\\Big),
    \\qquad \\alpha_k = \\frac{k + \\tfrac12}{m}$$

    `baseline` is an image like `x` (e.g. `torch.zeros_like(x)`, mid-gray, or
    `torch.full_like(x, -1.0)`, black); `steps` is m. Return the **signed** attribution.
    The attributions of one image add up to $f_c(x) - f_c(x')$ (completeness); the check
    tests that too.
    """),
    answer("integrated_gradients", """
    def integrated_gradients(model, x, target, baseline, steps=32):
        \"\"\"Signed IG with the midpoint rule: (N, 1, H, W) → (N, H, W).\"\"\"
        ### BEGIN SOLUTION
        alphas = (torch.arange(steps, dtype=x.dtype, device=x.device) + 0.5) / steps
        path = baseline[None] + alphas.view(-1, 1, 1, 1, 1) * (x - baseline)[None]      # (m, N, 1, H, W)
        path = path.reshape(-1, *x.shape[1:]).requires_grad_(True)
        (grad,) = torch.autograd.grad(model(path)[:, target].sum(), path)
        avg = grad.view(steps, *x.shape).mean(0)
        return ((x - baseline) * avg).sum(1)
        ### END SOLUTION
    """),
    check_cell("test_integrated_gradients", 3, "checks.integrated_gradients(integrated_gradients)",
               "checks.integrated_gradients(integrated_gradients, hidden=True).require()"),
    md("""
    ### Gray or black baseline?

    The baseline says "compared with what". Run IG on the three images with a mid-gray
    (0.0) and a black (−1.0) baseline and look at the difference.
    """),
    code("""
    gray = integrated_gradients(model, x, target, torch.zeros_like(x))
    black = integrated_gradients(model, x, target, torch.full_like(x, -1.0))
    with torch.no_grad():
        f = lambda img: model(img)[:, target]
        print("f(x) − f(gray)  :", (f(x) - f(torch.zeros_like(x))).tolist())
        print("sum of IG (gray):", gray.flatten(1).sum(1).tolist())
    show_maps(x, {"IG, gray x′": gray, "IG, black x′": black}, titles, signed=("IG, gray x′", "IG, black x′"))
    """),
    md("""
    With the black baseline, Integrated Gradients gives exactly zero attribution to which
    pixels, whatever the model? One letter in `black_baseline_zero`:

    * **a** mid-gray pixels (0.0)
    * **b** black pixels (−1.0)
    * **c** the brightest pixels
    * **d** no pixel in particular
    """),
    answer("black_baseline", """
    black_baseline_zero = None  # "a", "b", "c" or "d"
    ### BEGIN SOLUTION
    black_baseline_zero = "b"
    ### END SOLUTION
    """),
    check_cell("test_black_baseline", 1, 'checks.question("02_q_black_baseline", black_baseline_zero)'),
    md("""
    ## 2.5 The same with captum

    captum's `IntegratedGradients(model).attribute(x, baselines=..., target=..., n_steps=...,
    method=...)` computes IG too. Write `captum_ig` with the same signature as your function
    so that it agrees with labkit's midpoint rule (captum's default rule is different: find
    the `method` that matches), and return `(N, H, W)`.
    """),
    answer("captum_ig", """
    from captum.attr import IntegratedGradients


    def captum_ig(model, x, target, baseline, steps=32):
        \"\"\"Integrated Gradients computed by captum, (N, H, W).\"\"\"
        ### BEGIN SOLUTION
        attr = IntegratedGradients(model).attribute(x, baselines=baseline, target=target, n_steps=steps,
                                                    method="riemann_middle")
        return attr.detach().sum(1)
        ### END SOLUTION
    """),
    check_cell("test_captum_ig", 1, "checks.ig_captum(captum_ig)",
               "checks.ig_captum(captum_ig, hidden=True).require()"),
    code("""
    from labkit.sanity import pearson

    mine, theirs = integrated_gradients(model, x, target, torch.zeros_like(x)), captum_ig(model, x, target, torch.zeros_like(x))
    print("largest difference:", float((mine - theirs).abs().max()))
    print("Pearson per image :", [round(v, 4) for v in pearson(mine, theirs).tolist()])
    """),
    md("""
    ## 2.6 Occlusion

    Slide a `patch` × `patch` square with step `stride` over the image (windows start at
    0, stride, 2·stride, … while they fit), fill it with `fill`, and record the **drop of
    the softmax probability** of the target class, p(x) − p(x occluded). A pixel's value is
    the **mean** drop over all windows that cover it. No gradients needed
    (`torch.no_grad()`).
    """),
    answer("occlusion", """
    def occlusion(model, x, target, patch=8, stride=4, fill=0.0):
        \"\"\"Mean drop of p_target over the windows covering each pixel: (N, H, W).\"\"\"
        ### BEGIN SOLUTION
        n, _, h, w = x.shape
        total = torch.zeros(n, h, w, device=x.device)
        count = torch.zeros(h, w, device=x.device)
        with torch.no_grad():
            p = model(x).softmax(1)[:, target]
            for top in range(0, h - patch + 1, stride):
                for left in range(0, w - patch + 1, stride):
                    hidden = x.clone()
                    hidden[:, :, top:top + patch, left:left + patch] = fill
                    drop = p - model(hidden).softmax(1)[:, target]
                    total[:, top:top + patch, left:left + patch] += drop[:, None, None]
                    count[top:top + patch, left:left + patch] += 1
        return total / count
        ### END SOLUTION
    """),
    check_cell("test_occlusion", 2, "checks.occlusion(occlusion)",
               "checks.occlusion(occlusion, hidden=True).require()"),
    md("""
    ## 2.7 Grad-CAM

    For a conv `layer` with feature maps $A^k$ (shape `(N, K, h, w)`):
    $\\alpha_k$ = spatial mean of $\\partial f_c/\\partial A^k$, map = ReLU$(\\sum_k \\alpha_k A^k)$,
    then upsample to the image size with
    `torch.nn.functional.interpolate(cam[:, None], size=(H, W), mode="bilinear", align_corners=False)`.

    `layer` is the module whose output holds the feature maps; on the trained model below it is
    `model.features.relu3`, the output of the last conv block (after BatchNorm and ReLU).
    Get $A^k$ with a forward hook: `handle = layer.register_forward_hook(lambda module, inputs, output: store.append(output))`
    (remove it afterwards with `handle.remove()`), then `torch.autograd.grad(score, A)`.
    """),
    answer("gradcam", """
    import torch.nn.functional as F


    def gradcam(model, x, target, layer):
        \"\"\"Grad-CAM at `layer` (an nn.Module of `model`), upsampled to (N, H, W).\"\"\"
        ### BEGIN SOLUTION
        store = []
        handle = layer.register_forward_hook(lambda module, inputs, output: store.append(output))
        try:
            score = model(x)[:, target].sum()
        finally:
            handle.remove()
        acts = store[0]
        (grads,) = torch.autograd.grad(score, acts)
        weights = grads.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * acts).sum(1))
        return F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0].detach()
        ### END SOLUTION
    """),
    check_cell("test_gradcam", 3, "checks.gradcam(gradcam)", "checks.gradcam(gradcam, hidden=True).require()"),
    md("""
    ## 2.8 Three images, six maps

    Your functions on the trained model. Each map is scaled to its own maximum for display
    only (heat colours: magnitude; red/blue: sign).
    """),
    code("""
    noise = torch.randn(8, *x.shape, generator=torch.Generator().manual_seed(0)).to(x.device)
    maps = {
        "gradient": gradient_saliency(model, x, target),
        "grad × input": grad_x_input(model, x, target),
        "SmoothGrad": smoothgrad(model, x, target, 0.15, noise),
        "IG (gray)": integrated_gradients(model, x, target, torch.zeros_like(x)),
    }
    """),
    code("""
    maps["occlusion"] = occlusion(model, x, target, patch=8, stride=8)   # no overlap: quicker in a Python loop
    maps["Grad-CAM"] = gradcam(model, x, target, model.features.relu3)   # the last conv block's output
    show_maps(x, maps, titles, signed=("grad × input", "IG (gray)", "occlusion"))
    """),
    written("describe_three_maps", 3, """
    Describe the three images' maps above, method by method where it matters: where does the
    model look (lungs, heart border, edges, text or corners of the image)? Which maps
    would you call clinically meaningful, which not, and why? Three to six sentences.

    ### BEGIN SOLUTION
    *Example answer (graded by hand).* Gradient and SmoothGrad mark pixels all over the
    chest, with some of the largest values at the image borders and shoulders, which are
    not where pneumonia shows; SmoothGrad is less speckled but not more specific.
    Gradient × Input and IG with the gray baseline are zero on mid-gray background and
    weight bright structures (ribs, clavicles), so they partly reflect the image rather
    than the model. Occlusion and Grad-CAM are coarse but agree that the lower lung fields
    of the pneumonia images matter, which is plausible clinically; for the normal image
    the maps are weak and diffuse. None of these maps proves the model is right: they show
    where it is sensitive, and the border activity is a warning sign worth testing.
    ### END SOLUTION
    """),
    md("""
    ## Explore

    The explainer panel computes labkit's reference maps for any test image and method,
    with each method's parameters as sliders (SmoothGrad's σ, IG's baseline, the occlusion
    patch, the Grad-CAM layer).
    """),
    code("""
    from labkit.panels import ExplainerSelector
    from labkit.state import ExperimentState

    state = ExperimentState(data=data)
    state.add_model(baseline)
    ExplainerSelector(state)
    """),
]


# =====================================================================================
# 03 — sanity checks
# =====================================================================================
NB03 = [
    md("""
    # 03 · Sanity checks

    A saliency map that looks convincing can still be independent of the model. Adebayo et
    al. (NeurIPS 2018) proposed negative controls: **model randomization** (replace trained
    weights by random ones, layer by layer from the output down — the *cascade*) and
    **data randomization** (train on permuted labels). A method whose maps barely change
    fails: its maps cannot be explaining what the model learned.

    `labkit.sanity` re-initializes layers for you: `randomize_model(model, seed=...)` returns
    a fully randomized copy, `randomize_layers(model, order="cascade", seed=...)` yields
    `(layer_name, randomized_copy)` one step at a time. Similarity is the Spearman rank
    correlation of the **absolute** maps (`labkit.sanity.spearman(a, b)` gives one value per
    image).
    """),
    md(HOW_TO),
    code(SETUP, """
    from labkit.explain import explain
    from labkit.sanity import randomize_layers, randomize_model, spearman

    baseline = lab_model(data, "baseline")
    model = baseline.model
    test = data["test"]
    x = test.images[(test.labels == 1).nonzero().flatten()[:4]]
    target = 1


    PARAMS = {"gradcam": {"layer": "features.relu3"}}    # Grad-CAM on the last conv block's output


    def signed_map(method):
        \"\"\"A saliency function (model, x, target) -> signed (N, H, W) maps of a labkit method.\"\"\"
        def saliency_fn(model, x, target):
            attr = explain(model, x, target, method, **PARAMS.get(method, {}))
            return attr.signed if attr.signed is not None else attr.maps
        return saliency_fn
    """),
    md("""
    ## 3.1 Model randomization

    Write `randomized_similarity(model, x, target, saliency_fn, seed=0)`: the mean over
    images of the Spearman correlation between |map| of the model and |map| of
    `randomize_model(model, seed=seed)`. `saliency_fn(model, x, target)` returns signed maps.
    """),
    answer("randomized_similarity", """
    def randomized_similarity(model, x, target, saliency_fn, seed=0):
        \"\"\"Mean Spearman(|map of model|, |map of a randomized copy|) over the images.\"\"\"
        ### BEGIN SOLUTION
        original = saliency_fn(model, x, target).abs()
        randomized = saliency_fn(randomize_model(model, seed=seed), x, target).abs()
        return float(spearman(original, randomized).mean())
        ### END SOLUTION
    """),
    check_cell("test_randomized_similarity", 2, "checks.randomized_similarity(randomized_similarity)",
               "checks.randomized_similarity(randomized_similarity, hidden=True).require()"),
    code("""
    for method in ("gradient", "gradcam", "guided_backprop"):
        value = randomized_similarity(model, x, target, signed_map(method))
        shown = f"{value:+.3f}" if value == value else "undefined (a map is constant, e.g. all zero after the ReLU)"
        print(f"{method:>16}: {shown}")
    """),
    md("""
    ## 3.2 The cascade

    Write `cascade(model, x, target, saliency_fn, seed=0)` returning a dict
    `{layer_name: mean Spearman}` with one entry per step of
    `randomize_layers(model, order="cascade", seed=seed)`, in that order (output layer
    first). Every step is compared with the map of the **original** model.
    """),
    answer("cascade", """
    def cascade(model, x, target, saliency_fn, seed=0):
        \"\"\"{layer randomized so far: mean Spearman(|original map|, |map now|)}, output layer first.\"\"\"
        ### BEGIN SOLUTION
        original = saliency_fn(model, x, target).abs()
        result = {}
        for layer, randomized in randomize_layers(model, order="cascade", seed=seed):
            result[layer] = float(spearman(original, saliency_fn(randomized, x, target).abs()).mean())
        return result
        ### END SOLUTION
    """),
    check_cell("test_cascade", 3, "checks.cascade(cascade)", "checks.cascade(cascade, hidden=True).require()"),
    code("""
    curves = {m: cascade(model, x, target, signed_map(m)) for m in ("gradient", "gradcam", "guided_backprop")}
    layers = ["original"] + list(curves["gradient"])
    for method, values in curves.items():
        plt.plot(layers, [1.0] + list(values.values()), marker="o", label=method)
    plt.axhline(0, color="gray", lw=0.5)
    plt.ylabel("Spearman with the original map")
    plt.xlabel("randomized down to")
    plt.xticks(rotation=30)
    plt.legend()
    plt.show()
    """),
    md("""
    Which methods keep their map while the layers that make the decision are random? The
    cascade viewer shows the maps at every step.
    """),
    code("""
    from labkit.panels import CascadeViewer
    from labkit.state import ExperimentState

    state = ExperimentState(data=data)
    state.add_model(baseline)
    CascadeViewer(state)
    """),
    md("""
    ## 3.3 Data randomization

    `lab_model(data, "random-labels")` is the same CNN trained until it memorized
    **permuted** training labels: it learned nothing real about pneumonia. Compare its maps
    with the baseline's.
    """),
    code("""
    memorizer = lab_model(data, "random-labels")
    print(f"training accuracy on permuted labels: {memorizer.metrics['train_acc']:.2f}, "
          f"test AUROC: {memorizer.metrics['test']['auroc']:.2f}")
    for method in ("gradient", "gradcam", "guided_backprop"):
        a = signed_map(method)(model, x, target).abs()
        b = signed_map(method)(memorizer.model, x, target).abs()
        print(f"{method:>16}: Spearman baseline vs random labels {float(spearman(a, b).nanmean()):+.3f}")
    """),
    md("""
    A method gives nearly the same map for the baseline and for the model that memorized
    permuted labels. What does that tell you? One letter in `label_randomization`:

    * **a** The method is robust, a good sign.
    * **b** The map does not depend on what the model learned from its labels: the method fails the check.
    * **c** The random-label model generalizes as well as the baseline.
    * **d** Nothing: both models have the same architecture, so their maps should agree.
    """),
    answer("label_randomization", """
    label_randomization = None  # "a", "b", "c" or "d"
    ### BEGIN SOLUTION
    label_randomization = "b"
    ### END SOLUTION
    """),
    check_cell("test_label_randomization", 1,
               'checks.question("03_q_label_randomization", label_randomization)'),
    md("""
    ## 3.4 Questions

    **Why does the cascade start at the output layer?** One letter in `cascade_order`:

    * **a** The output layer has the most parameters, so randomizing it changes the model most.
    * **b** The top layers turn features into the class decision: a map that stays the same while they are random does not reflect the decision, and going down shows how deep you must randomize before the map changes.
    * **c** Randomizing the input layer first would crash the model.
    * **d** It is faster to re-initialize layers in that order.
    """),
    answer("cascade_order", """
    cascade_order = None  # "a", "b", "c" or "d"
    ### BEGIN SOLUTION
    cascade_order = "b"
    ### END SOLUTION
    """),
    check_cell("test_cascade_order", 1, 'checks.question("03_q_cascade_order", cascade_order)'),
    md("""
    **Which checks can you run without modifying, or even reading, the trained model's
    parameters** (you may query the model for maps and train new models from scratch)?
    A set of letters in `without_weights`, e.g. `{"a", "b"}`:

    * **a** cascading model randomization
    * **b** independent (one layer at a time) randomization
    * **c** data (label) randomization
    * **d** stability of the map under small input noise
    """),
    answer("without_weights", """
    without_weights = None  # a set of letters
    ### BEGIN SOLUTION
    without_weights = {"c", "d"}
    ### END SOLUTION
    """),
    check_cell("test_without_weights", 1, 'checks.question("03_q_without_weights", without_weights)'),
    md("""
    **A linear model** $f(x) = w \\cdot x + b$. True or false? A tuple of three booleans in
    `linear_model`:

    1. The vanilla gradient map is the same for every input image.
    2. Integrated Gradients with the all-zero baseline equals Gradient × Input.
    3. Integrated Gradients and the vanilla gradient give the same map.

    You can try it: the cell below builds a linear model.
    """),
    code("""
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(x[0].numel(), 2))
    g1 = explain(linear, x[:1], 1, "gradient").signed
    g2 = explain(linear, x[1:2], 1, "gradient").signed
    ig = explain(linear, x[:1], 1, "integrated_gradients", baseline="gray").signed
    gxi = explain(linear, x[:1], 1, "grad_x_input").signed
    print("same gradient for two images:", torch.allclose(g1, g2))
    print("IG (zero baseline) == grad × input:", torch.allclose(ig, gxi, atol=1e-6))
    print("IG == gradient:", torch.allclose(ig, g1, atol=1e-6))
    """),
    answer("linear_model", """
    linear_model = None  # (True/False, True/False, True/False)
    ### BEGIN SOLUTION
    linear_model = (True, True, False)
    ### END SOLUTION
    """),
    check_cell("test_linear_model", 1, 'checks.question("03_q_linear_model", linear_model)'),
    md("""
    **Dimensions.** (1) What is the shape of `explain(model, x, 1, "gradient").maps` for a batch
    `x` of 8 grayscale 64 × 64 images? A tuple in `map_shape`. (2) For a 64 × 64 input, what is
    the spatial size `(h, w)` of the SmallCNN's `features.conv3` feature maps that Grad-CAM
    weights, before upsampling? A tuple in `gradcam_size`. (You can find out with a dummy batch.)
    """),
    answer("map_shape", """
    map_shape = None
    ### BEGIN SOLUTION
    dummy = torch.zeros(8, 1, 64, 64)
    map_shape = tuple(explain(model, dummy, 1, "gradient").maps.shape)
    ### END SOLUTION
    print(map_shape)
    """),
    check_cell("test_map_shape", 1, 'checks.question("03_q_map_shape", map_shape)'),
    answer("gradcam_size", """
    gradcam_size = None
    ### BEGIN SOLUTION
    gradcam_size = tuple(explain(model, torch.zeros(1, 1, 64, 64), 1, "gradcam").extras["layer_cam"].shape[-2:])
    ### END SOLUTION
    print(gradcam_size)
    """),
    check_cell("test_gradcam_size", 1, 'checks.question("03_q_gradcam_size", gradcam_size)'),
    md("""
    **Gradient × Input on dark pixels.** In images scaled to [0, 1] (most tutorials),
    Gradient × Input is zero on black pixels. In labkit's [−1, 1] scale, on which pixels is it
    exactly zero, whatever the model? One letter in `gxi_zero`:

    * **a** black pixels (−1.0)
    * **b** mid-gray pixels (0.0)
    * **c** white pixels (1.0)
    * **d** no pixel in particular
    """),
    answer("gxi_zero", """
    gxi_zero = None  # "a", "b", "c" or "d"
    ### BEGIN SOLUTION
    gxi_zero = "b"
    ### END SOLUTION
    """),
    check_cell("test_gxi_zero", 1, 'checks.question("03_q_gxi_zero", gxi_zero)'),
]


# =====================================================================================
# 04 — shortcut learning
# =====================================================================================
NB04 = [
    md("""
    # 04 · Shortcut learning

    Plant a non-clinical marker whose position encodes the label — a bright 8 × 8 square,
    top-left for pneumonia, bottom-right for normal — and train on it. The model learns the
    marker instead of the lungs: near-perfect on marked images, poor on clean ones. Which
    saliency methods reveal the shortcut? What if the marker is smaller, a border stripe or
    burned-in text?
    """),
    md(HOW_TO),
    code(SETUP, """
    from labkit.data import BorderStripe, BurnedText, CornerSquare
    from labkit.evaluate import region_fraction
    from labkit.explain import explain

    corner = CornerSquare()                    # 8×8, intensity 1.0, {1: top-left, 0: bottom-right}
    shortcut = lab_model(data, "shortcut", corner)
    test = data["test"]
    marked = test.with_marker(corner)
    for key in ("test", "test_marked"):
        m = shortcut.metrics[key]
        print(f"{key:>12}: accuracy {m['accuracy']:.3f}, sensitivity {m['sensitivity']:.3f}, "
              f"specificity {m['specificity']:.3f}")
    """),
    md("""
    ## 4.1 Per-class errors on clean data

    Write `per_class_errors(model, images, labels, threshold=0.5)`: predict pneumonia when
    p(pneumonia) ≥ threshold and return `{"normal": ..., "pneumonia": ...}`, the **error rate
    within each class** (wrong predictions of that class / images of that class).
    """),
    answer("per_class_errors", """
    def per_class_errors(model, images, labels, threshold=0.5):
        \"\"\"Error rate among the normal images and among the pneumonia images.\"\"\"
        ### BEGIN SOLUTION
        with torch.no_grad():
            p = model(images).softmax(1)[:, 1]
        preds = (p >= threshold).long()
        wrong = preds != labels
        return {"normal": float(wrong[labels == 0].float().mean()),
                "pneumonia": float(wrong[labels == 1].float().mean())}
        ### END SOLUTION
    """),
    check_cell("test_per_class_errors", 2, "checks.per_class_errors(per_class_errors)",
               "checks.per_class_errors(per_class_errors, hidden=True).require()"),
    code("""
    for name, split in (("clean", test), ("marked", marked)):
        errors = per_class_errors(shortcut.model, split.images, split.labels, shortcut.threshold)
        print(f"{name:>7} test images: errors on normal {errors['normal']:.3f}, on pneumonia {errors['pneumonia']:.3f}")
    """),
    md("""
    ## 4.2 The image that needed the marker most

    Write `largest_drop(model, marked, clean)`: for every image, the drop of p(pneumonia)
    when its marker is removed, p(pneumonia | marked) − p(pneumonia | clean). Return
    `(index, drop)` of the image with the largest drop.
    """),
    answer("largest_drop", """
    def largest_drop(model, marked, clean):
        \"\"\"(index, drop) of the largest p(pneumonia | marked) − p(pneumonia | clean).\"\"\"
        ### BEGIN SOLUTION
        with torch.no_grad():
            drop = model(marked).softmax(1)[:, 1] - model(clean).softmax(1)[:, 1]
        index = int(drop.argmax())
        return index, float(drop[index])
        ### END SOLUTION
    """),
    check_cell("test_largest_drop", 2, "checks.largest_drop(largest_drop)",
               "checks.largest_drop(largest_drop, hidden=True).require()"),
    code("""
    index, drop = largest_drop(shortcut.model, marked.images, test.images)
    with torch.no_grad():
        p_marked = float(shortcut.model(marked.images[index:index + 1]).softmax(1)[0, 1])
    print(f"test image {index} ({data.class_names[int(test.labels[index])]}): p(pneumonia) {p_marked:.2f} "
          f"with the marker, {p_marked - drop:.2f} without")
    fig, axes = plt.subplots(1, 2, figsize=(4, 2.2))
    for ax, img, title in zip(axes, (marked.images[index], test.images[index]), ("marked", "clean")):
        ax.imshow(img[0].cpu(), cmap="gray", vmin=-1, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    plt.show()
    """),
    md("""
    ## 4.3 Which methods see the marker? And a 4-pixel one?

    The share of each map's absolute saliency inside the marker
    (`labkit.evaluate.region_fraction`), on pneumonia test images carrying the marker, for the
    8-pixel model and for a model trained with a 4-pixel marker.
    """),
    code("""
    METHODS = {"gradient": {}, "smoothgrad": {"n_samples": 8}, "integrated_gradients": {"steps": 16},
               "occlusion": {"patch": 8, "stride": 8}, "gradcam": {"layer": "features.relu3"}}


    def marker_fractions(entry, marker, n=4):
        split = test.with_marker(marker)
        idx = (split.labels == 1).nonzero().flatten()[:n]
        xs, ys = split.images[idx], split.labels[idx]
        mask = marker.mask(ys, data.size)
        return {m: float(region_fraction(explain(entry.model, xs, 1, m, **kw).maps, mask).mean())
                for m, kw in METHODS.items()}


    rows = {"8 px": marker_fractions(shortcut, corner)}
    """),
    code("""
    small = CornerSquare(size=4)
    shortcut4 = lab_model(data, "shortcut", small)
    rows["4 px"] = marker_fractions(shortcut4, small)
    print(f"{'method':>22}" + "".join(f"{k:>8}" for k in rows))
    for m in METHODS:
        print(f"{m:>22}" + "".join(f"{rows[k][m]:8.2f}" for k in rows))
    print(f"marked-test accuracy of the 4-px model: {shortcut4.metrics['test_marked']['accuracy']:.3f}")
    """),
    md("""
    Which method is most likely to miss a 4-pixel marker that the model does use? One letter
    in `small_marker`:

    * **a** occlusion with an 8 × 8 patch
    * **b** Integrated Gradients
    * **c** Grad-CAM at the last conv layer
    * **d** the vanilla gradient
    """),
    answer("small_marker", """
    small_marker = None  # "a", "b", "c" or "d"
    ### BEGIN SOLUTION
    small_marker = "c"
    ### END SOLUTION
    """),
    check_cell("test_small_marker", 1, 'checks.question("04_q_small_marker", small_marker)'),
    md("""
    ## 4.4 A border stripe

    Write `add_border_stripe(images, labels, width=3, intensity=1.0)`: a **copy** of the
    images with a band of `width` columns set to `intensity` — on the left edge for pneumonia
    (1), on the right edge for normal (0). Do not change the input.
    """),
    answer("add_border_stripe", """
    def add_border_stripe(images, labels, width=3, intensity=1.0):
        \"\"\"Label-coded stripe: left edge for pneumonia, right edge for normal.\"\"\"
        ### BEGIN SOLUTION
        out = images.clone()
        pneumonia = labels == 1
        out[pneumonia, :, :, :width] = intensity
        out[~pneumonia, :, :, -width:] = intensity
        return out
        ### END SOLUTION
    """),
    check_cell("test_border_stripe", 2, "checks.border_stripe(add_border_stripe)",
               "checks.border_stripe(add_border_stripe, hidden=True).require()"),
    code("""
    stripe = BorderStripe()                   # width 3, left: pneumonia, right: normal
    text = BurnedText(text="R")               # burned-in letter, top-left: pneumonia, bottom-right: normal
    striped = add_border_stripe(test.images[:4], test.labels[:4])
    fig, axes = plt.subplots(1, 4, figsize=(6, 1.8))
    for ax, img, y in zip(axes, striped, test.labels[:4].tolist()):
        ax.imshow(img[0].cpu(), cmap="gray", vmin=-1, vmax=1)
        ax.set_title(data.class_names[y], fontsize=8)
        ax.axis("off")
    plt.show()
    """),
    md("""
    Shortcut models trained with the stripe and with burned-in text: how accurate on marked
    and clean test images, and how much of each map falls on the marker?
    """),
    code("""
    def report(name, marker):
        entry = lab_model(data, "shortcut", marker)
        fr = marker_fractions(entry, marker)
        print(f"{name}: marked accuracy {entry.metrics['test_marked']['accuracy']:.3f}, clean "
              f"{entry.metrics['test']['accuracy']:.3f}; fraction inside the marker: "
              + ", ".join(f"{m} {v:.2f}" for m, v in fr.items()))


    report("stripe", stripe)
    """),
    code("""
    report("text", text)
    """),
    md("""
    **True or false:** a marker stamped in the same place on *every* image, whatever its class
    (for example `BurnedText(text="R", placement="top-left")`), can become a shortcut for the
    label. A boolean in `control_marker`.
    """),
    answer("control_marker", """
    control_marker = None  # True or False
    ### BEGIN SOLUTION
    control_marker = False
    ### END SOLUTION
    """),
    check_cell("test_control_marker", 1, 'checks.question("04_q_control_marker", control_marker)'),
    md("""
    ## Explore

    The marker editor plants any marker (corner square, stripe, text; size, intensity,
    placement), shows the marked images and compares the methods on a shortcut model.
    """),
    code("""
    from labkit.panels import MarkerEditor
    from labkit.state import ExperimentState

    state = ExperimentState(data=data)
    state.add_model(shortcut)
    state.marker = corner
    MarkerEditor(state)
    """),
]


# =====================================================================================
# 05 — quantitative evaluation
# =====================================================================================
NB05 = [
    md("""
    # 05 · Scoring explanations

    Looking at maps is subjective. Three numbers make it testable: the **deletion curve**
    (remove the pixels a map ranks first: does the prediction collapse?), the share of
    saliency **inside a region** (on a known shortcut, a faithful map puts its mass on the
    marker) and **stability** (does the map survive noise too small to change the
    prediction?).
    """),
    md(HOW_TO),
    code(SETUP, """
    from labkit.data import CornerSquare
    from labkit.evaluate import deletion_curve, insertion_curve
    from labkit.explain import explain

    baseline = lab_model(data, "baseline")
    model = baseline.model
    test = data["test"]
    x = test.images[(test.labels == 1).nonzero().flatten()[:4]]
    target = 1
    """),
    md("""
    ## 5.1 Deletion curve

    Write `deletion_auc(model, x, target, saliency, steps=16, fill=0.0)`. For each image, rank
    the pixels by `saliency` (highest first; `argsort(descending=True, stable=True)`), and for
    k = 0 … steps set the first round(k / steps · H·W) pixels to `fill` and record the softmax
    probability of `target`. Return the area under probability vs deleted fraction (0 … 1),
    `torch.trapezoid(scores, fractions)`, one value per image: shape `(N,)`.
    """),
    answer("deletion_auc", """
    def deletion_auc(model, x, target, saliency, steps=16, fill=0.0):
        \"\"\"Area under p_target as the most salient pixels are deleted first: (N,).\"\"\"
        ### BEGIN SOLUTION
        n, m = x.shape[0], x[0].numel()
        order = saliency.reshape(n, m).argsort(dim=1, descending=True, stable=True)
        rank = torch.empty_like(order).scatter_(1, order, torch.arange(m, device=x.device).expand(n, m))  # 0 = top
        fractions = torch.linspace(0, 1, steps + 1, device=x.device)
        counts = (fractions * m).round()
        deleted = rank[:, None, :] < counts[None, :, None]                                # (N, steps + 1, H·W)
        images = torch.where(deleted, torch.full_like(deleted, fill, dtype=x.dtype), x.reshape(n, 1, m))
        with torch.no_grad():                                                              # all steps in one batch
            p = model(images.reshape(-1, *x.shape[1:])).softmax(1)[:, target].view(n, steps + 1)
        return torch.trapezoid(p, fractions, dim=1)
        ### END SOLUTION
    """),
    check_cell("test_deletion", 3, "checks.deletion_auc(deletion_auc)",
               "checks.deletion_auc(deletion_auc, hidden=True).require()"),
    code("""
    settings = {"gradient": {}, "integrated_gradients": {"steps": 16}, "occlusion": {"stride": 8},
                "gradcam": {"layer": "features.relu3"}}
    maps = {m: explain(model, x, target, m, **kw).maps for m, kw in settings.items()}
    maps["random"] = torch.rand(x.shape[0], *x.shape[-2:], generator=torch.Generator().manual_seed(0)).to(x.device)
    print(f"{'map':>22} {'deletion (yours)':>17} {'deletion (labkit)':>18} {'insertion (labkit)':>19}")
    for name, s in maps.items():
        yours = deletion_auc(model, x, target, s).mean()
        ref = deletion_curve(model, x, target, s, steps=16).auc.mean()
        ins = insertion_curve(model, x, target, s, steps=16).auc.mean()
        print(f"{name:>22} {float(yours):17.3f} {float(ref):18.3f} {float(ins):19.3f}")
    """),
    md("""
    Look at the *random* row. When a random ranking scores about as well as a method, the
    deletion curve is measuring how the model reacts to gray pixels scattered over the image
    (inputs it never saw in training) more than the quality of the map. Insertion from a
    blurred image, or a blurred fill for deletion (`fill="blur"` in labkit), reduces that effect.
    """),
    md("""
    Which statement is right? One letter in `curve_direction`:

    * **a** deletion: lower AUC is better; insertion: higher AUC is better
    * **b** both: higher is better
    * **c** both: lower is better
    * **d** deletion: higher is better; insertion: lower is better
    """),
    answer("curve_direction", """
    curve_direction = None  # "a", "b", "c" or "d"
    ### BEGIN SOLUTION
    curve_direction = "a"
    ### END SOLUTION
    """),
    check_cell("test_curve_direction", 1, 'checks.question("05_q_curve_direction", curve_direction)'),
    md("""
    ## 5.2 Saliency inside a region

    Write `region_fraction(maps, mask, eps=1e-12)`: per map, Σ|s| inside the mask / (Σ|s| + eps).
    `mask` is boolean, `(H, W)` for all maps or `(N, H, W)`; an all-zero map must give 0.
    """),
    answer("region_fraction", """
    def region_fraction(maps, mask, eps=1e-12):
        \"\"\"Share of |saliency| inside the mask, one value per map: (N,).\"\"\"
        ### BEGIN SOLUTION
        a = maps.abs()
        inside = (a * mask).flatten(1).sum(1)
        return inside / (a.flatten(1).sum(1) + eps)
        ### END SOLUTION
    """),
    check_cell("test_region_fraction", 2, "checks.region_fraction(region_fraction)",
               "checks.region_fraction(region_fraction, hidden=True).require()"),
    code("""
    corner = CornerSquare()
    shortcut = lab_model(data, "shortcut", corner)
    split = test.with_marker(corner)
    idx = (split.labels == 1).nonzero().flatten()[:4]
    xm, mask = split.images[idx], corner.mask(split.labels[idx], data.size)
    settings = {"occlusion": {}, "integrated_gradients": {"steps": 16}, "smoothgrad": {"n_samples": 8},
                "gradient": {}, "gradcam": {"layer": "features.relu3"}}
    for m, kw in settings.items():
        share = float(region_fraction(explain(shortcut.model, xm, 1, m, **kw).maps, mask).mean())
        print(f"{m:>22}: {share:.2f}")
    """),
    md("""
    ## 5.3 Stability

    Write `stability(model, x, target, saliency_fn, noise)`. `noise` has shape
    `(N, n, 1, H, W)` (already scaled): the noisy copies are `clamp(x[i] + noise[i, k], -1, 1)`.
    For each image, average the **Pearson** correlation (`labkit.sanity.pearson`) between the
    map of `x[i]` and the maps of its copies, over the copies whose **predicted class** equals
    the prediction on `x[i]`. Return `(N,)`.
    """),
    answer("stability", """
    from labkit.sanity import pearson


    def stability(model, x, target, saliency_fn, noise):
        \"\"\"Mean Pearson(map of x, map of a noisy copy) over copies with the same prediction: (N,).\"\"\"
        ### BEGIN SOLUTION
        n, k = noise.shape[:2]
        noisy = (x[:, None] + noise).clamp(-1, 1).reshape(n * k, *x.shape[1:])
        with torch.no_grad():
            same = model(noisy).argmax(1).view(n, k) == model(x).argmax(1)[:, None]
        ref = saliency_fn(model, x, target).repeat_interleave(k, 0)
        r = pearson(ref, saliency_fn(model, noisy, target)).view(n, k)
        return (r * same).sum(1) / same.sum(1)
        ### END SOLUTION
    """),
    check_cell("test_stability", 3, "checks.stability(stability)",
               "checks.stability(stability, hidden=True).require()"),
    code("""
    xs = x[:3]
    noise = 0.03 * torch.randn(xs.shape[0], 6, *xs.shape[1:], generator=torch.Generator().manual_seed(0)).to(x.device)
    for m, kw in (("gradient", {}), ("integrated_gradients", {"steps": 16})):
        fn = lambda mdl, imgs, t, m=m, kw=kw: explain(mdl, imgs, t, m, **kw).maps
        print(f"{m:>22}: stability {float(stability(model, xs, target, fn, noise).mean()):.2f}")
    """),
    md("""
    ## Explore

    The evaluation panel scores every method on the selected images at once (deletion and
    insertion AUC, stability, region fraction) and plots the curves.
    """),
    code("""
    from labkit.panels import EvaluationPanel
    from labkit.state import ExperimentState

    state = ExperimentState(data=data)
    state.add_model(baseline)
    EvaluationPanel(state)
    """),
]


# =====================================================================================
# The lecture walkthrough (notebooks/when_explanations_lie.ipynb): labkit only, no exercises
# =====================================================================================
LECTURE = [
    md("""
    # When explanations lie — the lecture walkthrough

    A small CNN learns to tell pneumonia from normal pediatric chest X-rays. We then ask
    saliency maps *why*, and test whether their answers deserve trust: do they change when
    the model is destroyed (sanity checks)? Do they reveal a shortcut we planted on purpose?
    Can we score them with numbers instead of impressions?

    Everything below uses `labkit` functions; the exercise notebooks in `exercises/` ask
    you to write the methods yourself. Set `LABKIT_FAST=1` for a quick run on 32 × 32
    images and a few hundred training images (that is how CI runs this notebook; its
    numbers are not the lab's).
    """),
    code("""
    import torch
    import matplotlib.pyplot as plt

    from labkit.checks.lab import fast_mode, lab_data, lab_model, show_maps
    from labkit.explain import explain, list_explainers

    torch.manual_seed(0)
    data = lab_data()
    CAM = {"layer": "features.relu3"}     # Grad-CAM on the output of the last conv block (after BatchNorm and ReLU)
    print("fast mode" if fast_mode() else "lab mode")
    print(data.summary())
    """),
    md("""
    ## 1. Data

    PneumoniaMNIST (MedMNIST, CC BY 4.0): official splits of 4708 / 524 / 624 images,
    about three pneumonia images for every normal one. Pixels are scaled to [−1, 1], so
    **0.0 is mid-gray and −1.0 is black** — this matters later for baselines, occlusion
    fills and Gradient × Input.
    """),
    code("""
    test = data["test"]
    fig, axes = plt.subplots(2, 6, figsize=(9, 3.2))
    for row, label in enumerate((0, 1)):
        for ax, i in zip(axes[row], (test.labels == label).nonzero().flatten()[:6].tolist()):
            ax.imshow(test.images[i, 0].cpu(), cmap="gray", vmin=-1, vmax=1)
            ax.set_title(data.class_names[label], fontsize=8)
            ax.axis("off")
    plt.tight_layout()
    plt.show()
    """),
    md("""
    ## 2. A baseline classifier, judged with clinical metrics

    Three conv blocks and a small MLP head, Adam at 1e-3. `lab_model` trains it once and
    caches it. Report **sensitivity** (pneumonia found), **specificity** (normal cleared),
    balanced accuracy, AUROC and the confusion matrix: on this test set a model that always
    says *pneumonia* already reaches 62.5 % accuracy. The reference tutorial's model at
    64 px reached accuracy 0.875, sensitivity 0.987, specificity 0.688, balanced accuracy
    0.838 and AUROC 0.941: sensitive, but it over-calls pneumonia.
    """),
    code("""
    from labkit.train import ClinicalMetrics

    baseline = lab_model(data, "baseline")
    model = baseline.model
    m = baseline.metrics["test"]
    print(ClinicalMetrics(**{k: tuple(map(tuple, v)) if k == "confusion" else v for k, v in m.items()}).summary())
    """),
    md("""
    ## 3. Saliency maps

    All methods share one call, `explain(model, x, target, method, **params)`, and return
    `(N, H, W)` maps. Gradient, Gradient × Input, SmoothGrad and Integrated Gradients
    differentiate the class logit; occlusion measures the drop of the class probability
    under a gray patch; Grad-CAM weights a conv layer's feature maps by their mean
    gradient. Each map below is scaled to its own maximum — for display only.
    """),
    code("""
    print(list_explainers())
    idx = torch.cat([(test.labels == 0).nonzero().flatten()[:1], (test.labels == 1).nonzero().flatten()[:3]])
    x, target = test.images[idx], 1
    with torch.no_grad():
        p = model(x).softmax(1)[:, 1]
    titles = [f"{data.class_names[int(test.labels[i])]}, p={q:.2f}" for i, q in zip(idx.tolist(), p.tolist())]
    methods = {"gradient": {}, "grad_x_input": {}, "smoothgrad": {"n_samples": 16},
               "integrated_gradients": {"steps": 32}, "occlusion": {}, "gradcam": CAM, "guided_backprop": {}}
    maps = {name: explain(model, x, target, name, **kw).maps for name, kw in methods.items()}
    show_maps(x, maps, titles)
    """),
    md("""
    The baseline of Integrated Gradients is a choice: compared with mid-gray, or with black?
    Completeness holds for both — the attributions add up to f(x) − f(x′) — but they answer
    different questions, and pixels equal to the baseline always get zero.
    """),
    code("""
    for baseline_kind in ("gray", "black"):
        a = explain(model, x, target, "integrated_gradients", baseline=baseline_kind, steps=32)
        print(f"{baseline_kind:>5}: largest completeness gap {float(a.extras['completeness_gap'].abs().max()):.2e}")
    show_maps(x, {f"IG {b}": explain(model, x, target, "integrated_gradients", baseline=b).signed
                  for b in ("gray", "black")}, titles, signed=("IG gray", "IG black"))
    """),
    md("""
    ## 4. Sanity checks

    **Cascading model randomization** (Adebayo et al., 2018): re-initialize the layers from
    the output down, one more at each step, and compare each map with the original (Spearman
    rank correlation of the absolute maps). A method whose map survives the randomization of
    the layers that make the decision is not explaining the decision. Expected: Gradient and
    Grad-CAM decorrelate; Guided Backprop stays similar.
    """),
    code("""
    from labkit.sanity import run_cascade

    result = run_cascade(model, x[1:], target, methods=("gradient", "gradcam", "guided_backprop"),
                         method_params={"gradcam": CAM})
    print(result.to_text(metrics=("spearman_abs",)))
    for method in result.methods:
        plt.plot(result.layers, result.values(method).nanmean(1), marker="o", label=method)
    plt.axhline(0, color="gray", lw=0.5)
    plt.xticks(rotation=30)
    plt.ylabel("Spearman with the original map")
    plt.legend()
    plt.show()
    """),
    md("""
    **Data randomization**: the same network trained until it memorized permuted labels has
    learned nothing about pneumonia. A faithful method gives it a very different map.
    """),
    code("""
    from labkit.sanity import spearman

    memorizer = lab_model(data, "random-labels")
    print(f"memorized {memorizer.metrics['train_acc']:.0%} of the permuted labels; "
          f"test AUROC {memorizer.metrics['test']['auroc']:.2f}")
    for method in ("gradient", "gradcam", "guided_backprop"):
        kw = CAM if method == "gradcam" else {}
        a = explain(model, x, target, method, **kw).maps
        b = explain(memorizer.model, x, target, method, **kw).maps
        print(f"{method:>16}: Spearman baseline vs random labels {float(spearman(a, b).nanmean()):+.2f}")
    """),
    md("""
    ## 5. A planted shortcut

    An 8 × 8 white square, top-left on pneumonia images and bottom-right on normal ones,
    is all a model needs. The reference lab's shortcut model: accuracy 1.000 on marked test
    images, 0.671 on clean ones; removing the marker from one image moved it from
    p(pneumonia) = 1.0 to 0.40. Which maps put their mass on the marker? (Reference shares
    of saliency inside the marker: occlusion ≈ 1.00, IG 0.57, SmoothGrad 0.27, Gradient
    0.26, Grad-CAM 0.02.)
    """),
    code("""
    from labkit.data import CornerSquare
    from labkit.evaluate import region_fraction

    corner = CornerSquare()
    shortcut = lab_model(data, "shortcut", corner)
    print(f"accuracy: marked {shortcut.metrics['test_marked']['accuracy']:.3f}, "
          f"clean {shortcut.metrics['test']['accuracy']:.3f}")
    marked = test.with_marker(corner)
    pn = (marked.labels == 1).nonzero().flatten()[:4]
    xm, mask = marked.images[pn], corner.mask(marked.labels[pn], data.size)
    with torch.no_grad():
        drop = shortcut.model(xm).softmax(1)[:, 1] - shortcut.model(test.images[pn]).softmax(1)[:, 1]
    print("p(pneumonia) lost when the marker is removed:", [round(v, 2) for v in drop.tolist()])
    settings = {"occlusion": {}, "integrated_gradients": {"steps": 16}, "smoothgrad": {"n_samples": 8},
                "gradient": {}, "gradcam": {"layer": "features.relu3"}}
    for method, kw in settings.items():
        share = float(region_fraction(explain(shortcut.model, xm, 1, method, **kw).maps, mask).mean())
        print(f"{method:>22}: {share:.2f} of the saliency inside the marker")
    """),
    code("""
    show_maps(xm[:3], {m: explain(shortcut.model, xm[:3], 1, m, **settings[m]).maps for m in ("gradient", "occlusion", "gradcam")})
    """),
    md("""
    ## 6. Scoring explanations

    **Deletion**: remove pixels in the map's order (fill 0.0, mid-gray) and track the class
    probability; the faster it falls, the lower the area, the better the map found what the
    model uses. **Insertion** is the mirror (start from a blurred image; higher is better).
    **Stability**: correlation between the map of an image and maps of copies with noise
    σ = 0.03 that keep the prediction (reference: Gradient 0.74, IG 0.86).
    """),
    code("""
    from labkit.evaluate import deletion_curve, insertion_curve, stability

    xs = x[1:]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for method, kw in (("gradient", {}), ("integrated_gradients", {"steps": 16}), ("occlusion", {}), ("gradcam", CAM)):
        s = explain(model, xs, target, method, **kw).maps
        d, i = deletion_curve(model, xs, target, s, steps=16), insertion_curve(model, xs, target, s, steps=16)
        axes[0].plot(d.fractions, d.scores.mean(0), label=f"{method} ({float(d.auc.mean()):.2f})")
        axes[1].plot(i.fractions, i.scores.mean(0), label=f"{method} ({float(i.auc.mean()):.2f})")
    for ax, title in zip(axes, ("deletion (lower is better)", "insertion (higher is better)")):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("fraction of pixels")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("p(target)")
    plt.show()
    """),
    code("""
    for method, kw in (("gradient", {}), ("integrated_gradients", {"steps": 16})):
        r = stability(model, xs, target, method, sigma=0.03, n=6, **kw)
        print(f"{method:>22}: stability {float(r.correlation.nanmean()):.2f}")
    """),
    md("""
    ## 7. What to take home

    * Validate externally, and report clinical metrics, not accuracy alone.
    * Run the randomization and label sanity checks before believing any map.
    * Test robustness to small perturbations.
    * Look for attribution on artifacts, borders and burned-in text; compare several methods.
    * Have clinicians review the maps, and record the provenance of data and models.
    * Explanations are debugging tools, not proof that a model is valid.
    """),
]

NOTEBOOKS = {
    "01_data_and_metrics": NB01,
    "02_saliency_from_scratch": NB02,
    "03_sanity_checks": NB03,
    "04_shortcut_learning": NB04,
    "05_quantitative_evaluation": NB05,
}


def build(name: str, cells: list[dict]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    for i, c in enumerate(cells):
        make = nbformat.v4.new_markdown_cell if c["type"] == "markdown" else nbformat.v4.new_code_cell
        cell = make(c["source"])
        cell.id = f"{name[:2]}-{i:02d}"
        if "nbgrader" in c:
            cell.metadata["nbgrader"] = {**c["nbgrader"], "schema_version": 3}
        nb.cells.append(cell)
    return nb


def main(argv: list[str]) -> int:
    wanted = set(argv) or set(NOTEBOOKS) | {"lecture"}
    for name, cells in NOTEBOOKS.items():
        if name in wanted or name[:2] in wanted:
            path = HERE / f"{name}.ipynb"
            nbformat.write(build(name, cells), str(path))
            print(f"wrote {path}")
    if "lecture" in wanted:
        path = LECTURE_PATH
        nb = build("le", LECTURE)
        nb.metadata["title"] = "When explanations lie — lecture walkthrough"
        nbformat.write(nb, str(path))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
