"""Helpers of the browser tests and ``benchmarks/bench_class.py``: Chromium's flags, stopping a
server's process group, and a class on a :class:`labkit.hub.LocalHub`.

Students log in through the hub's login page (DummyAuthenticator) and land on the
Voilà lecture app; :func:`train` drives its training tab. Selectors are the app's
``labkit-*`` classes and visible labels only.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from playwright.sync_api import BrowserContext, Page

from labkit.hub import HubOptions

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TRAINING_ENV = {"LABKIT_APP_SUBSET": "128", "LABKIT_APP_EPOCHS": "1", "LABKIT_APP_WIDTH": "4",
                "LABKIT_APP_DATASET": "pneumoniamnist"}
APP_READY = ("() => { const h = document.querySelector('.labkit-header'), s = document.querySelector('.labkit-status');"
             " return h && s && /model/.test(h.innerText) && s.innerText.trim().length > 0; }")


def stop_group(proc: subprocess.Popen) -> None:
    """Terminate a server's process group (server and kernels); kill it if it lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM if proc.poll() is None else signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def class_options(folder: Path, checkpoint: Path | str, data_dir: Path | str, **kw: object) -> HubOptions:
    """A loopback class: dummy login, simple spawner, homes under ``folder``, tiny training defaults."""
    env = {**TRAINING_ENV, **kw.pop("extra_env", {})}  # type: ignore[dict-item]
    return HubOptions(checkpoint=str(checkpoint), data_dir=str(data_dir), device="cpu",
                      home_template=str(folder / "home" / "{username}"), extra_env=env, **kw)  # type: ignore[arg-type]


def begin_login(context: BrowserContext, hub_url: str, user: str) -> Page:
    """Open the hub's login page and submit ``user``; returns without waiting for the server."""
    page = context.new_page()
    page.goto(hub_url + "hub/login", wait_until="domcontentloaded", timeout=60_000)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", "any")
    page.click("[type=submit]", no_wait_after=True)
    return page


def wait_usable(page: Page, timeout_ms: int = 90_000) -> None:
    """Wait until the lecture app shows its header (data and models) and a status line."""
    page.wait_for_selector(".labkit-app .labkit-status", timeout=timeout_ms)
    page.wait_for_function(APP_READY, timeout=timeout_ms)


def status_text(page: Page) -> str:
    return page.inner_text(".labkit-status")


def start_training(page: Page, name: str) -> None:
    """Name the model and press Start in the training tab."""
    page.get_by_text("1 · Train", exact=True).click()
    box = page.get_by_label("model name").filter(visible=True).first  # the form of the training run
    box.fill(name)
    box.press("Enter")
    page.click(".labkit-train-start")


def wait_trained(page: Page, name: str, timeout_ms: int = 90_000) -> float:
    """Wait until the metrics of model ``name`` are on screen; returns the seconds waited."""
    t0 = time.monotonic()
    page.get_by_text(f"Clinical metrics of {name}").wait_for(timeout=timeout_ms)
    return time.monotonic() - t0


def kernels_of(home: Path) -> list[int]:
    """Process ids of the ipykernel processes whose ``$HOME`` is ``home`` (one user's kernels)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"ipykernel" not in (proc / "cmdline").read_bytes():
                continue
            env = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"HOME={home}".encode() in env:
            found.append(int(proc.name))
    return found


def memory_mb(pid: int) -> tuple[float, float, float, float]:
    """(RSS, PSS, USS, anonymous) of a process in MB, from ``/proc/PID/smaps_rollup``.

    USS counts the pages only this process maps (it shrinks when another kernel maps the
    same libraries); anonymous pages are never shared between kernels.
    """
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        fields[key] = int(value.split()[0]) / 1024
    return (fields["Rss"], fields["Pss"], fields["Private_Clean"] + fields["Private_Dirty"], fields["Anonymous"])
