"""The one registry helper behind markers, models, explainers and metrics."""
import pytest

from labkit.data import MARKERS
from labkit.errors import InputError
from labkit.evaluate import METRICS
from labkit.explain.base import EXPLAINERS
from labkit.models import MODELS
from labkit.registry import Registry


def test_order_lookup_and_error_names_choices() -> None:
    reg = Registry[int]("number")
    reg.add("one", 1)
    reg.register("two")(2)
    assert reg.names() == ["one", "two"] and reg.get("two") == 2 and "one" in reg and len(reg) == 2
    with pytest.raises(InputError, match=r"unknown number 'three'; choose one of \['one', 'two'\]"):
        reg.get("three")


def test_same_definition_replaces_a_different_one_is_refused() -> None:
    reg = Registry[int]("number")
    reg.add("one", 1)
    reg.add("one", 1)
    with pytest.raises(ValueError, match="already used"):
        reg.add("one", 11)
    assert reg.get("one") == 1


def test_bad_names_are_refused() -> None:
    with pytest.raises(TypeError, match="non-empty string"):
        Registry[int]("number").add("", 1)


@pytest.mark.parametrize("registry", [MARKERS, METRICS, EXPLAINERS, MODELS])
def test_every_labkit_table_is_a_registry(registry) -> None:
    assert isinstance(registry, Registry) and len(registry) > 0
    with pytest.raises(InputError, match="choose one of"):
        registry.get("no-such-name")
