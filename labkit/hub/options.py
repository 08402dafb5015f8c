"""What a class's JupyterHub looks like: :class:`HubOptions`, checked when built.

Every field has a class-sized default; a bad value raises :class:`~labkit.errors.InputError`
naming what was expected, before anything is written.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from labkit.errors import InputError

#: ``--spawner`` name → (JupyterHub spawner class, runs on this machine as a local process).
SPAWNERS = {
    "simple": ("jupyterhub.spawner.SimpleLocalProcessSpawner", True),   # tests only: no user isolation
    "local": ("jupyterhub.spawner.LocalProcessSpawner", True),          # one system user per student
    "systemd": ("systemdspawner.SystemdSpawner", True),                 # pip install jupyterhub-systemdspawner
    "docker": ("dockerspawner.DockerSpawner", False),                   # pip install dockerspawner
    "kubernetes": ("kubespawner.KubeSpawner", False),                   # the zero-to-jupyterhub chart
}
#: ``--authenticator`` name → JupyterHub authenticator class.
AUTHENTICATORS = {
    "dummy": "jupyterhub.auth.DummyAuthenticator",           # tests only: any name, shared password
    "pam": "jupyterhub.auth.PAMAuthenticator",               # the machine's user accounts
    "github": "oauthenticator.github.GitHubOAuthenticator",  # pip install oauthenticator
    "generic-oauth": "oauthenticator.generic.GenericOAuthenticator",  # a university's OAuth2/OIDC login
}
#: ``--default-url`` name → the page a student lands on after logging in.
DEFAULT_URLS = {"app": "/voila/render/lab_app.ipynb", "exercises": "/lab/tree/exercises"}
_MEMORY = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_memory(value: str | int) -> int:
    """Bytes of a memory size such as ``"1.5G"``, ``"800M"`` or ``1073741824``.

    Raises :class:`InputError` for a negative, zero or malformed size.
    """
    m = _MEMORY.match(str(value))
    if m is None:
        raise InputError(f"memory limit must be a size such as 1.5G, 800M or a number of bytes; got {value!r}")
    amount = float(m.group(1)) * _UNITS[m.group(2).upper()]
    if amount <= 0:
        raise InputError(f"memory limit must be positive (e.g. 1.5G); got {value!r}")
    return int(amount)


def _choice(kind: str, value: str, table: dict) -> str:
    if value not in table:
        raise InputError(f"unknown {kind} {value!r}: expected one of {', '.join(table)}")
    return value


def _positive(name: str, value: float, allow_zero: bool = False) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or (value == 0 and not allow_zero):
        bound = "≥ 0 (0 turns it off)" if allow_zero else "> 0"
        raise InputError(f"{name} must be a number {bound}; got {value!r}")


def _port(name: str, value: int) -> None:
    if not isinstance(value, int) or not 1 <= value <= 65535:
        raise InputError(f"{name} must be a port number in 1…65535; got {value!r}")


@dataclass
class HubOptions:
    """Settings of ``labkit hub-config`` (see ``labkit hub-config --help``).

    Parameters
    ----------
    default_url:
        ``"app"`` (the Voilà lecture app) or ``"exercises"`` (JupyterLab on the exercises).
    authenticator, spawner:
        Names from :data:`AUTHENTICATORS` and :data:`SPAWNERS`.
    threads:
        CPU threads per user (torch, OpenMP, MKL) and the spawner's ``cpu_limit``.
    mem_limit:
        Memory per user, e.g. ``"1.5G"`` (the spawner's ``mem_limit``: enforced by the
        systemd, docker and kubernetes spawners, not by the local ones).
    checkpoint, data_dir:
        The shared read-only checkpoint folder and the data folder, as seen by the users.
    cull_kernel, cull_server:
        Seconds after which an idle disconnected kernel / an idle server is stopped.
    """

    default_url: str = "app"
    authenticator: str = "dummy"
    spawner: str = "simple"
    ip: str = "127.0.0.1"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    threads: int = 1
    mem_limit: str = "1.5G"
    checkpoint: str | None = None
    data_dir: str | None = None
    exercises: str | None = None
    device: str = "auto"
    gpu_memory_fraction: float | None = None
    cull_kernel: float = 600.0
    cull_interval: float = 60.0
    cull_server: float = 3600.0
    home_template: str | None = None
    proxy_command: str = "configurable-http-proxy"
    python: str | None = None
    admins: tuple[str, ...] = ()
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _choice("default URL", self.default_url, DEFAULT_URLS)
        _choice("authenticator", self.authenticator, AUTHENTICATORS)
        _choice("spawner", self.spawner, SPAWNERS)
        for name in ("port", "hub_port", "proxy_api_port"):
            _port(name.replace("_", "-"), getattr(self, name))
        if len({self.port, self.hub_port, self.proxy_api_port}) < 3:
            raise InputError(f"port, hub-port and proxy-api-port must differ; got {self.port}, {self.hub_port}, "
                             f"{self.proxy_api_port}")
        if not isinstance(self.threads, int) or isinstance(self.threads, bool) or self.threads < 1:
            raise InputError(f"threads must be a whole number ≥ 1 (CPU threads per user); got {self.threads!r}")
        parse_memory(self.mem_limit)
        if self.gpu_memory_fraction is not None and not 0.0 < self.gpu_memory_fraction <= 1.0:
            raise InputError(f"gpu-memory-fraction must be in (0, 1], e.g. 0.08; got {self.gpu_memory_fraction}")
        for name in ("cull_kernel", "cull_server"):
            _positive(name.replace("_", "-"), getattr(self, name), allow_zero=True)
        _positive("cull-interval", self.cull_interval)
        for key in self.extra_env:
            if not _ENV_NAME.match(key):
                raise InputError(f"environment variable names are letters, digits and _; got {key!r}")
        if self.home_template is not None and "{username}" not in self.home_template:
            raise InputError(f"home-template must contain {{username}}, e.g. /srv/class/{{username}}; "
                             f"got {self.home_template!r}")
        if self.default_url == "exercises" and self.exercises is None:
            default = Path(__file__).resolve().parents[2] / "exercises"
            self.exercises = str(default) if default.is_dir() else None

    @property
    def mem_limit_bytes(self) -> int:
        """The memory limit in bytes."""
        return parse_memory(self.mem_limit)

    @property
    def local(self) -> bool:
        """Whether single-user servers run as processes of this machine."""
        return SPAWNERS[self.spawner][1]

    @property
    def python_command(self) -> str:
        """The Python that starts a user's server (this one for local spawners, ``python3`` in images)."""
        return self.python or (sys.executable if self.local else "python3")
