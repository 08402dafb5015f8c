"""``labkit app``: serve the lecture app with Voilà (code hidden, no tracebacks).

The app notebook ships inside the package (``labkit/notebooks/lab_app.ipynb``);
settings reach its kernel as ``LABKIT_APP_*`` environment variables, read by
:meth:`labkit.panels.LabApp.from_env`.

Voilà preheats one kernel: it starts a kernel and runs the notebook as soon as the
server is up, before any browser asks, and serves that rendered page to the first
request (the pool is refilled ``FILL_DELAY`` seconds later, for the next tab).

References
----------
Voilà, "Preheated kernels", https://voila.readthedocs.io/en/stable/customize.html
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import webbrowser
from importlib import resources
from pathlib import Path

from labkit.errors import InputError
from labkit.hub.local import descendants

#: seconds before Voilà starts the next preheated kernel once one is taken: the refill
#: does not compete with the first minutes of use for the CPU
FILL_DELAY = 30
HELP = "start the lecture app (Voilà, code hidden) — with a checkpoint it opens on trained models"


def notebook_path() -> Path:
    """The app notebook shipped as package data."""
    path = Path(str(resources.files("labkit") / "notebooks" / "lab_app.ipynb"))
    if not path.is_file():
        raise InputError(f"the app notebook is missing from the installation ({path}); reinstall labkit")
    return path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", metavar="DIR", help="checkpoint folder to load at start (labkit train --out)")
    p.add_argument("--data-dir", metavar="DIR", help="folder holding pneumoniamnist*.npz")
    p.add_argument("--dataset", default="pneumoniamnist", choices=["pneumoniamnist", "phantom"])
    p.add_argument("--download", action="store_true", help="allow downloading PneumoniaMNIST if it is missing")
    p.add_argument("--port", type=int, default=8866, help="port of the Voilà server (default 8866)")
    p.add_argument("--ip", default="localhost", help="interface to listen on (default localhost)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--subset", type=int, default=0, help="default training subset size in the app (0 = all)")
    p.add_argument("--epochs", type=int, default=10, help="default epochs in the app")
    p.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, …")
    p.add_argument("--pretrained", action="store_true",
                   help="add labkit's cached pre-trained baseline and shortcut models at start (trained once if missing)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads per app kernel (0: torch's default)")
    p.add_argument("--gpu-memory-fraction", type=float, help="cap each app kernel's share of GPU memory (0–1]")
    p.add_argument("--print-command", action="store_true", help="print the Voilà command and settings, do not run")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The options of ``labkit app`` parsed from ``argv`` (for scripts and tests)."""
    p = argparse.ArgumentParser(prog="labkit app", description=HELP)
    add_arguments(p)
    return p.parse_args(argv)


def app_env(args: argparse.Namespace, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the Voilà server (its kernels inherit it); paths made absolute."""
    env = dict(os.environ if base is None else base)
    if args.checkpoint:
        ckpt = Path(args.checkpoint).expanduser().resolve()
        if not (ckpt / "experiment.json").is_file():
            raise InputError(f"no checkpoint at {ckpt}: expected a folder with experiment.json "
                             "(write one with `labkit train --out DIR`)")
        env["LABKIT_APP_CHECKPOINT"] = str(ckpt)
    if args.data_dir:
        env["LABKIT_DATA_DIR"] = str(Path(args.data_dir).expanduser().resolve())
    if args.gpu_memory_fraction is not None:
        if not 0.0 < args.gpu_memory_fraction <= 1.0:
            raise InputError(f"--gpu-memory-fraction must be in (0, 1], got {args.gpu_memory_fraction}")
        env["LABKIT_GPU_MEMORY_FRACTION"] = str(args.gpu_memory_fraction)
    env.update(LABKIT_APP_DATASET=args.dataset, LABKIT_APP_DOWNLOAD="1" if args.download else "0",
               LABKIT_APP_SUBSET=str(args.subset), LABKIT_APP_EPOCHS=str(args.epochs), LABKIT_APP_DEVICE=args.device,
               LABKIT_APP_THREADS=str(max(args.threads, 0)), LABKIT_APP_PRETRAINED="1" if args.pretrained else "0")
    return env


def voila_command(notebook: Path, port: int = 8866, ip: str = "localhost", no_browser: bool = False,
                  preheat: bool = True) -> list[str]:
    """Voilà (:mod:`labkit.commands.voila_server`) with sources stripped and tracebacks hidden; one
    preheated kernel unless ``preheat=False``."""
    cmd = [sys.executable, "-m", "labkit.commands.voila_server", str(notebook), f"--port={port}", f"--Voila.ip={ip}",
           "--strip_sources=True", "--show_tracebacks=False", "--theme=light"]
    if preheat:
        cmd += ["--preheat_kernel=True", "--pool_size=1", f"--VoilaKernelManager.fill_delay={FILL_DELAY}"]
    if no_browser:
        cmd.append("--no-browser")
    return cmd


def kernel_pids(server: int) -> list[int]:
    """The ipykernel processes below the Voilà server process ``server``, oldest first."""
    found = []
    for pid in descendants(server):
        try:
            if b"ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes():
                started = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
                found.append((started, pid))
        except (OSError, ValueError, IndexError):
            continue
    return [pid for _, pid in sorted(found)]


def wait_preheated(server: subprocess.Popen, timeout: float = 60.0) -> bool:
    """Wait until Voilà has started its preheated kernel (True), the server ended or ``timeout`` passed.

    A page requested before that kernel exists gets a kernel of its own (Voilà then
    serves the preheated one to the next request only), so the browser is opened after it.
    """
    end = time.monotonic() + timeout
    while time.monotonic() < end and server.poll() is None:
        if kernel_pids(server.pid):
            time.sleep(0.5)  # Voilà registers the kernel for its notebook right after starting it
            return True
        time.sleep(0.1)
    return False


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        raise InputError(f"--port must be in 1…65535, got {args.port}")
    env = app_env(args)
    cmd = voila_command(notebook_path(), args.port, args.ip, no_browser=True)
    if args.print_command:
        for k in sorted(k for k in env if k.startswith("LABKIT_")):
            print(f"{k}={env[k]}")
        print(" ".join(cmd))
        return 0
    url = f"http://{args.ip}:{args.port}/"
    print(f"labkit app on {url} (Ctrl+C stops it)", flush=True)
    with subprocess.Popen(cmd, env=env) as server:
        try:
            if not args.no_browser:
                wait_preheated(server)
                if server.poll() is None:
                    webbrowser.open(url)
            return server.wait()
        except KeyboardInterrupt:
            server.terminate()  # Voilà shuts its kernels down on SIGTERM
            server.wait()
            return 130
