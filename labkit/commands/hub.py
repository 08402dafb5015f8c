"""``labkit hub-config``: write a ``jupyterhub_config.py`` for a class (see docs/deploy.md)."""
from __future__ import annotations

import argparse
from pathlib import Path

from labkit.errors import InputError
from labkit.hub import AUTHENTICATORS, DEFAULT_URLS, SPAWNERS, HubOptions, config_text, find_proxy, write_config

HELP = "write a jupyterhub_config.py for a class: Voilà app or exercises per student, limits, culling"


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = HubOptions()
    p.add_argument("--out", metavar="DIR", default=".", help="folder for jupyterhub_config.py (default: here)")
    p.add_argument("--default-url", choices=list(DEFAULT_URLS), default=d.default_url,
                   help="where students land: the Voilà lecture app or the exercises in JupyterLab")
    p.add_argument("--authenticator", default=d.authenticator, help=f"one of {', '.join(AUTHENTICATORS)}")
    p.add_argument("--spawner", default=d.spawner, help=f"one of {', '.join(SPAWNERS)}")
    p.add_argument("--ip", default=d.ip, help="public interface of the proxy (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=d.port, help="public port (default 8000)")
    p.add_argument("--hub-port", type=int, default=d.hub_port, help="hub's internal API port (default 8081)")
    p.add_argument("--proxy-api-port", type=int, default=d.proxy_api_port, help="proxy's API port (default 8001)")
    p.add_argument("--threads", type=int, default=d.threads, help="CPU threads (and cpu_limit) per user (default 1)")
    p.add_argument("--mem-limit", default=d.mem_limit, help="memory per user, e.g. 1.5G (default 1.5G)")
    p.add_argument("--checkpoint", metavar="DIR", help="shared read-only checkpoint folder loaded by every app")
    p.add_argument("--data-dir", metavar="DIR", help="folder holding pneumoniamnist*.npz, as the users see it")
    p.add_argument("--exercises", metavar="DIR", help="student notebooks copied into each new home")
    p.add_argument("--device", default=d.device, help="torch device of the kernels (auto, cpu, cuda)")
    p.add_argument("--gpu-memory-fraction", type=float, help="each kernel's share of GPU memory (0–1]")
    p.add_argument("--cull-kernel", type=float, default=d.cull_kernel,
                   help="seconds before a closed tab's idle kernel is stopped (0: never; default 600)")
    p.add_argument("--cull-server", type=float, default=d.cull_server,
                   help="seconds before an idle user's server is stopped (jupyterhub-idle-culler; 0: never)")
    p.add_argument("--cull-interval", type=float, default=d.cull_interval, help="seconds between culling checks")
    p.add_argument("--home-template", help="homes of the 'simple' spawner, e.g. /srv/class/{username}")
    p.add_argument("--admin", action="append", default=[], help="an admin user name (repeatable)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for every user's kernels, e.g. LABKIT_APP_EPOCHS=5 (repeatable)")
    p.add_argument("--print", action="store_true", help="print the configuration instead of writing it")


def options_from_args(args: argparse.Namespace) -> HubOptions:
    """:class:`HubOptions` from parsed arguments (paths made absolute)."""
    env = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--env takes KEY=VALUE, e.g. LABKIT_APP_EPOCHS=5; got {item!r}")
        env[key] = value
    absolute = lambda p: str(Path(p).expanduser().resolve()) if p else None  # noqa: E731
    return HubOptions(default_url=args.default_url, authenticator=args.authenticator, spawner=args.spawner,
                      ip=args.ip, port=args.port, hub_port=args.hub_port, proxy_api_port=args.proxy_api_port,
                      threads=args.threads, mem_limit=args.mem_limit, checkpoint=absolute(args.checkpoint),
                      data_dir=absolute(args.data_dir), exercises=absolute(args.exercises), device=args.device,
                      gpu_memory_fraction=args.gpu_memory_fraction, cull_kernel=args.cull_kernel,
                      cull_interval=args.cull_interval, cull_server=args.cull_server,
                      home_template=args.home_template, proxy_command=find_proxy() or "configurable-http-proxy",
                      admins=tuple(args.admin), extra_env=env)


def run(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    if args.print:
        print(config_text(options), end="")
        return 0
    path = write_config(options, args.out)
    print(f"wrote {path}\nstart it with: jupyterhub -f {path}")
    return 0
