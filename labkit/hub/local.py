"""A JupyterHub on this machine's loopback, for trying a class set-up, tests and benchmarks.

:class:`LocalHub` writes the configuration into a folder, starts ``jupyterhub`` (which
starts configurable-http-proxy) in its own process group, waits until the hub answers,
and on :meth:`stop` ends the hub, the proxy and every user's server and kernel.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from labkit.errors import InputError
from labkit.hub.config import write_config
from labkit.hub.options import HubOptions

PROXY = "configurable-http-proxy"


def find_proxy() -> str | None:
    """configurable-http-proxy: the set-up's copy in ``<venv>/node`` first, then ``$PATH``."""
    local = Path(sys.prefix) / "node" / "node_modules" / ".bin" / PROXY
    return str(local) if local.is_file() else shutil.which(PROXY)


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children first found through /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class LocalHub:
    """Run JupyterHub with ``options`` from ``folder`` on 127.0.0.1 (free ports by default).

    Parameters
    ----------
    folder:
        Where the configuration, database, cookie secret and ``hub.log`` go.
    options:
        The class set-up; its ports are replaced by free ones unless ``keep_ports``.
    """

    def __init__(self, folder: str | os.PathLike, options: HubOptions, keep_ports: bool = False) -> None:
        proxy = find_proxy() if options.proxy_command == PROXY else options.proxy_command
        if proxy is None:
            raise InputError("configurable-http-proxy not found: run `bash scripts/setup.sh` (npm installs it into "
                             ".venv/node) or `npm install -g configurable-http-proxy`")
        if not keep_ports:
            port, hub_port, api_port = free_ports(3)
            options = replace(options, port=port, hub_port=hub_port, proxy_api_port=api_port)
        self.options = replace(options, ip="127.0.0.1", proxy_command=proxy)
        self.folder = Path(folder).resolve()
        self.config = write_config(self.options, self.folder)
        self.log_path = self.folder / "hub.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The hub's public address (through the proxy), ending in ``/``."""
        return f"http://127.0.0.1:{self.options.port}/"

    def start(self, timeout: float = 60.0) -> "LocalHub":
        """Start the hub and wait until its API answers through the proxy."""
        env = {**os.environ, "PATH": f"{Path(self.options.proxy_command).parent}{os.pathsep}{os.environ['PATH']}"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(self.config)],
                                         cwd=self.folder, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterHub exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "hub/api/", timeout=2) as r:
                    if "version" in json.loads(r.read()):
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterHub did not answer on {self.url} within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        """The end of ``hub.log`` (the hub's and the users' servers' output)."""
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self, timeout: float = 20.0) -> None:
        """End the hub's process group and every server and kernel it started."""
        if self.proc is None:
            return
        below = descendants(self.proc.pid)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the hub stops the users' servers on its way out
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        for pid in [self.proc.pid, *below]:  # anything that outlived the hub (own sessions: servers, kernels)
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.proc = None

    def __enter__(self) -> "LocalHub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
