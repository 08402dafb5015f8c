"""Loading PneumoniaMNIST: official splits, normalization, sizes, search order, offline errors."""
from __future__ import annotations

from pathlib import Path

import medmnist
import numpy as np
import pytest
import torch

from labkit.data import find_file, load_pneumonia, search_dirs
from labkit.errors import DataNotFoundError, InputError

OFFICIAL = {"train": (4708, [1214, 3494]), "val": (524, [135, 389]), "test": (624, [234, 390])}


@pytest.fixture
def offline_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Point $LABKIT_DATA_DIR and medmnist's default root at empty folders."""
    env, root = tmp_path / "env", tmp_path / "medmnist-root"
    env.mkdir()
    root.mkdir()
    monkeypatch.setenv("LABKIT_DATA_DIR", str(env))
    monkeypatch.setattr(medmnist.info, "DEFAULT_ROOT", str(root))
    return {"env": env, "root": root}


def _tiny_release(folder: Path, n: int = 6) -> Path:
    """A stand-in ``pneumoniamnist.npz`` with n images per split (all pixels 255)."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"{split}_images"] = np.full((n, 28, 28), 255, dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(n, 1).astype(np.uint8)
    np.savez(folder / "pneumoniamnist.npz", **arrays)
    return folder


@pytest.mark.parametrize("fixture", ["pneumonia28", "pneumonia64"])
def test_official_split_sizes_and_class_counts(fixture: str, request: pytest.FixtureRequest) -> None:
    data = request.getfixturevalue(fixture)
    assert list(data.splits) == ["train", "val", "test"]
    for name, (n, counts) in OFFICIAL.items():
        assert len(data[name]) == n
        assert data[name].class_counts() == counts


@pytest.mark.parametrize("fixture,size", [("pneumonia28", 28), ("pneumonia64", 64)])
def test_images_are_float32_in_unit_range_with_channel_axis(fixture: str, size: int,
                                                           request: pytest.FixtureRequest) -> None:
    data = request.getfixturevalue(fixture)
    assert data.size == size and data.device == torch.device("cpu")
    for split in data.splits.values():
        assert split.images.dtype == torch.float32
        assert split.labels.dtype == torch.long
        assert tuple(split.images.shape) == (len(split), 1, size, size)
        assert float(split.images.min()) >= -1.0 and float(split.images.max()) <= 1.0
    # both ends of the range are used: black is -1, white is +1
    train = data["train"].images
    assert float(train.min()) < -0.9 and float(train.max()) > 0.9


def test_native_size_has_no_upsampling_note(pneumonia28) -> None:
    assert not any("upsampled" in n for n in pneumonia28.notes)
    assert any("pneumoniamnist.npz" in n for n in pneumonia28.notes)


def test_64_px_is_upsampled_with_warning_and_note(data_dir: Path) -> None:
    with pytest.warns(UserWarning, match="upsampled from the 28×28 release"):
        data = load_pneumonia(64, data_dir, download=False, device="cpu", splits=("val",))
    assert list(data.splits) == ["val"]
    assert any("upsampled" in n for n in data.notes)
    assert "upsampled" in data.summary()


def test_upsampled_images_keep_the_28_px_content(pneumonia28, pneumonia64) -> None:
    # downsampling the 64 px copy back to 28 px gives the native images again (bilinear round trip)
    back = torch.nn.functional.interpolate(pneumonia64["test"].images[:50], size=(28, 28), mode="bilinear",
                                           antialias=True, align_corners=False)
    assert (back - pneumonia28["test"].images[:50]).abs().mean() < 0.05
    assert torch.equal(pneumonia64["test"].labels, pneumonia28["test"].labels)


def test_missing_file_offline_raises_clear_error(offline_empty: dict[str, Path], tmp_path: Path) -> None:
    explicit = tmp_path / "explicit"
    with pytest.raises(DataNotFoundError) as info:
        load_pneumonia(64, explicit, download=False, device="cpu")
    msg = str(info.value)
    assert "pneumoniamnist.npz" in msg
    for folder in (explicit, offline_empty["env"], offline_empty["root"]):
        assert str(folder) in msg
    assert "download" in msg and "LABKIT_DATA_DIR" in msg
    assert "zenodo" in msg.lower()
    assert isinstance(info.value, FileNotFoundError)  # catchable as the builtin too


def test_missing_file_without_data_dir_names_env_and_default_root(offline_empty: dict[str, Path]) -> None:
    with pytest.raises(DataNotFoundError, match="pneumoniamnist.npz") as info:
        load_pneumonia(28, download=False, device="cpu")
    assert str(offline_empty["env"]) in str(info.value) and str(offline_empty["root"]) in str(info.value)


def test_search_order_explicit_then_env_then_default(offline_empty: dict[str, Path], tmp_path: Path) -> None:
    explicit = tmp_path / "explicit"
    assert search_dirs(explicit) == [explicit, offline_empty["env"], offline_empty["root"]]
    assert search_dirs() == [offline_empty["env"], offline_empty["root"]]
    assert find_file(28, explicit) is None


def test_explicit_data_dir_wins_over_env(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _tiny_release(tmp_path / "fake")
    monkeypatch.setenv("LABKIT_DATA_DIR", str(fake))
    assert len(load_pneumonia(28, data_dir, download=False, device="cpu", splits=("val",))["val"]) == 524
    env_data = load_pneumonia(28, download=False, device="cpu", splits=("val",))
    assert len(env_data["val"]) == 6
    assert torch.all(env_data["val"].images == 1.0)  # uint8 255 is white = +1.0


def test_env_wins_over_medmnist_default_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _tiny_release(tmp_path / "env", n=4)
    root = _tiny_release(tmp_path / "root", n=8)
    monkeypatch.setenv("LABKIT_DATA_DIR", str(env))
    monkeypatch.setattr(medmnist.info, "DEFAULT_ROOT", str(root))
    assert find_file(28) == env / "pneumoniamnist.npz"
    monkeypatch.delenv("LABKIT_DATA_DIR")
    assert find_file(28) == root / "pneumoniamnist.npz"
    assert len(load_pneumonia(28, download=False, device="cpu", splits=("test",))["test"]) == 8


@pytest.mark.parametrize("kwargs", [dict(size=8), dict(size=1000), dict(size=64.0), dict(splits=("train", "dev"))])
def test_bad_arguments_raise_input_error(kwargs: dict, data_dir: Path) -> None:
    with pytest.raises(InputError):
        load_pneumonia(data_dir=data_dir, download=False, device="cpu", **kwargs)
