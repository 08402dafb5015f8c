"""Shared input checks (images, targets), device resolution and the error hierarchy."""
from __future__ import annotations

import pytest
import torch

from labkit.device import resolve_device
from labkit.errors import CheckpointError, DataNotFoundError, InputError, LabkitError, TrainingError
from labkit.validation import check_images, check_targets


def test_error_hierarchy() -> None:
    for cls in (InputError, DataNotFoundError, CheckpointError, TrainingError):
        assert issubclass(cls, LabkitError)
    assert issubclass(InputError, ValueError) and issubclass(DataNotFoundError, FileNotFoundError)


def test_check_images_accepts_and_returns_a_valid_batch() -> None:
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    assert check_images(x) is x
    assert check_images(torch.rand(1, 3, 4, 4), channels=3) is not None
    assert check_images(torch.full((1, 1, 4, 4), 5.0), check_range=False) is not None


@pytest.mark.parametrize("x,match", [
    (torch.rand(1, 8, 8).numpy(), "torch.Tensor"),
    (torch.rand(1, 8, 8), "unsqueeze\\(0\\)"),
    (torch.rand(1, 3, 8, 8), "1 channel"),
    (torch.zeros(1, 1, 8, 8, dtype=torch.uint8), "float"),
    (torch.zeros(0, 1, 8, 8), "empty"),
    (torch.full((1, 1, 2, 2), float("nan")), "NaN"),
    (torch.full((1, 1, 2, 2), float("inf")), "NaN or infinite"),
    (torch.full((1, 1, 2, 2), 1.5), "normalize\\(\\)"),
    (torch.full((1, 1, 2, 2), -3.0), "\\[-1, 1\\]"),
])
def test_check_images_errors_say_what_was_expected(x, match: str) -> None:
    with pytest.raises(InputError, match=match):
        check_images(x)


def test_check_images_tolerates_float_rounding_at_the_range_edges() -> None:
    check_images(torch.tensor([1.0 + 1e-6, -1.0 - 1e-6]).view(1, 1, 1, 2))


def test_check_images_names_the_argument() -> None:
    with pytest.raises(InputError, match="^uploaded image"):
        check_images(torch.rand(1, 2, 2), name="uploaded image")


@pytest.mark.parametrize("target,n,expected", [
    (1, 3, [1, 1, 1]),
    ([0, 1, 0], 3, [0, 1, 0]),
    (torch.tensor([1]), 4, [1, 1, 1, 1]),
    (torch.tensor([[0], [1]]), 2, [0, 1]),
    ((1, 0), 2, [1, 0]),
])
def test_check_targets_broadcasts_and_flattens(target, n: int, expected: list[int]) -> None:
    t = check_targets(target, n, 2)
    assert t.dtype == torch.long and t.tolist() == expected


@pytest.mark.parametrize("target,match", [
    (2, "out of range"), (-1, "out of range"), ([0, 1], "one class per image"), (True, "bool"),
    (0.5, "integer"), ([0.0, 1.0, 0.0], "integer"), (torch.tensor([True, False, True]), "integer"),
    ("one", "int or a sequence"), (object(), "int or a sequence"),
])
def test_check_targets_errors(target, match: str) -> None:
    with pytest.raises(InputError, match=match):
        check_targets(target, 3, 2)


def test_check_targets_moves_to_the_device() -> None:
    assert check_targets(1, 2, 2, device=torch.device("cpu")).device == torch.device("cpu")


def test_resolve_device() -> None:
    auto = resolve_device("auto")
    assert resolve_device(None) == auto
    if torch.cuda.is_available():
        assert auto.type == "cuda"
    elif not torch.backends.mps.is_available():
        assert auto == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(InputError, match="unknown device 'gpu7'"):
        resolve_device("gpu7")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            resolve_device("cuda:0")
