"""Students in JupyterLab 4: an exercise notebook's checks and a panel, in headless Chromium.

A real ``jupyter lab`` serves copies of the exercise notebooks (fast mode: 32×32 data,
small cached models). In ``01_data_and_metrics`` the test runs the setup cell, types a
correct ``confusion`` and runs its check (the HTML feedback shows the points), then a
transposed one (the feedback names the mistake). In ``02_saliency_from_scratch`` it
runs the setup cell and the explainer panel, and moves the panel's image slider: the
image must change. Cells are found by their text, not their position.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Locator, Page, sync_playwright

from harness import CHROMIUM_ARGS, stop_group
from labkit.hub import free_ports

REPO_ROOT = Path(__file__).resolve().parents[2]
EXERCISES = REPO_ROOT / "exercises"
CORRECT = ("import numpy as np\n\n\ndef confusion(labels, preds):\n"
           "    labels, preds = np.asarray(labels), np.asarray(preds)\n"
           "    return np.array([[np.sum((labels == t) & (preds == p)) for p in (0, 1)] for t in (0, 1)])\n")
TRANSPOSED = CORRECT.replace("for p in (0, 1)] for t in (0, 1)]", "for t in (0, 1)] for p in (0, 1)]")

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


def test_a_check_cell_gives_points_for_a_correct_answer_and_names_a_mistake(page: Page, lab: str) -> None:
    open_notebook(page, lab, "01_data_and_metrics.ipynb")
    out = run(cell(page, "data = lab_data()"))
    assert "pneumoniamnist" in out.inner_text().lower()
    solution, check = cell(page, "def confusion(labels, preds)"), cell(page, "checks.confusion(confusion)")
    set_source(solution, CORRECT)
    run(solution)
    feedback = run(check).locator(".labkit-check")
    feedback.wait_for(timeout=30_000)
    text = feedback.inner_text()
    assert "1 / 1 points" in text, text
    set_source(solution, TRANSPOSED)
    run(solution)
    feedback = run(check).locator(".labkit-check")
    text = feedback.inner_text()
    assert "0 / 1 points" in text and "transpose" in text, text
    assert "Traceback" not in page.inner_text(".jp-Notebook")


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
    box = out.bounding_box()
    scroller = out.evaluate("el => el.scrollWidth - el.clientWidth")
    print(f"explainer output {box['width']:.0f} px wide, horizontal overflow {scroller} px")
