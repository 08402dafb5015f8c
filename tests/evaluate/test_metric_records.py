from __future__ import annotations

import pytest

import labkit.evaluate as ev
from labkit.errors import InputError


def test_every_metric_names_a_function_and_a_direction():
    for name in ev.list_metrics():
        m = ev.get_metric(name)
        assert callable(getattr(ev, m.function))
        assert isinstance(m.higher_is_better, bool) and m.description
    assert ev.get_metric("deletion_auc").label == "deletion auc ↓"
    assert ev.get_metric("insertion_auc").arrow == "↑"


def test_unknown_metric():
    with pytest.raises(InputError, match="deletion_auc"):
        ev.get_metric("faithfulness")
