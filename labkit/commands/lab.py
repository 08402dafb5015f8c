"""``labkit lab``: open the student exercise notebooks in JupyterLab."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from labkit.errors import InputError

HELP = "open the exercise notebooks in JupyterLab (students' path)"


def exercises_dir() -> Path:
    """The ``exercises/`` folder beside the package (a source checkout)."""
    return Path(__file__).resolve().parents[2] / "exercises"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", metavar="DIR", help="folder of notebooks to open (default: the exercises/ folder)")
    p.add_argument("--port", type=int, default=8888, help="port of JupyterLab (default 8888)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--print-command", action="store_true", help="print the JupyterLab command, do not run it")


def lab_command(folder: Path, port: int = 8888, no_browser: bool = False) -> list[str]:
    """``python -m jupyterlab`` serving ``folder``."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}", f"--port={port}"]
    return cmd + (["--no-browser"] if no_browser else [])


def run(args: argparse.Namespace) -> int:
    folder = Path(args.dir).expanduser().resolve() if args.dir else exercises_dir()
    if not folder.is_dir():
        raise InputError(f"no notebook folder at {folder}: pass --dir DIR (the exercises come with the labkit "
                         "source; `labkit assign` writes them)")
    if not 1 <= args.port <= 65535:
        raise InputError(f"--port must be in 1…65535, got {args.port}")
    cmd = lab_command(folder, args.port, args.no_browser)
    if args.print_command:
        print(" ".join(cmd))
        return 0
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130
