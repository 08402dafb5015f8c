"""A class on one machine: 1, 2 and 4 students at once on a loopback JupyterHub.

Same harness as ``tests/browser/test_hub.py``: the ``labkit hub-config`` set-up run by
:class:`labkit.hub.LocalHub` (DummyAuthenticator, SimpleLocalProcessSpawner, one CPU
thread per user), students in separate Chromium contexts. Per user: login-to-usable
time (login page submitted → the Voilà app shows data, models and a status line),
one training run's time (Start → metrics on screen), and the kernel's memory (RSS,
and USS = the pages only that kernel holds) when idle with the pre-trained models and
after the training. Also the hub's and the proxy's own memory.

Usage: LABKIT_DATA_DIR=... python benchmarks/bench_class.py [--users 1 2 4] [--subset 1000] [--glibc-defaults]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from harness import (CHROMIUM_ARGS, begin_login, class_options, kernels_of, memory_mb,  # noqa: E402
                     start_training, wait_trained, wait_usable)
from playwright.sync_api import sync_playwright  # noqa: E402

from labkit.hub import LocalHub  # noqa: E402
from labkit.hub.config import MALLOC_ENV  # noqa: E402
from labkit.hub.local import descendants  # noqa: E402


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def lecture_checkpoint(folder: Path, data_dir: str) -> Path:
    """The pre-trained baseline and shortcut models (labkit.zoo, cached) as one checkpoint folder."""
    from labkit.session import ExperimentState
    from labkit.session.zoo import pretrained_entry

    state = ExperimentState(device="cpu")
    state.load_data("pneumoniamnist", size=64, data_dir=data_dir, download=False)
    for kind in ("baseline", "shortcut"):
        entry = pretrained_entry(state.data, kind)
        if entry.marker is not None and state.marker is None:
            state.marker = entry.marker
        state.add_model(entry)
    return state.save(folder / "lecture")


def hub_process_mb(hub: LocalHub) -> dict[str, float]:
    """RSS of the hub and of configurable-http-proxy (the class's fixed cost)."""
    out = {"hub": memory_mb(hub.proc.pid)[0]}
    for pid in descendants(hub.proc.pid):
        try:
            if b"configurable-http-proxy" in Path(f"/proc/{pid}/cmdline").read_bytes():
                out["proxy"] = memory_mb(pid)[0]
        except OSError:
            pass
    return out


def one_round(n: int, checkpoint: Path, data_dir: str, subset: int, browser, glibc_defaults: bool = False) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-class-{n}-"))
    env = {"LABKIT_APP_SUBSET": str(subset), "LABKIT_APP_WIDTH": "16"}
    if glibc_defaults:  # an empty value drops the setting from the users' environment
        env.update({k: "" for k in MALLOC_ENV})
    options = class_options(folder, checkpoint, data_dir, cull_server=0, extra_env=env)
    with LocalHub(folder, options) as hub:
        users = [f"student{i}" for i in range(1, n + 1)]
        contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in users]
        t0 = time.monotonic()
        pages = [begin_login(c, hub.url, u) for c, u in zip(contexts, users)]
        login = []
        for page in pages:
            wait_usable(page, 180_000)
            login.append(time.monotonic() - t0)
        time.sleep(2)
        homes = [folder / "home" / u for u in users]
        kernels = [kernels_of(h)[0] for h in homes]
        idle = [memory_mb(k) for k in kernels]
        servers = [memory_mb(parent_pid(k)) for k in kernels]
        for page, user in zip(pages, users):
            start_training(page, f"{user}_cnn")
        t1 = time.monotonic()
        train = []
        for page, user in zip(pages, users):
            wait_trained(page, f"{user}_cnn", 600_000)
            train.append(time.monotonic() - t1)
        time.sleep(1)
        after = [memory_mb(kernels_of(h)[0]) for h in homes]
        fixed = hub_process_mb(hub)
        for c in contexts:
            c.close()
    return {"n": n, "login": login, "train": train, "idle": idle, "after": after, "servers": servers, "fixed": fixed}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--subset", type=int, default=1000, help="training images of the timed run (1 epoch, width 16)")
    p.add_argument("--glibc-defaults", action="store_true",
                   help="run the kernels without labkit's malloc settings (to measure what they save)")
    args = p.parse_args()
    data_dir = os.environ.get("LABKIT_DATA_DIR") or str(REPO.parent / "shared" / "data")
    checkpoint = lecture_checkpoint(Path(tempfile.mkdtemp(prefix="bench-class-ckpt-")), data_dir)
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        for n in args.users:
            rows.append(one_round(n, checkpoint, data_dir, args.subset, browser, args.glibc_defaults))
            print(f"round of {n} done; load average {os.getloadavg()[0]:.1f}", flush=True)
        browser.close()
    mean = statistics.mean
    print(f"\n{os.cpu_count()} cores; load average now {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("users | login→usable s (mean, max) | training s (mean, max) | kernel idle RSS / USS / anon MB |"
          " after training RSS / USS / anon MB")

    def mem(ms: list) -> str:
        return " / ".join(f"{mean(m[i] for m in ms):4.0f}" for i in (0, 2, 3))

    for r in rows:
        print(f"{r['n']:5d} | {mean(r['login']):6.1f} {max(r['login']):6.1f} | {mean(r['train']):6.1f} "
              f"{max(r['train']):6.1f} | {mem(r['idle'])} | {mem(r['after'])}")
    base = rows[0]
    for r in rows[1:]:
        print(f"{r['n']} users: training {mean(r['train']) / mean(base['train']):.2f}× and login "
              f"{mean(r['login']) / mean(base['login']):.2f}× the single-user time")
    srv = rows[-1]["servers"]
    print(f"user's Jupyter server (without its kernel) RSS / USS MB: {mean(m[0] for m in srv):.0f} / "
          f"{mean(m[2] for m in srv):.0f}")
    print("hub and proxy RSS MB:", {k: round(v) for k, v in rows[-1]["fixed"].items()})


if __name__ == "__main__":
    main()
