"""A class on a real JupyterHub (loopback only): two students side by side in Chromium.

The configuration is the one ``labkit hub-config`` writes (DummyAuthenticator,
SimpleLocalProcessSpawner, Voilà per user, kernel culling after a few seconds), run by
:class:`labkit.hub.LocalHub` with configurable-http-proxy from the set-up's npm prefix.
Alice and Bob log in in two browser contexts and train at once; each must see only
their own models. Then: a killed kernel, a closed tab's kernel culled, and a missing
shared checkpoint (in a new tab: a new kernel in a running server).
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from harness import (CHROMIUM_ARGS, begin_login, class_options, kernels_of, memory_mb, start_training,
                     status_text, wait_trained, wait_usable)
from labkit.hub import LocalHub

CULL_KERNEL = 4  # seconds a closed tab's kernel may stay idle before the server stops it

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def checkpoint(lecture_checkpoint: Path) -> Path:
    """The shared checkpoint of the class: one really trained model, ``lecture_cnn``."""
    return lecture_checkpoint


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path, data_dir: Path) -> Iterator[LocalHub]:
    folder = tmp_path_factory.mktemp("hub")
    running = LocalHub(folder, class_options(folder, checkpoint, data_dir, cull_kernel=CULL_KERNEL, cull_interval=1,
                                             cull_server=0))
    try:
        running.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield running
    running.stop()
    assert running.proc is None


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS, timeout=30_000)
        yield b
        b.close()


@pytest.fixture(scope="module")
def students(hub: LocalHub, browser: Browser) -> dict:
    """Alice and Bob logged in at the same time, each in their own browser context."""
    contexts = {u: browser.new_context(viewport={"width": 1400, "height": 1000}) for u in ("alice", "bob")}
    t0 = time.monotonic()
    pages = {u: begin_login(c, hub.url, u) for u, c in contexts.items()}
    usable = {}
    for user, page in pages.items():
        try:
            wait_usable(page)
        except Exception:  # noqa: BLE001 - say why the server did not come up
            pytest.fail(f"{user}'s app did not open:\n{hub.log_tail()}", pytrace=False)
        usable[user] = time.monotonic() - t0
    print(f"login to usable app: {usable}")
    return {"contexts": contexts, "pages": pages, "homes": {u: hub.folder / "home" / u for u in pages}}


def test_two_students_train_at_once_and_see_only_their_own_models(students: dict) -> None:
    alice, bob = students["pages"]["alice"], students["pages"]["bob"]
    for page in (alice, bob):
        assert "lecture_cnn" in status_text(page), status_text(page)  # the shared checkpoint loaded
        assert "⚠" not in status_text(page)
    homes = students["homes"]
    idle = {u: [round(m) for m in memory_mb(kernels_of(h)[0])] for u, h in homes.items()}
    start_training(alice, "alice_cnn")
    start_training(bob, "bob_cnn")
    t0 = time.monotonic()
    took = {"alice": wait_trained(alice, "alice_cnn"), "bob": wait_trained(bob, "bob_cnn")}
    print(f"trainings side by side done after {time.monotonic() - t0:.1f} s: {took}")
    for page, own, other in ((alice, "alice_cnn", "bob_cnn"), (bob, "bob_cnn", "alice_cnn")):
        html = page.content()
        assert own in html and other not in html
        assert "Traceback" not in page.inner_text("body")
    assert len(kernels_of(homes["alice"])) == 1 and len(kernels_of(homes["bob"])) == 1
    after = {u: [round(m) for m in memory_mb(kernels_of(h)[0])] for u, h in homes.items()}
    print(f"kernel RSS / PSS / USS / anonymous MB: idle {idle}, after training {after}")


def test_a_killed_kernel_reopens_on_reload_and_leaves_the_other_student_alone(students: dict) -> None:
    alice, bob = students["pages"]["alice"], students["pages"]["bob"]
    (victim,) = kernels_of(students["homes"]["alice"])
    os.kill(victim, signal.SIGKILL)
    alice.reload(wait_until="commit", timeout=120_000)  # Voilà runs the notebook before the page is complete
    wait_usable(alice)
    text = status_text(alice)
    assert "lecture_cnn" in text and "⚠" not in text, text  # a fresh kernel, the shared models back
    assert "alice_cnn" not in alice.content()  # what the dead kernel held is gone, and the page says what it has
    start_training(bob, "bob_second")
    wait_trained(bob, "bob_second")
    assert "bob_cnn" in bob.content()  # Bob's kernel kept its state


def test_a_closed_tab_has_its_kernel_culled(students: dict) -> None:
    home = students["homes"]["bob"]
    assert kernels_of(home)
    students["pages"]["bob"].close()
    end = time.monotonic() + CULL_KERNEL + 30
    while kernels_of(home) and time.monotonic() < end:
        time.sleep(0.5)
    assert not kernels_of(home), "the closed tab's kernel is still running"
    assert kernels_of(students["homes"]["alice"])  # Alice's open tab keeps hers


def test_a_missing_shared_checkpoint_is_reported_and_the_app_still_opens(students: dict, checkpoint: Path) -> None:
    hidden = checkpoint.with_name("lecture-moved")
    checkpoint.rename(hidden)
    try:  # a new tab of a logged-in student: a new kernel, which reads the shared checkpoint at start
        page = students["contexts"]["alice"].new_page()
        page.goto(students["pages"]["alice"].url, wait_until="commit", timeout=120_000)
        wait_usable(page)
    finally:
        hidden.rename(checkpoint)
    text = status_text(page)
    assert "⚠" in text or "checkpoint" in text.lower(), text
    assert str(checkpoint) in text or "lecture" in text, text
    assert page.locator(".labkit-train-start").count() == 1  # the app is there and usable
    assert "Traceback" not in page.inner_text("body")
