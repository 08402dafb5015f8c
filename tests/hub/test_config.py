"""``labkit hub-config``: the written jupyterhub_config.py loads and says what was asked; bad values are refused."""
from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config import PyFileConfigLoader

from labkit.cli import main
from labkit.errors import InputError
from labkit.hub import DEFAULT_URLS, HubOptions, parse_memory, write_config
from labkit.hub.singleuser import prepare_home


def load(path: Path):
    return PyFileConfigLoader(path.name, str(path.parent)).load_config()


def test_written_config_loads_with_every_class_setting(tmp_path: Path) -> None:
    o = HubOptions(checkpoint="/srv/labkit/lecture", data_dir="/srv/labkit/data", threads=2, mem_limit="1.5G",
                   cull_kernel=120, cull_interval=30, cull_server=1800, port=8123, hub_port=8124, proxy_api_port=8125)
    c = load(write_config(o, tmp_path / "hub"))
    assert c.JupyterHub.ip == "127.0.0.1" and c.JupyterHub.port == 8123 and c.JupyterHub.hub_port == 8124
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8125"
    assert c.JupyterHub.db_url == f"sqlite:///{tmp_path / 'hub' / 'jupyterhub.sqlite'}"  # beside the config file
    assert c.JupyterHub.authenticator_class == "jupyterhub.auth.DummyAuthenticator"
    assert c.JupyterHub.spawner_class == "jupyterhub.spawner.SimpleLocalProcessSpawner"
    assert c.Spawner.default_url == "/voila/render/lab_app.ipynb"
    assert c.Spawner.cmd[1:] == ["-m", "labkit.hub.singleuser"]
    args = c.Spawner.args
    for flag in ("--VoilaConfiguration.strip_sources=True", "--VoilaConfiguration.show_tracebacks=False",
                 "--MappingKernelManager.cull_idle_timeout=120", "--MappingKernelManager.cull_interval=30",
                 "--MappingKernelManager.cull_connected=False", "--ServerApp.jpserver_extensions=jupyterlab=False",
                 "--ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=False"):
        assert flag in args
    assert not any("voila" in a for a in args if "jpserver_extensions" in a)  # the app's own extension stays
    env = c.Spawner.environment
    assert env["LABKIT_APP_CHECKPOINT"] == "/srv/labkit/lecture" and env["LABKIT_DATA_DIR"] == "/srv/labkit/data"
    assert env["LABKIT_APP_THREADS"] == env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "2"
    assert env["MALLOC_MMAP_THRESHOLD_"] == "131072"  # freed tensors go back to the system
    assert c.Spawner.cpu_limit == 2.0 and c.Spawner.mem_limit == 1536 * 2**20
    (culler,) = c.JupyterHub.services
    assert culler["command"][1:] == ["-m", "jupyterhub_idle_culler", "--timeout=1800", "--cull-every=30"]
    (role,) = c.JupyterHub.load_roles
    assert role["services"] == [culler["name"]] and "delete:servers" in role["scopes"]


def test_exercises_in_jupyterlab_and_culling_off(tmp_path: Path) -> None:
    o = HubOptions(default_url="exercises", exercises=str(tmp_path), cull_kernel=0, cull_server=0,
                   spawner="kubernetes", authenticator="generic-oauth")
    c = load(write_config(o, tmp_path / "hub"))
    assert c.Spawner.default_url == DEFAULT_URLS["exercises"] == "/lab/tree/exercises"
    assert c.Spawner.environment["LABKIT_HUB_EXERCISES"] == str(tmp_path)
    assert not any("cull" in a for a in c.Spawner.args)
    assert not any("jpserver_extensions" in a for a in c.Spawner.args)  # JupyterLab and the rest stay
    assert "services" not in c.JupyterHub
    assert c.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    assert c.JupyterHub.authenticator_class == "oauthenticator.generic.GenericOAuthenticator"
    assert c.Spawner.cmd[0] == "python3"  # the image's Python, not this machine's


@pytest.mark.parametrize("kwargs, expected", [
    ({"mem_limit": "-1G"}, "memory limit must be positive"),
    ({"mem_limit": "lots"}, "memory limit must be a size such as 1.5G"),
    ({"spawner": "slurm"}, "unknown spawner 'slurm': expected one of simple, local, systemd, docker, kubernetes"),
    ({"authenticator": "ldap"}, "unknown authenticator 'ldap': expected one of dummy, pam"),
    ({"default_url": "tree"}, "unknown default URL 'tree': expected one of app, exercises"),
    ({"threads": 0}, "threads must be a whole number ≥ 1"),
    ({"port": 70000}, "port must be a port number in 1…65535"),
    ({"port": 8081}, "must differ"),
    ({"cull_kernel": -5}, "cull-kernel must be a number ≥ 0"),
    ({"cull_interval": 0}, "cull-interval must be a number > 0"),
    ({"gpu_memory_fraction": 1.5}, "gpu-memory-fraction must be in (0, 1]"),
    ({"home_template": "/srv/home"}, "home-template must contain {username}"),
    ({"extra_env": {"BAD NAME": "1"}}, "environment variable names"),
])
def test_bad_values_name_what_was_expected(kwargs: dict, expected: str) -> None:
    with pytest.raises(InputError) as info:
        HubOptions(**kwargs)
    assert expected in str(info.value)


def test_memory_sizes() -> None:
    assert parse_memory("1.5G") == 1536 * 2**20
    assert parse_memory("800M") == parse_memory("800MiB") == 800 * 2**20
    assert parse_memory(4096) == 4096


def test_cli_writes_the_config_and_refuses_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["hub-config", "--out", str(tmp_path), "--default-url", "exercises", "--threads", "2",
                 "--env", "LABKIT_APP_EPOCHS=5", "--checkpoint", str(tmp_path / "ck")]) == 0
    c = load(tmp_path / "jupyterhub_config.py")
    assert c.Spawner.environment["LABKIT_APP_EPOCHS"] == "5"
    assert c.Spawner.environment["LABKIT_APP_CHECKPOINT"] == str(tmp_path / "ck")
    capsys.readouterr()
    assert main(["hub-config", "--out", str(tmp_path / "x"), "--mem-limit=-2G"]) == 2
    assert main(["hub-config", "--out", str(tmp_path / "x"), "--spawner", "slurm"]) == 2
    err = capsys.readouterr().err
    assert "memory limit must be positive" in err and "expected one of simple, local" in err
    assert not (tmp_path / "x").exists()  # nothing written for a bad value
    assert main(["hub-config", "--env", "NOEQUALS"]) == 2
    assert "--env takes KEY=VALUE" in capsys.readouterr().err


def test_prepare_home_copies_once_and_keeps_student_edits(tmp_path: Path) -> None:
    course = tmp_path / "course"
    course.mkdir()
    (course / "01.ipynb").write_text("{}")
    home = tmp_path / "home"
    home.mkdir()
    assert {p.name for p in prepare_home(home, course)} == {"lab_app.ipynb", "exercises"}
    (home / "exercises" / "01.ipynb").write_text("student work")
    assert prepare_home(home, course) == []
    assert (home / "exercises" / "01.ipynb").read_text() == "student work"
    with pytest.raises(InputError, match="exercises folder .* not found"):
        prepare_home(home, tmp_path / "missing")

