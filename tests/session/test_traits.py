"""A state trait set to a value of the wrong type raises InputError, and nothing changes."""
from __future__ import annotations

import numpy as np
import pytest

from labkit.errors import InputError
from labkit.session import ExperimentState

CASES = [  # owner, trait, wrong value, what the message must say
    ("selection", "image_index", "3", "Selection.image_index must be an int, not the str '3'"),
    ("selection", "image_index", 2.5, "Selection.image_index must be an int, not the float 2.5"),
    ("selection", "target", None, "Selection.target must be an int (class explained by every map), not the NoneType"),
    ("selection", "split", 1, "Selection.split must be a string, not the int 1"),
    ("selection", "misclassified", "yes", "Selection.misclassified must be a boolean"),
    ("selection", "custom_image", np.zeros((1, 1, 28, 28)), "Selection.custom_image must be a Tensor or None "
                                                            "(an uploaded image (1, C, H, W)), not the ndarray"),
    ("state", "marker", "corner", "ExperimentState.marker must be a MarkerSpec or None"),
    ("state", "models", ["baseline"], "ExperimentState.models must be a dict (name → ModelEntry"),
    ("state", "data", "pneumoniamnist", "ExperimentState.data must be a LabData or None, not the str"),
    ("state", "active_model", 0, "ExperimentState.active_model must be a string, not the int 0"),
    ("training", "progress", "half", "TrainingJob.progress must be a float (fraction done, 0…1), not the str 'half'"),
]


@pytest.mark.parametrize("owner,trait,bad,message", CASES, ids=[f"{c[1]}={c[2]!r}"[:30] for c in CASES])
def test_a_wrong_type_is_an_input_error_and_changes_nothing(pneumonia28, owner, trait, bad, message) -> None:
    state = ExperimentState(device="cpu", data=pneumonia28)
    state.selection.image_index = 7
    obj = {"state": state, "selection": state.selection, "training": state.training}[owner]
    before = getattr(obj, trait)
    seen: list = []
    obj.observe(seen.append, trait)
    with pytest.raises(ValueError) as caught:  # InputError is a ValueError: `except ValueError` catches it
        setattr(obj, trait, bad)
    assert isinstance(caught.value, InputError) and message in str(caught.value), str(caught.value)
    assert getattr(obj, trait) is before and seen == []


def test_the_right_types_still_go_through_and_validators_still_speak(pneumonia28) -> None:
    state = ExperimentState(device="cpu", data=pneumonia28)
    state.selection.image_index = 3
    state.selection.misclassified = False
    assert state.selection.image_index == 3
    with pytest.raises(InputError, match="out of range"):
        state.selection.image_index = 10_000
    state.cache_note = "a plain attribute"  # not a trait: set as usual
    assert state.cache_note == "a plain attribute"
