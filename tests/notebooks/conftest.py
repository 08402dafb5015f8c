"""Notebook tests: the background pipeline (see ``nbhelp``) starts once pytest has
collected any test of this folder and is shut down at the end of the session."""
from __future__ import annotations

import pytest

import nbhelp

_PIPELINE: list[nbhelp.Pipeline] = []


def pytest_collection_modifyitems(session, config, items):
    here = str(nbhelp.REPO / "tests" / "notebooks")
    if not _PIPELINE and any(str(item.fspath).startswith(here) for item in items):
        _PIPELINE.append(nbhelp.Pipeline())


def pytest_sessionfinish(session, exitstatus):
    while _PIPELINE:
        _PIPELINE.pop().close()


@pytest.fixture(scope="session")
def pipeline() -> nbhelp.Pipeline:
    if not _PIPELINE:
        _PIPELINE.append(nbhelp.Pipeline())
    return _PIPELINE[0]


@pytest.fixture(scope="session")
def warm_cache(pipeline: nbhelp.Pipeline) -> nbhelp.Pipeline:
    pipeline.warm.result(timeout=900)
    return pipeline
