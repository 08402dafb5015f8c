"""Students in JupyterLab 4: an exercise notebook's checks and a panel, in headless Chromium.

A real ``jupyter lab`` serves copies of the exercise notebooks (fast mode: 32×32 data,
small cached models). In ``01_data_and_metrics`` the test runs the setup cell, runs the
check on the untouched stub (backticked code in the feedback is rendered as code), types
a correct ``confusion`` and runs its check (the HTML feedback shows the points, and no
bare number sits under it), then a transposed one (the feedback names the mistake); the
feedback text's WCAG contrast is measured on the page in the light and the dark theme.
In ``02_saliency_from_scratch`` it runs the setup cell and the explainer panel, moves the
panel's image slider (the image must change) and checks that nothing in the output area
scrolls sideways at three window widths. Cells are found by their text, not their position.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Locator, Page, sync_playwright

import contrast
from harness import CHROMIUM_ARGS, stop_group
from labkit.hub import free_ports

REPO_ROOT = Path(__file__).resolve().parents[2]
EXERCISES = REPO_ROOT / "exercises"
CORRECT = ("import numpy as np\n\n\ndef confusion(labels, preds):\n"
           "    labels, preds = np.asarray(labels), np.asarray(preds)\n"
           "    return np.array([[np.sum((labels == t) & (preds == p)) for p in (0, 1)] for t in (0, 1)])\n")
TRANSPOSED = CORRECT.replace("for p in (0, 1)] for t in (0, 1)]", "for t in (0, 1)] for p in (0, 1)]")

#: For each element of a check's report with text of its own: its text colour and the colour
#: behind it (every ancestor's background composited, from the page down).
TEXT_COLORS_JS = """root => {
  const parse = s => { const p = s.match(/[\\d.]+/g).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (t, b) => [0, 1, 2].map(i => t[i] * t[3] + b[i] * (1 - t[3])).concat([1]);
  return [root, ...root.querySelectorAll('*')]
    .filter(el => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
    .map(el => {
      const chain = []; for (let e = el; e; e = e.parentElement) chain.unshift(e);
      const bg = chain.reduce((b, e) => over(parse(getComputedStyle(e).backgroundColor), b), [255, 255, 255, 1]);
      return {tag: el.tagName, text: el.textContent.trim().slice(0, 40), fg: parse(getComputedStyle(el).color), bg};
    });
}"""
#: Elements of an output area that scroll sideways or reach past its right edge.
OVERFLOW_JS = """area => {
  const right = area.getBoundingClientRect().right;
  return [area, ...area.querySelectorAll('*')].filter(e => {
    const x = getComputedStyle(e).overflowX;
    const scrolls = e.scrollWidth > e.clientWidth && (x === 'auto' || x === 'scroll');
    return scrolls || e.getBoundingClientRect().right > right + 0.5;
  }).map(e => `${e.tagName}.${String(e.className).split(' ').slice(-2).join('.')} ${e.scrollWidth}>${e.clientWidth}`);
}"""

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[str]:
    """URL of a JupyterLab serving copies of the exercises (no token, loopback only)."""
    root = tmp_path_factory.mktemp("lab")
    for name in ("01_data_and_metrics.ipynb", "02_saliency_from_scratch.ipynb"):
        shutil.copy(EXERCISES / name, root / name)
    settings = root / ".settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)  # every cell in the DOM, so cells can be found by their text
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    (port,) = free_ports(1)
    env = {**os.environ, "LABKIT_DATA_DIR": str(data_dir), "LABKIT_FAST": "1",
           "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"), "JUPYTERLAB_WORKSPACES_DIR": str(root / ".ws"),
           "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.allow_root=True",
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(root / "lab.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        end = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "api/status", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > end:
                    pytest.fail(f"JupyterLab did not start:\n{(root / 'lab.log').read_text()[-3000:]}", pytrace=False)
                time.sleep(0.3)
        yield url
    finally:
        stop_group(proc)
        log.close()


@pytest.fixture(scope="module")
def page(lab: str, chromium: str) -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS, timeout=30_000)
        yield browser.new_page(viewport={"width": 1400, "height": 1000})
        browser.close()


def open_notebook(page: Page, lab: str, name: str) -> None:
    page.goto(f"{lab}lab/tree/{name}?reset", wait_until="domcontentloaded", timeout=60_000)  # only this notebook
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)


def cell(page: Page, text: str) -> Locator:
    """The one code cell whose source contains ``text``."""
    found = page.locator(".jp-Notebook .jp-CodeCell").filter(
        has=page.locator(".jp-InputArea .cm-content", has_text=text))
    found.first.wait_for(state="attached", timeout=30_000)
    assert found.count() == 1, f"expected one code cell containing {text!r}, found {found.count()}"
    return found


def run(c: Locator, timeout_ms: int = 120_000) -> Locator:
    """Run a cell (Ctrl+Enter in its editor) and wait until it has finished; returns its output area.

    The key press is repeated while the prompt shows the cell neither queued nor run
    (a notebook whose kernel is still connecting drops it).
    """
    page = c.page
    prompt = c.locator(".jp-InputArea-prompt").element_handle()
    before = prompt.inner_text()
    for _ in range(5):
        c.locator(".cm-content").click()
        page.keyboard.press("Control+Enter")
        try:
            page.wait_for_function("([el, old]) => el.innerText !== old", arg=[prompt, before], timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - not queued: press again
            continue
    try:
        page.wait_for_function("([el, old]) => /\\[\\d+\\]/.test(el.innerText) && el.innerText !== old",
                               arg=[prompt, before], timeout=timeout_ms)
    except Exception:
        (REPO_ROOT / "test-output").mkdir(exist_ok=True)
        page.screenshot(path=str(REPO_ROOT / "test-output" / "jupyterlab-timeout.png"))
        raise
    return c.locator(".jp-OutputArea")


def set_source(c: Locator, code: str) -> None:
    """Replace a cell's source (select all, insert the text as one edit: no auto-indent)."""
    c.locator(".cm-content").click()
    c.page.keyboard.press("Control+A")
    c.page.keyboard.insert_text(code)


def image_digest(img: Locator) -> str:
    """A digest of the bytes an <img> shows (its src may be a fresh blob: URL for the same picture)."""
    return img.evaluate("""async el => {
        const bytes = new Uint8Array(await (await fetch(el.src)).arrayBuffer());
        let h = 0;
        for (const b of bytes) h = (h * 31 + b) >>> 0;
        return bytes.length + ':' + h;
    }""")


def set_theme(page: Page, name: str) -> None:
    """Switch JupyterLab's theme through its Settings menu (``"JupyterLab Dark"``, ``"JupyterLab Light"``)."""
    page.click(".lm-MenuBar-itemLabel:text-is('Settings')")
    page.hover(".lm-Menu-itemLabel:text-is('Theme')")
    page.click(f".lm-Menu-itemLabel:text-is('{name}')")
    page.wait_for_selector(f"body[data-jp-theme-name='{name}']", state="attached", timeout=30_000)
    page.wait_for_timeout(500)  # the theme's style sheet applies after the attribute changes


def text_contrasts(feedback: Locator) -> list[tuple[float, str]]:
    """WCAG contrast of each text of a check's report as the browser draws it, with the text."""
    return [(contrast.ratio(tuple(t["fg"]), tuple(t["bg"])), f"{t['tag']} {t['text']!r}")
            for t in feedback.evaluate(TEXT_COLORS_JS)]


def assert_feedback_only(out: Locator) -> Locator:
    """The check cell shows one output, the HTML report, and no bare number; returns the report."""
    feedback = out.locator(".labkit-check")
    feedback.wait_for(timeout=30_000)
    shown = out.locator(".jp-OutputArea-output")
    assert shown.count() == 1 and shown.get_attribute("data-mime-type") == "text/html", out.inner_html()[:500]
    bare = [line for line in out.inner_text().splitlines() if re.fullmatch(r"\s*\d+(\.\d+)?\s*", line)]
    assert not bare, f"a bare number under the feedback: {bare}"
    return feedback


def test_a_check_cell_gives_points_for_a_correct_answer_and_names_a_mistake(page: Page, lab: str) -> None:
    open_notebook(page, lab, "01_data_and_metrics.ipynb")
    out = run(cell(page, "data = lab_data()"))
    assert "pneumoniamnist" in out.inner_text().lower()
    solution, check = cell(page, "def confusion(labels, preds)"), cell(page, "checks.confusion(confusion)")
    run(solution)  # the stub
    feedback = assert_feedback_only(run(check))
    assert "raise NotImplementedError()" in feedback.locator("code").all_inner_texts()
    assert "`" not in feedback.inner_text(), feedback.inner_text()
    measured: dict[str, list[tuple[float, str]]] = {"light": [], "dark": []}
    set_source(solution, CORRECT)
    run(solution)
    feedback = assert_feedback_only(run(check))
    text = feedback.inner_text()
    assert "1 / 1 points" in text, text
    measured["light"] += text_contrasts(feedback)
    set_theme(page, "JupyterLab Dark")
    try:
        measured["dark"] += text_contrasts(feedback)
        set_source(solution, TRANSPOSED)
        run(solution)
        feedback = assert_feedback_only(run(check))
        text = feedback.inner_text()
        assert "0 / 1 points" in text and "transpose" in text, text
        measured["dark"] += text_contrasts(feedback)
    finally:
        set_theme(page, "JupyterLab Light")
    measured["light"] += text_contrasts(feedback)
    assert "Traceback" not in page.inner_text(".jp-Notebook")
    for theme, ratios in measured.items():
        print(f"feedback text contrast, {theme} theme: " + ", ".join(f"{r:.2f}:1 {what}" for r, what in ratios))
        assert len(ratios) >= 4 and all(r >= 4.5 for r, _ in ratios), f"{theme} theme: {ratios}"


def test_the_explainer_panel_renders_and_its_image_slider_changes_the_image(page: Page, lab: str) -> None:
    open_notebook(page, lab, "02_saliency_from_scratch.ipynb")
    t0 = time.monotonic()
    run(cell(page, "baseline = lab_model(data"), timeout_ms=300_000)  # trains the fast-mode model on first use
    print(f"setup cell of 02 ran in {time.monotonic() - t0:.1f} s")
    out = run(cell(page, "ExplainerSelector(state)"))
    original = out.locator("img.labkit-original")
    original.wait_for(state="visible", timeout=60_000)
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=original.element_handle(), timeout=30_000)
    before = image_digest(original)
    handle = out.locator(".labkit-image-index .noUi-handle").first
    handle.focus()
    for _ in range(3):
        handle.press("ArrowRight")
    end = time.monotonic() + 30
    while image_digest(original) == before and time.monotonic() < end:
        time.sleep(0.3)
    assert image_digest(original) != before, "moving the image slider did not change the image"
    assert "Traceback" not in out.inner_text()
    try:
        for width, height in ((1400, 1000), (1024, 768), (800, 700)):
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(1000)  # widgets lay out again
            overflow = out.evaluate(OVERFLOW_JS)
            print(f"window {width} px: explainer output {out.bounding_box()['width']:.0f} px wide, "
                  f"{len(overflow)} elements scroll sideways or overflow it")
            assert not overflow, f"the explainer overflows its output area at {width} px: {overflow[:5]}"
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})
