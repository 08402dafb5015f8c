"""Fixtures for the checks' mutation tests.

Every code exercise has correct implementations written in different styles (all
must pass) and plausible wrong ones (each must fail with the message naming its
mistake); the assertions live in ``checkhelp``. LABKIT_CHECKS_DEBUG makes a bug
inside a checker raise instead of turning into feedback.
"""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _debug_and_one_thread(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LABKIT_CHECKS_DEBUG", "1")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True, scope="session")
def _torch_func_loaded():
    """torch.func's first call imports a lot (seconds on a busy machine): not the check's time."""
    torch.func.vmap(torch.func.grad(lambda v: (v ** 2).sum()))(torch.ones(2, 3))
