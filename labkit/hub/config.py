"""``jupyterhub_config.py`` for a class, written from :class:`~labkit.hub.options.HubOptions`.

The file is plain traitlets configuration (readable, editable by the instructor).
Users' servers start through :mod:`labkit.hub.singleuser`, which copies the app notebook
(and the exercises) into the home before starting
``jupyterhub-singleuser``. Voilà renders with sources stripped and tracebacks hidden.

References
----------
JupyterHub configuration reference, https://jupyterhub.readthedocs.io/en/stable/reference/api/
jupyterhub-idle-culler, https://github.com/jupyterhub/jupyterhub-idle-culler
Voilà: culling idle kernels, https://voila.readthedocs.io/en/stable/customize.html
"""
from __future__ import annotations

import os
import pprint
from pathlib import Path

from labkit.hub.options import AUTHENTICATORS, DEFAULT_URLS, SPAWNERS, HubOptions

CONFIG_NAME = "jupyterhub_config.py"
CULLER_SERVICE = "idle-culler"
#: glibc malloc settings of the kernels: large blocks (tensors) are mapped and unmapped on
#: their own, so a finished training hands its memory back to the system (measured: a
#: kernel after one training holds about 300 MB less; benchmarks/bench_class.py).
MALLOC_ENV = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
#: Jupyter server extensions a student's server does not load when it serves the lecture app
#: only: JupyterLab, the classic notebook, terminals, language servers and nbgrader's
#: pages (nbgrader's import alone takes a second). Each server starts about 2 s sooner on
#: a 2-core machine at load 7 (4.8 → 2.8 s to its port). Extensions that are not installed
#: are ignored.
NOT_FOR_THE_APP = ("jupyterlab", "notebook", "notebook_shim", "jupyter_server_terminals", "jupyter_lsp",
                   "nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.validate_assignment",
                   "nbgrader.server_extensions.assignment_list", "nbgrader.server_extensions.course_list")


def user_environment(o: HubOptions) -> dict[str, str]:
    """Environment of every user's server and kernels: the app's settings and the thread cap."""
    threads = str(o.threads)
    env = {"LABKIT_APP_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
           "OPENBLAS_NUM_THREADS": threads, "LABKIT_APP_DEVICE": o.device,
           "LABKIT_APP_DOWNLOAD": "0", "PYTHONWARNINGS": "ignore", **MALLOC_ENV}
    if o.checkpoint:
        env["LABKIT_APP_CHECKPOINT"] = o.checkpoint
    if o.data_dir:
        env["LABKIT_DATA_DIR"] = o.data_dir
    if o.exercises:
        env["LABKIT_HUB_EXERCISES"] = o.exercises
    if o.gpu_memory_fraction is not None:
        env["LABKIT_GPU_MEMORY_FRACTION"] = str(o.gpu_memory_fraction)
    env.update(o.extra_env)
    return {k: v for k, v in env.items() if v != ""}


def server_args(o: HubOptions) -> list[str]:
    """Command-line settings of each user's Jupyter server (Voilà and kernel culling)."""
    args = ["--VoilaConfiguration.strip_sources=True", "--VoilaConfiguration.show_tracebacks=False",
            "--VoilaConfiguration.theme=light"]
    if o.spawner == "simple":  # servers run as the hub's own user, which may be root on a test machine
        args.append("--ServerApp.allow_root=True")
    if o.default_url == "app":  # Voilà only: the other extensions would only slow each server's start
        args += [f"--ServerApp.jpserver_extensions={name}=False" for name in NOT_FOR_THE_APP]
    if o.cull_kernel > 0:  # a closed tab's kernel: disconnected, idle for cull_kernel seconds
        args += [f"--MappingKernelManager.cull_idle_timeout={int(o.cull_kernel)}",
                 f"--MappingKernelManager.cull_interval={int(o.cull_interval)}",
                 "--MappingKernelManager.cull_connected=False", "--MappingKernelManager.cull_busy=False"]
    return args


def _pretty(value: object) -> str:
    return pprint.pformat(value, width=110, sort_dicts=False)


