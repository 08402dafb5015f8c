"""The lecture app in a real browser: Voilà serves it, headless Chromium uses it.

The app opens on a checkpoint, as ``labkit app --checkpoint`` serves it; the seconds from
the server's start to a usable page (data, the checkpoint's model and a status line on
screen) are printed and written to ``test-output/lab_app_startup.txt`` with the load
average (a figure, not a pass/fail criterion: ``benchmarks/bench_startup.py`` compares).
Then train one epoch on a small subset through the UI, open the Explain tab, move a
slider, and check that the heatmap image changed and no error or traceback is on
screen. A screenshot goes to the test's folder and to ``test-output/``.
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
