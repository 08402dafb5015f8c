"""Start-up and memory of the lecture app: `labkit app` with a checkpoint, to a usable page in Chromium.

Each round starts the Voilà server exactly as ``labkit app`` does (``voila_command``) with a
checkpoint holding the pre-trained baseline and shortcut models, opens the page in headless
Chromium as ``labkit app`` opens the browser (once the preheated kernel has started) and
waits until the app shows its data, its models and a status line; the time counts from the
server's start. Rounds alternate between a preheated kernel (``labkit app``) and the
reference without preheating (the page requested as soon as the server listens), so both
see the same load; the ratio is printed. ``--before DIR`` runs the reference's kernel on
the labkit of another checkout (e.g. an older commit, ``git archive`` into DIR), to
compare before and after a change in one run.

Then the memory of the kernel that serves the page, idle, from ``/proc/PID/smaps_rollup``:
RSS; PSS (shared pages divided among the processes that map them); USS (pages only this
process maps: depends on what else runs, e.g. a second kernel makes the torch libraries
shared); and the anonymous pages, which no other kernel can ever share: the per-student cost.

Usage: LABKIT_DATA_DIR=... python benchmarks/bench_startup.py [--rounds 3] [--before DIR]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_class import lecture_checkpoint  # noqa: E402
from harness import CHROMIUM_ARGS, memory_mb, stop_group, wait_usable  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from labkit.commands.app import kernel_pids, notebook_path, voila_command, wait_preheated  # noqa: E402
from labkit.hub import free_ports  # noqa: E402

KERNEL_ENV = {"LABKIT_APP_DEVICE": "cpu", "LABKIT_APP_THREADS": "1", "OMP_NUM_THREADS": "1",
              "PYTHONWARNINGS": "ignore", "MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072",
              "MALLOC_TRIM_THRESHOLD_": "131072"}


def one_round(browser, checkpoint: Path, data_dir: str, preheat: bool, code: Path = REPO) -> dict:
    """Seconds from the server's start to a usable page, and the serving kernel's memory.

    ``code``: the checkout whose labkit the kernel imports.
    """
    (port,) = free_ports(1)
    env = {**os.environ, **KERNEL_ENV, "LABKIT_APP_CHECKPOINT": str(checkpoint), "LABKIT_DATA_DIR": data_dir,
           "PYTHONPATH": str(code)}
    cmd = voila_command(notebook_path(), port, ip="127.0.0.1", no_browser=True, preheat=preheat)
    folder = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        if preheat:  # as `labkit app` does before it opens the browser
            wait_preheated(proc, 120)
        while True:  # the server is up when the page loads; then Voilà renders (or hands over the preheated page)
            try:
                page.goto(f"http://127.0.0.1:{port}/", timeout=120_000, wait_until="commit")
                break
            except Exception:  # noqa: BLE001 - connection refused until the server listens
                if time.monotonic() - t0 > 120:
                    raise
                time.sleep(0.1)
        wait_usable(page, 180_000)
        usable = time.monotonic() - t0
        time.sleep(3)  # let the page's first requests settle
        kernels = kernel_pids(proc.pid)
        served = kernels[0]  # the first kernel started serves the page
        memory = memory_mb(served)
        context.close()
    finally:
        stop_group(proc)
    return {"usable": usable, "memory": memory, "kernels": len(kernels)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="rounds of each kind (preheated, reference)")
    p.add_argument("--before", metavar="DIR", type=Path, default=REPO,
                   help="checkout whose labkit the reference's kernel runs (default: this one)")
    args = p.parse_args()
    reference = "reference (no preheat)" if args.before == REPO else f"reference ({args.before}, no preheat)"
    data_dir = os.environ.get("LABKIT_DATA_DIR") or str(REPO.parent / "shared" / "data")
    checkpoint = lecture_checkpoint(Path(tempfile.mkdtemp(prefix="bench-startup-ckpt-")), data_dir)
    rows: dict[bool, list[dict]] = {True: [], False: []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        for _ in range(args.rounds):
            for preheat in (False, True):
                r = one_round(browser, checkpoint, data_dir, preheat, REPO if preheat else args.before.resolve())
                rows[preheat].append(r)
                print(f"{'preheated' if preheat else 'reference'}: usable after {r['usable']:.1f} s; kernel "
                      "RSS {:.0f} / PSS {:.0f} / USS {:.0f} / anonymous {:.0f} MB; load {:.1f}".format(
                          *r["memory"], os.getloadavg()[0]), flush=True)
        browser.close()
    med = statistics.median
    print(f"\n{os.cpu_count()} cores; load average now {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for preheat in (False, True):
        rs = rows[preheat]
        mem = [med(r["memory"][i] for r in rs) for i in range(4)]
        print(f"{'preheated (labkit app)' if preheat else reference:24s} usable: median "
              f"{med(r['usable'] for r in rs):5.1f} s, max {max(r['usable'] for r in rs):5.1f} s | kernel RSS "
              f"{mem[0]:.0f} / PSS {mem[1]:.0f} / USS {mem[2]:.0f} / anonymous {mem[3]:.0f} MB")
    ratio = med(r["usable"] for r in rows[True]) / med(r["usable"] for r in rows[False])
    print(f"preheated / reference start-up time: {ratio:.2f}")


if __name__ == "__main__":
    main()