def _culler_lines(o: HubOptions) -> list[str]:
    if o.cull_server <= 0:
        return ["# idle-server culling is off (--cull-server 0)"]
    cmd = [o.python_command if o.local else "python3", "-m", "jupyterhub_idle_culler",
           f"--timeout={int(o.cull_server)}", f"--cull-every={max(int(o.cull_interval), 1)}"]
    return ["# Stop servers idle for longer than the timeout (frees their kernels' memory).",
            f"c.JupyterHub.services = [{{'name': {CULLER_SERVICE!r}, 'command': {cmd!r}}}]",
            "c.JupyterHub.load_roles = [{'name': 'idle-culler', 'services': [%r]," % CULLER_SERVICE,
            "                            'scopes': ['list:users', 'read:users:activity', 'read:servers',"
            " 'delete:servers']}]"]


def config_text(o: HubOptions) -> str:
    """The text of ``jupyterhub_config.py`` for these options."""
    spawner_class = SPAWNERS[o.spawner][0]
    lines = [
        "# JupyterHub for a labkit class, written by `labkit hub-config` (edit freely; see docs/deploy.md).",
        "import os",
        "HERE = os.path.dirname(os.path.abspath(__file__))",
        "c = get_config()  # noqa: F821",
        "",
        "# Where the hub listens: the proxy's public port, the hub's internal API, the proxy's API.",
        f"c.JupyterHub.ip = {o.ip!r}",
        f"c.JupyterHub.port = {o.port}",
        f"c.JupyterHub.hub_ip = {o.ip if o.local else '0.0.0.0'!r}",
        f"c.JupyterHub.hub_port = {o.hub_port}",
        f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{o.proxy_api_port}'",
        f"c.ConfigurableHTTPProxy.command = [{o.proxy_command!r}]",
        "c.ConfigurableHTTPProxy.pid_file = os.path.join(HERE, 'jupyterhub-proxy.pid')",
        "c.JupyterHub.db_url = 'sqlite:///' + os.path.join(HERE, 'jupyterhub.sqlite')",
        "c.JupyterHub.cookie_secret_file = os.path.join(HERE, 'jupyterhub_cookie_secret')",
        "c.JupyterHub.cleanup_servers = True",
        "",
        f"# Login ({o.authenticator}). Real classes: see docs/deploy.md (OAuth, allowed users).",
        f"c.JupyterHub.authenticator_class = {AUTHENTICATORS[o.authenticator]!r}",
        "c.Authenticator.allow_all = True  # replace with c.Authenticator.allowed_users = {...} for a roster",
        f"c.Authenticator.admin_users = {set(o.admins)!r}" if o.admins else "# c.Authenticator.admin_users = {'teacher'}",
        "",
        f"# One server per student ({o.spawner}).",
        f"c.JupyterHub.spawner_class = {spawner_class!r}",
    ]
    if o.spawner == "simple" and o.home_template:
        lines.append(f"c.SimpleLocalProcessSpawner.home_dir_template = {o.home_template!r}")
    lines += [
        f"c.Spawner.default_url = {DEFAULT_URLS[o.default_url]!r}",
        f"c.Spawner.cmd = [{o.python_command!r}, '-m', 'labkit.hub.singleuser']",
        f"c.Spawner.args = {_pretty(server_args(o))}",
        f"c.Spawner.environment = {_pretty(user_environment(o))}",
        f"c.Spawner.cpu_limit = {float(o.threads)!r}",
        f"c.Spawner.mem_limit = {o.mem_limit_bytes!r}  # {o.mem_limit}; enforced by the systemd, docker and "
        "kubernetes spawners (the local ones only pass it on as $MEM_LIMIT)",
        "c.Spawner.start_timeout = 120",
        "c.Spawner.http_timeout = 90",
        "",
    ]
    lines += _culler_lines(o)
    return "\n".join(lines) + "\n"


def write_config(o: HubOptions, folder: str | os.PathLike) -> Path:
    """Write ``jupyterhub_config.py`` into ``folder`` (created if needed); returns its path."""
    folder = Path(folder).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CONFIG_NAME
    path.write_text(config_text(o), encoding="utf-8")
    return path
