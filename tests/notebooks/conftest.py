"""Notebook tests share one background pipeline (see ``nbhelp``): it starts with the first
notebook test, so it never competes with the tests of other folders, and it is shut down
at the end of the session."""
from __future__ import annotations

import pytest

import nbhelp


@pytest.fixture(scope="session")
def pipeline():
    p = nbhelp.Pipeline()
    yield p
    p.close()


@pytest.fixture(scope="session")
def warm_cache(pipeline: nbhelp.Pipeline) -> nbhelp.Pipeline:
    pipeline.warm.result(timeout=900)
    return pipeline
