"""Bring-your-own images: any size and mode → (1, 1, size, size) in [-1, 1]."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from labkit.data import load_image
from labkit.errors import InputError


def _check(x: torch.Tensor, size: int = 64) -> None:
    assert tuple(x.shape) == (1, 1, size, size)
    assert x.dtype == torch.float32
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    assert float(x.std()) > 0.05  # an X-ray, not a flat image


@pytest.mark.parametrize("cls", ["NORMAL", "PNEUMONIA"])
def test_full_size_jpegs(data_dir: Path, cls: str) -> None:
    files = sorted((data_dir / "kermany_val16" / cls).glob("*.jpeg"))
    assert len(files) == 8
    for f in files[:2]:
        with Image.open(f) as im:
            assert im.size[0] > 500 and im.size[0] != im.size[1]  # large, not square
        _check(load_image(f))
        _check(load_image(str(f), size=28), size=28)


def test_rgb_png_matches_its_grayscale_original(data_dir: Path) -> None:
    nih = data_dir / "nih_cxr"
    rgb, gray = load_image(nih / "rgb128_00000001_000.png"), load_image(nih / "00000001_000.png")
    _check(rgb)
    _check(gray)
    assert float((rgb - gray).abs().mean()) < 0.1


def test_bytes_and_path_give_the_same_tensor(data_dir: Path) -> None:
    f = data_dir / "nih_cxr" / "00027426_000.png"
    assert torch.equal(load_image(f.read_bytes()), load_image(f))


def test_rgb_jpeg_of_odd_size_is_center_cropped(tmp_path: Path) -> None:
    arr = np.zeros((90, 150, 3), dtype=np.uint8)
    arr[:, 30:120] = 255  # the centered 90×90 square is white, the side bands black
    Image.fromarray(arr).save(tmp_path / "odd.jpg", quality=95)
    x = load_image(tmp_path / "odd.jpg", size=32)
    assert tuple(x.shape) == (1, 1, 32, 32)
    assert float(x[..., 2:-2].min()) > 0.8  # the black bands were cropped away


def test_16_bit_png_is_rescaled_to_the_full_range(tmp_path: Path) -> None:
    arr = np.tile(np.linspace(1000, 3000, 40, dtype=np.uint16), (40, 1))
    Image.fromarray(arr).save(tmp_path / "deep.png")
    x = load_image(tmp_path / "deep.png", size=40)
    assert float(x.min()) < -0.95 and float(x.max()) > 0.95


@pytest.mark.parametrize("source", [b"this is not an image", b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20])
def test_garbage_bytes_raise_input_error(source: bytes) -> None:
    with pytest.raises(InputError, match="PNG or JPEG"):
        load_image(source)


def test_truncated_jpeg_and_missing_file_raise_input_error(data_dir: Path, tmp_path: Path) -> None:
    data = next((data_dir / "kermany_val16" / "NORMAL").glob("*.jpeg")).read_bytes()
    with pytest.raises(InputError):
        load_image(data[: len(data) // 3])
    with pytest.raises(InputError, match="could not read"):
        load_image(tmp_path / "nope.png")
