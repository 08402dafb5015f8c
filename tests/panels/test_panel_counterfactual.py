"""CounterfactualViewer: movie of the selected image (preview, then full), Play linked to λ, plot, map overlay,
export, errors."""
from __future__ import annotations

import io
import threading

import pytest
import torch
from PIL import Image

from labkit.checkpoint import save_autoencoder
from labkit.models.autoencoder import ConvAutoencoder
from labkit.panels import CounterfactualViewer, LabApp
from labkit.session import ExperimentState
from labkit.session import counterfactuals as cf

SIZE = 32


@pytest.fixture
def ae() -> ConvAutoencoder:
    torch.manual_seed(0)
    return ConvAutoencoder(SIZE, bottleneck=2, width=4).eval()


@pytest.fixture
def ready(trained_state: ExperimentState, ae: ConvAutoencoder) -> CounterfactualViewer:
    trained_state.autoencoder = ae
    p = CounterfactualViewer(trained_state, background=False, scale=2)
    p.n_frames.value = 6
    p.run.click()
    assert p.status.kind != "error", p.status.text
    return p


def size_of(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def test_movie_of_the_selected_image(ready: CounterfactualViewer, ae: ConvAutoencoder) -> None:
    movie = ready.movie
    assert movie.frames.shape == (6, 1, SIZE, SIZE) and len(movie.lambdas) == 6
    assert ready.frame.max == ready.play.max == 5 and ready.frame.value == movie.zero_index
    x = ready.state.selection.current().image
    with torch.no_grad():
        torch.testing.assert_close(movie.frames[movie.zero_index], ae(x)[0], rtol=1e-4, atol=1e-5)
    assert ready.frame_img.value[:4] == b"\x89PNG" and ready.plot.value[:4] == b"\x89PNG"
    assert size_of(ready.map_img.value) == (SIZE * 2, SIZE * 2)


def test_play_is_linked_to_the_slider(ready: CounterfactualViewer) -> None:
    before = ready.frame_img.value
    ready.play.value = 0
    assert ready.frame.value == 0 and f"λ = {float(ready.movie.lambdas[0]):.3g}" in ready.lam_label.value
    assert ready.frame_img.value != before or ready.movie.zero_index == 0
    ready.frame.value = 5
    assert ready.play.value == 5


def test_map_choice_changes_the_overlay(ready: CounterfactualViewer) -> None:
    shown = {}
    for name in ("max", "minmax"):
        ready.map_choice.value = name
        shown[name] = ready.map_img.value
    assert shown["max"] != shown["minmax"]


def test_export_writes_gif_and_strip(ready: CounterfactualViewer, tmp_path) -> None:
    ready.export_prefix.value = str(tmp_path / "case")
    ready.export_button.click()
    assert ready.status.kind == "ok", ready.status.text
    gif = Image.open(tmp_path / "case.gif")
    assert gif.n_frames == 2 * 6 - 2 and (tmp_path / "case.png").read_bytes()[:4] == b"\x89PNG"


def test_no_autoencoder_is_an_error_in_the_status_line(trained_state: ExperimentState) -> None:
    p = CounterfactualViewer(trained_state, background=False)
    assert "labkit train-ae" in p.ae_info.value
    p.run.click()
    assert p.status.kind == "error" and "labkit train-ae" in p.status.text and p.movie is None


def test_export_before_a_movie(trained_state: ExperimentState) -> None:
    p = CounterfactualViewer(trained_state, background=False)
    p.export_button.click()
    assert p.status.kind == "error" and "Make movie" in p.status.text


def test_autoencoder_of_another_size_is_refused(trained_state: ExperimentState) -> None:
    with pytest.raises(Exception, match="--size 32"):
        trained_state.autoencoder = ConvAutoencoder(28)
    assert trained_state.autoencoder is None


def test_load_a_folder(trained_state: ExperimentState, ae: ConvAutoencoder, tmp_path) -> None:
    p = CounterfactualViewer(trained_state, background=False)
    p.load_ae.click()
    assert p.status.kind == "error" and "train-ae" in p.status.text
    p.ae_folder.value = str(tmp_path / "missing")
    p.load_ae.click()
    assert p.status.kind == "error" and trained_state.autoencoder is None
    save_autoencoder(tmp_path / "ae", ae, {"test": {"mae": 0.1}})
    p.ae_folder.value = str(tmp_path / "ae")
    p.load_ae.click()
    assert p.status.kind == "ok" and isinstance(trained_state.autoencoder, ConvAutoencoder)
    assert "no autoencoder" not in p.ae_info.value


def test_a_tab_in_the_app(trained_state: ExperimentState) -> None:
    app = LabApp(trained_state, dataset=None, debounce=0, background=False)
    titles = [app.tabs.get_title(i) for i in range(len(app.panels))]
    assert isinstance(app.counterfactual, CounterfactualViewer) and titles[-1].endswith("Counterfactual")
    app.close()


def test_pretrained_autoencoder_button(trained_state: ExperimentState, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path))
    p = CounterfactualViewer(trained_state, background=False)
    p.pretrained_ae.click()
    assert p.status.kind == "ok" and "autoencoder ready" in p.status.text, p.status.text
    assert trained_state.autoencoder.size == SIZE and list(tmp_path.glob("autoencoder-*"))


def test_a_preview_movie_is_painted_first_then_the_full_one(trained_state: ExperimentState,
                                                             ae: ConvAutoencoder) -> None:
    trained_state.autoencoder = ae
    p = CounterfactualViewer(trained_state, background=False, scale=2)
    shown: list[tuple[str, int]] = []
    p.watch(p.caption, lambda change: shown.append((change["new"], len(p.movie.lambdas))), "value")
    p.run.click()
    assert shown == [("<i>preview: 6 frames, budget 10</i>", 6), ("<i>full: 20 frames, budget 100</i>", 20)]
    reference = cf.selected_movie(trained_state, n_frames=20, drop=0.3, rise=0.05)
    assert torch.equal(p.movie.frames, reference.frames) and torch.equal(p.movie.lambdas, reference.lambdas)


def test_a_newer_image_cancels_the_movie_refinement(trained_state: ExperimentState, ae: ConvAutoencoder,
                                                   monkeypatch) -> None:
    trained_state.autoencoder = ae
    p = CounterfactualViewer(trained_state, background=True, scale=2)
    previewed, go_on = threading.Event(), threading.Event()
    real = cf.progressive_movie

    def held(state, **params):
        stages = real(state, **params)
        yield next(stages)
        previewed.set()
        assert go_on.wait(30)
        yield from stages

    monkeypatch.setattr(cf, "progressive_movie", held)
    p.run.click()
    assert previewed.wait(30)
    trained_state.selection.image_index = 5  # the user moves on while the full movie is computed
    go_on.set()
    p.job.wait(30)
    assert p.job.status == "cancelled" and "preview" in p.caption.value and len(p.movie.lambdas) == 6
