"""JupyterHub for a class: every student their own server, with the lecture app or the exercises.

>>> from labkit.hub import HubOptions, write_config
>>> write_config(HubOptions(checkpoint="/srv/labkit/lecture"), "/srv/labkit/hub")   # doctest: +SKIP

:func:`write_config` writes ``jupyterhub_config.py`` (``labkit hub-config``);
:class:`LocalHub` runs it on loopback (tests, benchmarks, trying a set-up);
:mod:`labkit.hub.singleuser` starts each student's server. Nothing here imports ipywidgets.
"""
from labkit.hub.config import CONFIG_NAME, config_text, server_args, user_environment, write_config
from labkit.hub.local import LocalHub, find_proxy, free_ports
from labkit.hub.options import AUTHENTICATORS, DEFAULT_URLS, SPAWNERS, HubOptions, parse_memory

__all__ = ["CONFIG_NAME", "config_text", "server_args", "user_environment", "write_config", "LocalHub",
           "find_proxy", "free_ports", "AUTHENTICATORS", "DEFAULT_URLS", "SPAWNERS", "HubOptions", "parse_memory"]
