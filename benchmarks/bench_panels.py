"""Slider change → heatmap updated: latency of the ExplainerSelector on this CPU.

Run: ``python benchmarks/bench_panels.py [--changes 50] [--methods gradient,gradcam] [--threads N]``

Measured headless through the panel's synchronous render path (``debounce=0``:
setting a widget's ``.value`` returns once the new PNG is in the ``Image``
widget). SmallCNN (width 16, the lab default; weights as initialized — latency
does not depend on training) at 64×64, one image, default method parameters.

Two kinds of slider:

* display slider (opacity): the attribution is cached, only the overlay is
  re-encoded (colour table + Pillow PNG);
* image slider: a new image, so the map is recomputed, then encoded.

The reference is the usual notebook way: one matplotlib figure per change
(``imshow`` of the image and of the map, ``savefig`` to PNG), timed in the same
run on the same maps; the ratio is reference p50 / panel p50.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit.checkpoint import ModelEntry  # noqa: E402
from labkit.data import find_file, load_phantom, load_pneumonia  # noqa: E402
from labkit.explain import explain  # noqa: E402
from labkit.models import build_model  # noqa: E402
from labkit.panels import ExplainerSelector  # noqa: E402
from labkit.render import matplotlib_overlay_png  # noqa: E402
from labkit.session import ExperimentState  # noqa: E402

GRADIENT_FAMILY = ("gradient", "grad_x_input", "smoothgrad", "integrated_gradients", "guided_backprop")
CAMS = ("gradcam", "gradcam_pp")
PERTURBATION = ("occlusion", "occlusion[stride=8]", "scorecam")
#: Targets for "image slider" (recompute) latency; every display-slider change should stay under 100 ms.
TARGET_MS = {**{m: 100.0 for m in GRADIENT_FAMILY + CAMS}, **{m: 250.0 for m in PERTURBATION}}
DISPLAY_TARGET_MS = 100.0


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def timed(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def make_state() -> ExperimentState:
    state = ExperimentState(device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state.data = (load_pneumonia(64, download=False, device="cpu") if find_file(28) or find_file(64)
                      else load_phantom(64, device="cpu"))
    torch.manual_seed(0)
    state.add_model(ModelEntry("bench", "small_cnn", build_model("small_cnn", width=16), kwargs={"width": 16}))
    return state


def parse_method(text: str) -> tuple[str, dict[str, object]]:
    """``"occlusion[stride=8]"`` → ``("occlusion", {"stride": 8})``."""
    if "[" not in text:
        return text, {}
    name, rest = text.rstrip("]").split("[", 1)
    params: dict[str, object] = {}
    for item in rest.split(";"):
        k, v = item.split("=")
        params[k] = int(v) if v.lstrip("-").isdigit() else float(v) if v.replace(".", "", 1).lstrip("-").isdigit() else v
    return name, params


def bench_method(state: ExperimentState, spec: str, n: int) -> dict[str, float]:
    method, params = parse_method(spec)
    panel = ExplainerSelector(state, methods=(method,), debounce=0, progressive=False)  # full maps only
    state.selection.image_index = 0
    for k, v in params.items():  # set through the panel's own parameter widgets
        panel.param_widgets[method][k].value = v
    panel.refresh()
    img = panel.images[method]
    for _ in range(3):  # warm-up
        panel.opacity.value = 0.3 if panel.opacity.value != 0.3 else 0.6

    def display(i: int) -> None:
        before = img.value
        panel.opacity.value = 0.2 + 0.6 * ((i % 2) == 0) + 0.001 * i
        assert img.value != before

    def new_image(i: int) -> None:
        before = img.value
        panel.index.value = 1 + i  # a new image every time: cache miss, recompute
        assert img.value != before

    d = timed(display, n)
    r = timed(new_image, n)
    assert panel.status.kind != "error", panel.status.text
    x, _ = state.selection.current_image()
    smap = explain(state.model(), x, state.selection.target, method, **params).maps[0]
    ref = timed(lambda i: matplotlib_overlay_png(x, smap, alpha=0.3 + 0.01 * i), n)
    panel.close()
    return {"display_p50": percentile(d, 0.5), "display_p95": percentile(d, 0.95),
            "image_p50": percentile(r, 0.5), "image_p95": percentile(r, 0.95),
            "mpl_p50": percentile(ref, 0.5), "mpl_p95": percentile(ref, 0.95)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=50, help="slider changes per measurement (default 50)")
    ap.add_argument("--methods", default=",".join(GRADIENT_FAMILY + CAMS + PERTURBATION))
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    state = make_state()
    print(f"ExplainerSelector slider → image updated; SmallCNN width 16, {state.data.name} 64×64, CPU, "
          f"{torch.get_num_threads()} torch thread(s), {args.changes} changes each; times in ms")
    print(f"{'method':<22}{'display p50':>12}{'p95':>8}{'image p50':>11}{'p95':>8}{'target':>13}"
          f"{'mpl fig p50':>13}{'p95':>8}{'mpl/display':>13}")
    ratios = []
    for m in args.methods.split(","):
        r = bench_method(state, m, args.changes)
        ratio = r["mpl_p50"] / r["display_p50"]
        ratios.append(ratio)
        ok = "ok" if r["image_p95"] <= TARGET_MS.get(m, 250.0) else "over"
        ok_display = "ok" if r["display_p95"] <= DISPLAY_TARGET_MS else "over"
        print(f"{m:<22}{r['display_p50']:>12.1f}{r['display_p95']:>8.1f}{r['image_p50']:>11.1f}{r['image_p95']:>8.1f}"
              f"{TARGET_MS.get(m, 250):>6.0f} {ok:<5}{ok_display:<4}{r['mpl_p50']:>10.1f}{r['mpl_p95']:>8.1f}"
              f"{ratio:>12.1f}×")
    print(f"target: image-slider p95 ≤ the target column (first ok/over); display-slider p95 ≤ "
          f"{DISPLAY_TARGET_MS:.0f} ms (second ok/over)")
    print(f"display slider: PNG path is {statistics.median(ratios):.1f}× faster than a matplotlib figure per change "
          "(median over methods)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
