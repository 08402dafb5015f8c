"""The lecture app in a real browser: Voilà serves it, headless Chromium uses it.

The app opens on a checkpoint, as ``labkit app --checkpoint`` serves it; the seconds from
the server's start to a usable page (data, the checkpoint's model and a status line on
screen) are printed and written to ``test-output/lab_app_startup.txt`` with the load
average (a figure, not a pass/fail criterion: ``benchmarks/bench_startup.py`` compares).
Then train one epoch on a small subset through the UI, open the Explain tab, move a
slider, and check that the heatmap image changed and no error or traceback is on
screen. A screenshot goes to the test's folder and to ``test-output/``.

On a 1280×720 screen the Explain tab's first row of images (the image and its maps) is above the
fold; on a 1920×1080 projector it is too and spans most of the width; no label is cut at either.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from conftest import VoilaApp
from harness import CHROMIUM_ARGS

REPO_ROOT = Path(__file__).resolve().parents[2]
HEATMAP = "img.labkit-heatmap-gradient"


def status_text(page: Page) -> str:
    return page.inner_text(".labkit-status")


def wait_status(page: Page, needle: str, timeout_ms: int) -> None:
    page.wait_for_function(
        "needle => { const s = document.querySelector('.labkit-status'); return s && s.innerText.includes(needle); }",
        arg=needle, timeout=timeout_ms)


def assert_no_error_on_screen(page: Page) -> None:
    text = page.inner_text("body")
    assert "Traceback" not in text, text[-2000:]
    assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    assert "⚠" not in status_text(page), status_text(page)


@pytest.mark.browser
def test_lecture_app_trains_and_explains_in_chromium(voila_app: VoilaApp, chromium: str, tmp_path: Path) -> None:
    page_errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.goto(voila_app.url, timeout=60_000, wait_until="domcontentloaded")
            page.wait_for_selector(".labkit-app .labkit-status", timeout=60_000)
            page.wait_for_function(  # the data and the checkpoint's model loaded at start
                "() => { const h = document.querySelector('.labkit-header');"
                " return h && h.innerText.includes('pneumoniamnist') && h.innerText.includes('1 model(s)'); }",
                timeout=30_000)
            wait_status(page, "lecture_cnn", 10_000)
            usable = time.monotonic() - voila_app.started
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            startup = f"lecture app usable {usable:.1f} s after the server's start (load average {load})"
            print(startup)
            assert "⚠" not in status_text(page), status_text(page)  # no error at start

            # Train one epoch on the 128-image subset through the UI.
            page.click(".labkit-train-start")
            wait_status(page, "done after 1 epoch", 60_000)
            page.wait_for_selector("img.labkit-curves[src]", timeout=15_000)
            page.get_by_text("Clinical metrics of baseline").wait_for(timeout=15_000)  # metrics at the end
            page.screenshot(path=str(tmp_path / "lab_app_train.png"), full_page=True)

            # Explain tab: a heatmap appears; moving a slider changes it.
            page.get_by_text("2 · Explain", exact=True).click()
            page.wait_for_selector(f"{HEATMAP}[src]", state="visible", timeout=30_000)
            before = page.get_attribute(HEATMAP, "src")
            handle = page.locator(".labkit-opacity .noUi-handle")
            handle.focus()
            for _ in range(4):
                handle.press("ArrowRight")
            page.wait_for_function(
                "([sel, old]) => { const i = document.querySelector(sel); return i && i.src && i.src !== old; }",
                arg=[HEATMAP, before], timeout=20_000)
            after = page.get_attribute(HEATMAP, "src")
            assert after and after != before
            page.wait_for_timeout(300)  # let the last coalesced render land before the screenshot
            assert_no_error_on_screen(page)
            shot = tmp_path / "lab_app.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    out = REPO_ROOT / "test-output"
    out.mkdir(exist_ok=True)
    for name in ("lab_app.png", "lab_app_train.png"):
        shutil.copy(tmp_path / name, out / name)
    (out / "lab_app_startup.txt").write_text(startup + "\n")
    assert shot.stat().st_size > 10_000
    assert not page_errors, page_errors


#: The boxes of the first row of images on the Explain tab (the image and the maps beside it), the labels
#: whose text does not fit (buttons, tab titles, descriptions) and the page's scrollable width.
LAYOUT_JS = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left,
                                                                  right: r.right}; };
  const images = [...document.querySelectorAll('img.labkit-original, img.labkit-heatmap')].filter(i => i.offsetParent);
  const top = Math.min(...images.map(i => box(i).top));
  const cut = [...document.querySelectorAll('button, .lm-TabBar-tabLabel, .widget-label')]
    .filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1).map(e => e.innerText);
  return {images: images.length, row: images.map(box).filter(b => Math.abs(b.top - top) < 1), cut,
          scrollWidth: document.documentElement.scrollWidth};
}"""


@pytest.mark.browser
def test_the_explain_tab_shows_its_maps_above_the_fold_and_fills_a_projector(voila_app: VoilaApp,
                                                                             chromium: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(voila_app.url, timeout=60_000, wait_until="domcontentloaded")
            wait_status(page, "lecture_cnn", 60_000)  # the checkpoint's model is loaded
            page.get_by_text("2 · Explain", exact=True).click()
            for name in ("gradient", "smoothgrad", "gradcam"):  # the default methods, all painted
                page.wait_for_selector(f"img.labkit-heatmap-{name}[src]", state="visible", timeout=60_000)
            page.wait_for_function("() => document.querySelector('.labkit-legend').innerText.trim()", timeout=10_000)
            for width, height in ((1280, 720), (1920, 1080)):
                page.set_viewport_size({"width": width, "height": height})
                page.evaluate("() => window.scrollTo(0, 0)")
                page.wait_for_timeout(500)  # widgets lay out again
                m = page.evaluate(LAYOUT_JS)
                row = m["row"]
                print(f"{width}×{height}: first row of images {len(row)} of {m['images']}, "
                      f"top {row[0]['top']:.0f} px, bottom {row[0]['bottom']:.0f} px, "
                      f"from x = {row[0]['left']:.0f} to {row[-1]['right']:.0f} px")
                assert len(row) == m["images"] == 4, f"the image and its three maps in one row: {m}"
                assert all(b["top"] >= 0 and b["bottom"] <= height for b in row), f"below the fold: {row}"
                assert not m["cut"], f"labels cut at {width} px: {m['cut']}"
                assert m["scrollWidth"] <= width, f"the page scrolls sideways at {width} px"
            assert row[-1]["right"] - row[0]["left"] >= 0.75 * width, f"the maps fill too little of {width} px: {row}"
            assert_no_error_on_screen(page)
        finally:
            browser.close()
