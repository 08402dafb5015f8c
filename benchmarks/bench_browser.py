"""Key press → new heatmap in the page: latency of the Voilà lecture app in a real browser.

Same harness as ``tests/browser``: Voilà serves ``labkit/notebooks/lab_app.ipynb`` exactly
as ``labkit app`` does (``voila_command``, without the preheated spare kernel) with the zoo's pre-trained models
(``LABKIT_APP_PRETRAINED=1``, cached on this machine) or the models of ``--checkpoint``, and Debian's Chromium (the
``chromium`` on PATH, ``CHROMIUM_ARGS``) is driven by Playwright; no browser is downloaded.

In the Explain tab each method is shown alone. Per key press (ArrowRight on the focused
handle of the image slider: a new image, so the map is recomputed), the time from the
``keydown`` in the page to the ``load`` of the method's heatmap ``<img>``: the *first paint*
(a preview for progressive methods, whose caption says "preview: …") and the *final map*
(the load whose caption says "full: …"; the same as the first paint for methods without a
preview). Then the same presses on the opacity slider (display only: the map is cached).
The reference in the same run is that display-only round trip (kernel, comm, PNG, browser
decode with no map computed); ``first/display`` is the ratio of the p50s. Latent Shift
(``latent_shift``, in the Counterfactual tab with the cached pre-trained autoencoder) is
timed from a click on *Make movie* to the load of its map overlay, preview and full.

Cancellation: for each progressive method, ``--burst`` presses 50 ms apart (faster than
a full map), five times; the time from the last press of a burst to the final map, and
how many full maps of the method were painted after that press (1 when every older
refinement was cancelled; an uncancelled one would be painted late, over the newer image).

Targets (2-core CPU): first paint p95 ≤ 150 ms for every method, final occlusion 8/4
(the default patch 8, stride 4) p95 ≤ 400 ms.

Usage: LABKIT_DATA_DIR=... python benchmarks/bench_browser.py [--methods gradient,occlusion,latent_shift] [--presses 20]
       [--threads 1] [--burst 5] [--checkpoint DIR]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))
sys.path.insert(0, str(REPO))

from harness import CHROMIUM_ARGS, stop_group, wait_usable  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from labkit.commands.app import notebook_path, voila_command  # noqa: E402
from labkit.explain import get_explainer, list_explainers  # noqa: E402

FIRST_PAINT_TARGET_MS = 150.0
FINAL_TARGET_MS = {"occlusion": 400.0}
#: Records each keydown and each heatmap load (with the caption of its tile at that moment).
INSTRUMENT = """() => {
  if (window.__lk) return;
  window.__lk = {key: 0, loads: []};
  for (const what of ['keydown', 'click'])
    document.addEventListener(what, () => { window.__lk.key = performance.now(); }, true);
  document.addEventListener('load', e => {
    const img = e.target;
    if (!(img instanceof HTMLImageElement)) return;
    const movie = img.classList.contains('labkit-cf-map');
    if (!movie && !img.classList.contains('labkit-heatmap')) return;
    const cap = movie ? document.querySelector('.labkit-cf-caption')
                      : img.parentElement && img.parentElement.querySelector('.labkit-caption');
    window.__lk.loads.push({t: performance.now(), cls: img.className, caption: cap ? cap.innerText : ''});
  }, true);
}"""
MODELS_LOADED = "() => /[1-9][0-9]* model/.test(document.querySelector('.labkit-header').innerText)"
FULL_AFTER = """([k, cls]) => window.__lk.loads.some(
  l => l.t > k && l.cls.includes(cls) && l.caption.startsWith('full'))"""
BURST_GAP_MS = 50
STATUS_DONE = "() => /done in/.test(document.querySelector('.labkit-status').innerText)"
DONE = """([n, cls, final]) => window.__lk.loads.slice(n).some(
  l => l.cls.includes(cls) && (!final || l.caption.startsWith('full')))"""


def explainer_methods() -> list[str]:
    """Every registered method the explainer panel offers (Latent Shift has its own viewer)."""
    return [m for m in list_explainers() if not get_explainer(m).needs]


def timed_loads(page: Page, cls: str, final: bool, act) -> tuple[float, float]:
    """Run ``act()`` (a key press or a click); (first load, final load) of an image with class ``cls``, in ms."""
    count = page.evaluate("() => window.__lk.loads.length")
    act()
    page.wait_for_function(DONE, arg=[count, cls, final], timeout=120_000)
    key, loads = page.evaluate("n => [window.__lk.key, window.__lk.loads.slice(n)]", count)
    mine = [lo for lo in loads if cls in lo["cls"]]
    last = next(lo["t"] for lo in mine if not final or lo["caption"].startswith("full"))
    return mine[0]["t"] - key, last - key


def progressive(method: str) -> bool:
    return any(p.coarse is not None for p in get_explainer(method).params)


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_voila(folder: Path, threads: int, checkpoint: str | None) -> tuple[subprocess.Popen, str]:
    """The lecture app on a free port with the pre-trained models (or ``checkpoint``'s); its URL once the port
    answers."""
    port = free_port()
    models = ({"LABKIT_APP_CHECKPOINT": str(Path(checkpoint).resolve())} if checkpoint
              else {"LABKIT_APP_PRETRAINED": "1"})
    env = {**os.environ, **models, "LABKIT_APP_DATASET": "pneumoniamnist", "LABKIT_APP_DEVICE": "cpu",
           "LABKIT_APP_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "PYTHONWARNINGS": "ignore"}
    with open(folder / "voila.log", "wb") as log:
        # no preheated spare kernel: its refill (FILL_DELAY s after the page took the first) would compete
        # with the measured kernel for the CPU in the middle of the presses
        proc = subprocess.Popen(voila_command(notebook_path(), port, ip="127.0.0.1", no_browser=True, preheat=False),
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder, start_new_session=True)
    end = time.monotonic() + 60
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}/"
        if proc.poll() is not None or time.monotonic() > end:
            stop_group(proc)
            raise SystemExit(f"Voilà did not start:\n{(folder / 'voila.log').read_text()[-3000:]}")
        time.sleep(0.2)


def tab(page: Page, title: str) -> None:
    """Open the app's tab called ``title`` ("2 · Explain")."""
    page.get_by_text(re.compile(rf"^\d+ · {title}$")).click()


def show_only(page: Page, method: str) -> None:
    """Select ``method`` alone in the explainer and wait for its final map."""
    n = page.evaluate("() => window.__lk.loads.length")
    page.locator(".labkit-methods select").filter(visible=True).select_option(label=[get_explainer(method).label])
    page.wait_for_function(DONE, arg=[n, f"labkit-heatmap-{method}", progressive(method)], timeout=120_000)


def presses(page: Page, slider: str, method: str, n: int, final: bool) -> tuple[list[float], list[float]]:
    """``n`` key presses on ``slider``'s handle: (first paint, final map) latencies in ms."""
    handle = page.locator(f"{slider} .noUi-handle").filter(visible=True).first
    handle.focus()
    first, last = [], []
    for i in range(n):
        key = "ArrowRight" if slider == ".labkit-image-index" or i % 2 == 0 else "ArrowLeft"
        a, b = timed_loads(page, f"labkit-heatmap-{method}", final, lambda: handle.press(key))
        first.append(a)
        last.append(b)
        page.wait_for_timeout(50)  # let stray messages of this press land before the next one
    return first, last


def bursts(page: Page, method: str, size: int, rounds: int = 5) -> tuple[list[float], list[int]]:
    """``rounds`` bursts of ``size`` presses ``BURST_GAP_MS`` apart on the image slider: (last press → final map
    in ms, full maps painted after the last press) per burst."""
    handle = page.locator(".labkit-image-index .noUi-handle").filter(visible=True).first
    handle.focus()
    cls = f"labkit-heatmap-{method}"
    latency, painted = [], []
    for _ in range(rounds):
        for _ in range(size):
            handle.press("ArrowRight")
            page.wait_for_timeout(BURST_GAP_MS)
        key = page.evaluate("() => window.__lk.key")
        page.wait_for_function(FULL_AFTER, arg=[key, cls], timeout=120_000)
        page.wait_for_timeout(1500)  # a late full map of an older image (one not cancelled) would land too
        full = [lo["t"] for lo in page.evaluate("k => window.__lk.loads.filter(l => l.t > k)", key)
                if cls in lo["cls"] and lo["caption"].startswith("full")]
        latency.append(max(full) - key)
        painted.append(len(full))
    return latency, painted


def movie_clicks(page: Page, n: int) -> tuple[list[float], list[float]]:
    """``n`` clicks on *Make movie* (Counterfactual tab): (preview map, full map) latencies in ms."""
    tab(page, "Counterfactual")
    page.get_by_role("button", name="Pre-trained autoencoder").click()
    page.wait_for_function("() => /autoencoder ready/.test(document.querySelector('.labkit-status').innerText)",
                           timeout=600_000)
    button = page.get_by_role("button", name="Make movie")
    first, last = [], []
    for _ in range(n):
        a, b = timed_loads(page, "labkit-cf-map", True, button.click)
        page.wait_for_function(STATUS_DONE, timeout=60_000)  # the job has ended: the next click starts one
        first.append(a)
        last.append(b)
    tab(page, "Explain")
    return first, last


def run(methods: list[str], n: int, threads: int, checkpoint: str | None = None, burst: int = 0) -> list[dict]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found on PATH: install Debian's chromium (bash scripts/setup.sh)")
    folder = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    proc, url = start_voila(folder, threads, checkpoint)
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS, timeout=30_000)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url, timeout=120_000, wait_until="domcontentloaded")
                wait_usable(page, 180_000)
                page.wait_for_function(MODELS_LOADED, timeout=180_000)
                page.evaluate(INSTRUMENT)
                tab(page, "Explain")
                for m in methods:
                    if m == "latent_shift":
                        first, final = movie_clicks(page, n)
                        display: list[float] = []
                    else:
                        show_only(page, m)
                        first, final = presses(page, ".labkit-image-index", m, n, progressive(m))
                        display, _ = presses(page, ".labkit-opacity", m, n, final=False)
                    rows.append({"method": m, "progressive": progressive(m), "first": first, "final": final,
                                 "display": display})
                    if burst and progressive(m) and m != "latent_shift":
                        rows[-1]["burst"] = bursts(page, m, burst)
                    print(f"  {m}: done", flush=True)
            finally:
                browser.close()
    finally:
        stop_group(proc)
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def report(rows: list[dict], n: int, threads: int, load: tuple[float, ...], models: str) -> None:
    print(f"Voilà app in headless Chromium, key press → heatmap loaded; {models}, "
          f"PneumoniaMNIST 64×64, CPU, {threads} torch thread(s) in the kernel, {n} presses each; ms")
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"{'method':<22}{'first p50':>10}{'p95':>7}{'final p50':>11}{'p95':>7}{'display p50':>13}{'p95':>7}"
          f"{'first/display':>15}  targets")
    for r in rows:
        f50, f95 = percentile(r["first"], 0.5), percentile(r["first"], 0.95)
        l50, l95 = percentile(r["final"], 0.5), percentile(r["final"], 0.95)
        d50, d95 = (percentile(r["display"], 0.5), percentile(r["display"], 0.95)) if r["display"] else (0, 0)
        verdict = f"first {'ok' if f95 <= FIRST_PAINT_TARGET_MS else 'over'}"
        if r["method"] in FINAL_TARGET_MS:
            verdict += f", final {'ok' if l95 <= FINAL_TARGET_MS[r['method']] else 'over'}"
        final = f"{l50:>11.0f}{l95:>7.0f}" if r["progressive"] else f"{'(same)':>11}{'':>7}"
        display = f"{d50:>13.0f}{d95:>7.0f}{f50 / d50:>15.2f}" if d50 else f"{'(click)':>13}{'':>22}"
        print(f"{r['method']:<22}{f50:>10.0f}{f95:>7.0f}{final}{display}  {verdict}")
    everything = [v for r in rows for v in r["first"]]
    print(f"all first paints: median {statistics.median(everything):.0f} ms, "
          f"p95 {percentile(everything, 0.95):.0f} ms over {len(everything)} presses")
    burst_rows = [r for r in rows if "burst" in r]
    if burst_rows:
        print(f"bursts of presses {BURST_GAP_MS} ms apart: last press → final map, vs one press's final map")
        print(f"{'method':<22}{'burst p50':>10}{'p95':>7}{'single p50':>12}{'burst/single':>14}  full maps painted")
        for r in burst_rows:
            latency, painted = r["burst"]
            b50, single = percentile(latency, 0.5), percentile(r["final"], 0.5)
            print(f"{r['method']:<22}{b50:>10.0f}{percentile(latency, 0.95):>7.0f}{single:>12.0f}"
                  f"{b50 / single:>14.2f}  {painted} after the last press")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default=",".join(explainer_methods() + ["latent_shift"]),
                    help="comma-separated methods (default: every registered one)")
    ap.add_argument("--presses", type=int, default=20, help="key presses per method and slider (default 20)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the app kernel (default 1)")
    ap.add_argument("--burst", type=int, default=5,
                    help="presses per burst for the cancellation check of progressive methods (0: none)")
    ap.add_argument("--checkpoint", help="checkpoint folder whose models the app opens on (default: the zoo's "
                                         "pre-trained SmallCNN baseline and shortcut models)")
    args = ap.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    known = explainer_methods() + ["latent_shift"]
    unknown = sorted(set(methods) - set(known))
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; choose from {known}")
    load = os.getloadavg()
    rows = run(methods, args.presses, args.threads, args.checkpoint, args.burst)
    models = f"models of {args.checkpoint}" if args.checkpoint else "SmallCNN (pre-trained baseline)"
    report(rows, args.presses, args.threads, load, models)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
