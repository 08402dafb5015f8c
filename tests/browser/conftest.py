"""A real Voilà server and a headless Chromium for the lecture-app test.

The server is started exactly as ``labkit app`` starts it (``voila_command``, one
preheated kernel, a checkpoint with one trained model), on a free localhost port, in its
own process group, and is always terminated (kernels included). The page is opened when
``labkit app`` would open the browser (:func:`labkit.commands.app.wait_preheated`). Chromium is the system one (``/usr/bin/chromium``, Debian's package;
``bash scripts/setup.sh`` installs it) driven through the PyPI
``playwright`` package — no browser is downloaded.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from harness import stop_group
from labkit.cli import main as labkit_main
from labkit.commands.app import notebook_path, voila_command, wait_preheated

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_NOTEBOOK = REPO_ROOT / "labkit" / "notebooks" / "lab_app.ipynb"
SERVER_START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the system Chromium (the test fails with instructions when there is none)."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("Chromium not found: install Debian's chromium (bash scripts/setup.sh) or "
                "deselect the browser test with -m 'not browser'", pytrace=False)


@dataclass(frozen=True)
class VoilaApp:
    """A running lecture app: its URL and when its server was started (``time.monotonic()``)."""

    url: str
    started: float


@pytest.fixture(scope="session")
def lecture_checkpoint(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A checkpoint with one really trained model, ``lecture_cnn`` (128 images, one epoch, 64 px)."""
    out = tmp_path_factory.mktemp("shared") / "lecture"
    assert labkit_main(["train", "--epochs", "1", "--subset", "128", "--size", "64", "--no-download", "--device", "cpu",
                        "--data-dir", str(data_dir), "--name", "lecture_cnn", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def voila_app(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, lecture_checkpoint: Path) -> Iterator[VoilaApp]:
    """The lecture app as ``labkit app --checkpoint`` serves it, on real data, small training defaults (one server
    for a test module: each page gets a kernel of its own)."""
    tmp_path = tmp_path_factory.mktemp("voila")
    assert APP_NOTEBOOK.read_bytes() == notebook_path().read_bytes(), "the two app notebook copies differ"
    port = _free_port()
    env = {**os.environ, "LABKIT_DATA_DIR": str(data_dir), "LABKIT_APP_DATASET": "pneumoniamnist",
           "LABKIT_APP_CHECKPOINT": str(lecture_checkpoint),
           "LABKIT_APP_SUBSET": "128", "LABKIT_APP_EPOCHS": "1", "LABKIT_APP_WIDTH": "4", "LABKIT_APP_DEVICE": "cpu",
           "LABKIT_APP_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    log_path = tmp_path / "voila.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(voila_command(APP_NOTEBOOK, port, ip="127.0.0.1", no_browser=True),
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
                                start_new_session=True)
    try:
        end = time.monotonic() + SERVER_START_TIMEOUT
        while not _port_open(port):
            if proc.poll() is not None or time.monotonic() > end:
                pytest.fail(f"Voilà did not start on port {port}:\n{log_path.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.2)
        wait_preheated(proc, SERVER_START_TIMEOUT)
        yield VoilaApp(f"http://127.0.0.1:{port}/", started)
    finally:
        stop_group(proc)
