"""The bad-input battery: each case gets a clear labkit error naming what was expected, and nothing changes."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from labkit.checkpoint import ModelEntry, load_experiment, save_experiment
from labkit.data import BurnedText, CornerSquare, load_image, load_pneumonia
from labkit.errors import CheckpointError, DataFileError, InputError
from labkit.evaluate import pointing_game
from labkit.models import SmallCNN
from labkit.render import compose
from labkit.session import ExperimentState


@pytest.mark.parametrize("kwargs", [dict(size=2.5), dict(size="8"), dict(size=True), dict(margin=-1)])
def test_marker_sizes_must_be_whole_pixels(kwargs) -> None:
    with pytest.raises(InputError, match="whole number of pixels"):
        CornerSquare(**kwargs)


def test_burned_text_font_size_and_intensity() -> None:
    with pytest.raises(InputError, match="font_size"):
        BurnedText(font_size=3.5)
    with pytest.raises(InputError, match="intensity"):
        CornerSquare(intensity="white")


def test_a_marker_larger_than_the_images_is_refused_when_set(pneumonia28) -> None:
    state = ExperimentState(device="cpu", data=pneumonia28)
    with pytest.raises(InputError, match="does not fit a 28×28 image"):
        state.marker = CornerSquare(size=40)
    assert state.marker is None


def test_a_state_trait_of_the_wrong_type_is_an_input_error_not_a_trait_error(pneumonia28) -> None:
    state = ExperimentState(device="cpu", data=pneumonia28)
    with pytest.raises(InputError, match=r"^Selection.image_index must be an int, not the str '3'$"):
        state.selection.image_index = "3"
    with pytest.raises(InputError, match=r"^ExperimentState.marker must be a MarkerSpec or None .* not the str"):
        state.marker = "corner"
    assert state.selection.image_index == 0 and state.marker is None  # more cases: tests/session/test_traits.py


def _write(folder, content: bytes | None = None, **arrays) -> None:
    folder.mkdir()
    path = folder / "pneumoniamnist.npz"
    if content is not None:
        path.write_bytes(content)
    else:
        np.savez(path, **arrays)


@pytest.mark.parametrize("case", ["truncated", "empty", "wrong keys"])
def test_a_damaged_data_file_names_the_file_and_the_fix(tmp_path, data_dir, case) -> None:
    good = (data_dir / "pneumoniamnist.npz").read_bytes()
    folder = tmp_path / "d"
    if case == "truncated":
        _write(folder, good[: len(good) // 2])
    elif case == "empty":
        _write(folder, b"")
    else:
        _write(folder, foo=np.zeros(3))
    with pytest.raises(DataFileError, match="cannot be read .*download it again"):
        load_pneumonia(28, folder, download=False, device="cpu")


def test_a_corrupt_checkpoint_never_suggests_weights_only_false(tmp_path) -> None:
    model = SmallCNN(width=4, hidden=8)
    save_experiment(tmp_path, {"m": ModelEntry("m", "small_cnn", model, kwargs={"width": 4, "hidden": 8})},
                    image_size=28, dataset="x")
    (tmp_path / "models" / "m.pt").write_bytes(b"\x80\x04not a pickle at all")
    with pytest.raises(CheckpointError) as err:
        load_experiment(tmp_path, "cpu")
    assert "weights_only" not in str(err.value) and "corrupt" in str(err.value)


def _png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w), 128, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_load_image_refuses_a_bad_size_and_a_tiny_image() -> None:
    with pytest.raises(InputError, match="whole number of pixels ≥ 1"):
        load_image(_png(64, 64), size=0)
    with pytest.raises(InputError, match=r"'scan.png' is only 1×1 pixels"):
        load_image(_png(1, 1), size=64, name="scan.png")


def test_an_unreadable_upload_is_named_by_its_file_name() -> None:
    with pytest.raises(InputError, match="'notes.png'") as err:
        load_image(b"not an image", name="notes.png")
    assert "BytesIO" not in str(err.value)


def test_pointing_game_refuses_an_empty_mask_like_topk_iou() -> None:
    with pytest.raises(InputError, match="mask is empty"):
        pointing_game(torch.rand(1, 8, 8), torch.zeros(1, 8, 8, dtype=torch.bool))


def test_an_all_nan_map_is_an_error_not_a_blank_picture() -> None:
    with pytest.raises(InputError, match="no finite value"):
        compose(torch.zeros(1, 8, 8), torch.full((8, 8), float("nan")))


def test_a_data_file_without_training_images_fails_at_load_not_later(tmp_path, data_dir) -> None:
    with np.load(data_dir / "pneumoniamnist.npz") as npz:
        arrays = {k: npz[k] for k in npz.files if k != "train_images"}
    _write(tmp_path / "d", **arrays)
    with pytest.raises(DataFileError, match="no train_images"):
        load_pneumonia(28, tmp_path / "d", download=False, device="cpu")
