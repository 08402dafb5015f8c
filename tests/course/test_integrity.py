"""The grading process's integrity snapshot: what Python caches by itself is no tampering."""
from __future__ import annotations

import copy
import pickle

import labkit.checks.compare as compare
from labkit.checks import CheckResult, fixtures
from labkit.course.integrity import Snapshot
from labkit.models import SmallCNN


def test_copying_and_pickling_labkit_objects_changes_nothing():
    snapshot = Snapshot()
    copy.deepcopy(fixtures.cases()[0])
    pickle.loads(pickle.dumps(SmallCNN()))
    for name in dir(__import__("labkit.models", fromlist=["x"])):
        obj = getattr(__import__("labkit.models", fromlist=["x"]), name)
        if isinstance(obj, type):
            try:
                copy.copy(obj.__new__(obj))
            except Exception:  # noqa: BLE001 - classes that need arguments are not the point
                pass
    assert snapshot.changed() == []


def test_replacing_or_adding_is_seen():
    snapshot = Snapshot()
    old_close, old_repr = compare.close, CheckResult.__repr__
    try:
        compare.close = lambda *a, **k: True
        CheckResult.__repr__ = lambda self: "all good"
        assert {"labkit.checks.compare.close", "labkit.checks.result.CheckResult.class.__repr__"} <= set(snapshot.changed())
    finally:
        compare.close, CheckResult.__repr__ = old_close, old_repr
    assert snapshot.changed() == []
