"""Counterfactual movie export: GIF frame count and labels, PNG strip, bad input."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from labkit.errors import InputError
from labkit.render import gray_rgb, upscale
from labkit.render.counterfactual import frame_label, frame_strip_png, labelled_frames, movie_gif, save_movie

F, S = 5, 16


@pytest.fixture
def sweep() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    frames = torch.rand(F, 1, S, S, generator=gen) * 2 - 1
    return frames, torch.linspace(-40.0, 10.0, F), torch.tensor([0.2, 0.4, 0.6, 0.7, 0.9])


def gif_frames(data: bytes) -> list[np.ndarray]:
    img = Image.open(io.BytesIO(data))
    assert img.format == "GIF"
    out = []
    for i in range(img.n_frames):
        img.seek(i)
        out.append(np.asarray(img.convert("RGB")))
    return out


def test_label_text() -> None:
    assert frame_label(-12.5, 0.4321) == "λ=-12.5  p=0.43"
    assert frame_label(0.0, 1.0, "p(pneumonia)") == "λ=0  p(pneumonia)=1.00"


def test_frames_show_the_image_and_a_label_band(sweep) -> None:
    tiles = labelled_frames(*sweep, scale=3)
    assert len(tiles) == F and all(t.shape[1:] == (S * 3, 3) and t.shape[0] > S * 3 for t in tiles)
    for tile, frame in zip(tiles, sweep[0]):
        assert np.array_equal(tile[:S * 3], upscale(gray_rgb(frame), 3))
    bands = [t[S * 3:] for t in tiles]
    assert all((b < 128).any() for b in bands)  # dark text on the white band
    assert len({b.tobytes() for b in bands}) == F  # every frame has its own label


def test_same_label_same_band(sweep) -> None:
    frames, _, _ = sweep
    a, b = labelled_frames(frames[:2], [3.0, 3.0], [0.5, 0.5])
    assert np.array_equal(a[S * 4:], b[S * 4:])


@pytest.mark.parametrize("bounce,count", [(False, F), (True, 2 * F - 2)])
def test_gif_frame_count_and_size(sweep, bounce, count) -> None:
    frames = gif_frames(movie_gif(*sweep, bounce=bounce, scale=2))
    assert len(frames) == count
    assert frames[0].shape[:2] == labelled_frames(*sweep, scale=2)[0].shape[:2]
    tiles = labelled_frames(*sweep, scale=2)
    order = list(range(F)) + (list(range(F - 2, 0, -1)) if bounce else [])
    for got, i in zip(frames, order):  # GIF palettes are lossy for text antialiasing: compare the image part
        assert np.abs(got[:S * 2].astype(int) - tiles[i][:S * 2].astype(int)).max() <= 8


def test_strip_png(sweep) -> None:
    one_row = Image.open(io.BytesIO(frame_strip_png(*sweep, scale=2)))
    two_rows = Image.open(io.BytesIO(frame_strip_png(*sweep, scale=2, columns=3)))
    assert one_row.format == "PNG" and one_row.width > two_rows.width and two_rows.height > one_row.height


def test_save_movie(sweep, tmp_path) -> None:
    gif, png = save_movie(tmp_path / "out" / "case1", *sweep)
    assert gif.name == "case1.gif" and png.name == "case1.png"
    assert len(gif_frames(gif.read_bytes())) == 2 * F - 2 and png.read_bytes()[:4] == b"\x89PNG"


def test_zero_frames(tmp_path) -> None:
    with pytest.raises(InputError, match="at least one frame"):
        movie_gif(torch.zeros(0, 1, S, S), [], [])
    with pytest.raises(InputError, match="at least one frame"):
        save_movie(tmp_path / "x", torch.zeros(0, 1, S, S), [], [])
    assert not list(tmp_path.iterdir())


def test_each_frame_needs_a_lambda_and_a_probability(sweep) -> None:
    frames, lam, p = sweep
    with pytest.raises(InputError, match="5 frames, 4 λ"):
        movie_gif(frames, lam[:4], p)


def test_bad_scale(sweep) -> None:
    with pytest.raises(InputError, match="scale"):
        movie_gif(*sweep, scale=0)
