"""ExplainerSelector: image/model/method controls, PNG heatmaps, bursts, errors, sync."""
from __future__ import annotations

import io

import ipywidgets as W
import numpy as np
import pytest
from PIL import Image

from labkit.data import CornerSquare
from labkit.explain import get_explainer
from labkit.panels import ExplainerSelector, upload_entry
from labkit.session import ExperimentState


def size_of(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def test_no_model_is_a_status_message_not_an_exception(state: ExperimentState) -> None:
    p = ExplainerSelector(state, debounce=0)
    p.refresh()
    assert p.status.kind == "error" and "no model yet" in p.status.text
    assert p.original.value[:4] == b"\x89PNG"  # the image is still shown
    empty = ExplainerSelector(ExperimentState(device="cpu"), debounce=0)
    empty.refresh()
    assert "no data" in empty.prediction.value


def test_renders_every_selected_method_as_png(trained_state: ExperimentState) -> None:
    p = ExplainerSelector(trained_state, methods=("gradient", "gradcam", "occlusion"), debounce=0, scale=4)
    p.refresh()
    for m in ("gradient", "gradcam", "occlusion"):
        png = p.images[m].value
        assert png[:4] == b"\x89PNG" and size_of(png) == (128, 128)
        assert " ms" not in p.infos[m].value and p.timings[m] > 0  # no developer timings on screen
    assert "predicts" in p.prediction.value and "p(pneumonia)" in p.prediction.value
    assert p.status.kind != "error", p.status.text


def test_sliders_are_built_from_param_specs(trained_state: ExperimentState) -> None:
    p = ExplainerSelector(trained_state, methods=("smoothgrad", "integrated_gradients", "gradcam"), debounce=0)
    for method in ("smoothgrad", "integrated_gradients", "gradcam"):
        specs = get_explainer(method).params
        assert set(p.param_widgets[method]) == {s.name for s in specs}
        for spec in specs:
            w = p.param_widgets[method][spec.name]
            if spec.kind == "float" and spec.min is not None:
                assert isinstance(w, W.FloatSlider) and (w.min, w.max) == (spec.min, spec.max)
            if spec.kind == "choice":
                assert isinstance(w, W.Dropdown) and tuple(w.options) == tuple(spec.choices)
            if spec.kind == "layer":
                assert w.value == "features.relu3" and "features.conv1" in w.options
    n = p.param_widgets["smoothgrad"]["n_samples"]
    assert isinstance(n, W.IntSlider) and n.value == 25


def test_opacity_and_params_change_the_png(trained_state: ExperimentState) -> None:
    p = ExplainerSelector(trained_state, methods=("gradient", "smoothgrad"), debounce=0)
    before = p.images["gradient"].value
    p.opacity.value = 0.9
    assert p.images["gradient"].value != before
    assert p.from_cache["gradient"]  # display change: no recompute
    sg = p.images["smoothgrad"].value
    p.param_widgets["smoothgrad"]["n_samples"].value = 5
    assert p.images["smoothgrad"].value != sg and not p.from_cache["smoothgrad"]
    assert p.rendered["smoothgrad"]["n_samples"] == 5
    g = p.images["gradient"].value
    p.mode.value = "signed"
    assert p.images["gradient"].value != g
    p.scale_mode.value = "shared"
    assert p.status.kind != "error"


def test_burst_of_100_slider_changes_ends_on_the_last_value(trained_state: ExperimentState) -> None:
    p = ExplainerSelector(trained_state, methods=("gradient", "gradcam"), debounce=0.02)
    assert p.wait(30)
    values = np.linspace(0.0, 1.0, 100).round(2)
    for v in values:
        p.opacity.value = float(v)
    assert p.wait(30)
    assert p.rendered["opacity"] == pytest.approx(values[-1])
    assert p._renderer.runs < 100  # coalesced
    expected = ExplainerSelector(trained_state, methods=("gradient", "gradcam"), debounce=0)
    expected.opacity.value = float(values[-1])
    assert p.images["gradient"].value == expected.images["gradient"].value
    assert p.status.kind != "error"


def test_burst_of_index_changes_synchronous_path(trained_state: ExperimentState) -> None:
    p = ExplainerSelector(trained_state, methods=("gradient",), debounce=0)
    for i in range(100):
        p.index.value = i % 48
    assert trained_state.selection.image_index == 99 % 48
    assert p.rendered["index"] == 99 % 48 and p.status.kind != "error"


def test_invalid_parameter_combination_shows_in_status(trained_state: ExperimentState) -> None:
    p = ExplainerSelector(trained_state, methods=("gradient", "occlusion"), debounce=0)
    occ = p.param_widgets["occlusion"]
    assert occ["patch"].max == 32  # unbounded int params are bounded by the image size
    occ["patch"].value = 4
    occ["stride"].value = 8  # stride > patch: pixels would be skipped
    assert p.status.kind == "error" and "stride 8 is larger than patch 4" in p.status.text
    assert p.images["occlusion"].value == b"" and "⚠" in p.infos["occlusion"].value
    assert p.images["gradient"].value[:4] == b"\x89PNG"  # the other method still renders
    occ["stride"].value = 2
    assert p.status.kind != "error" and p.images["occlusion"].value[:4] == b"\x89PNG"


def test_upload_any_size_png(trained_state: ExperimentState, png_bytes) -> None:
    p = ExplainerSelector(trained_state, methods=("gradient",), debounce=0)
    before = p.images["gradient"].value
    p.upload.value = (upload_entry(png_bytes(300, 200), "xray.png"),)
    assert trained_state.selection.custom_image is not None and tuple(trained_state.selection.custom_image.shape) == (1, 1, 32, 32)
    assert p.images["gradient"].value != before and "uploaded image" in p.prediction.value
    assert not p.back.disabled
    p.upload.value = (upload_entry(b"not an image", "bad.png"),)
    assert p.status.kind == "error" and "could not read an image" in p.status.text
    p.back.click()
    assert trained_state.selection.custom_image is None


def test_class_filter_and_misclassified(trained_state: ExperimentState) -> None:
    p = ExplainerSelector(trained_state, methods=("gradient",), debounce=0)
    labels = trained_state.data["test"].labels
    p.class_filter.value = 1
    assert int(labels[trained_state.selection.image_index]) == 1
    assert p.index.max == int((labels == 1).sum()) - 1
    p.index.value = 3
    assert int(labels[trained_state.selection.image_index]) == 1
    p.class_filter.value = -1
    p.misclassified.value = True
    assert p.status.kind != "error"
    assert "shown" in p.index_label.value or "no image" in p.index_label.value


def test_target_and_model_controls_follow_state(trained_state: ExperimentState, tiny_entry) -> None:
    import copy

    p = ExplainerSelector(trained_state, methods=("gradient",), debounce=0)
    p.target.value = 0
    assert trained_state.selection.target == 0 and "explaining class <b>normal</b>" in p.prediction.value
    other = copy.deepcopy(tiny_entry)
    other.name = "second"
    trained_state.add_model(other)
    assert p.model.value == "second" and set(p.model.options) == {"baseline", "second"}
    p.model.value = "baseline"
    assert trained_state.active_model == "baseline"


def test_two_panels_stay_in_sync(trained_state: ExperimentState) -> None:
    a = ExplainerSelector(trained_state, methods=("gradient",), debounce=0)
    b = ExplainerSelector(trained_state, methods=("gradcam",), debounce=0)
    before = b.images["gradcam"].value
    a.index.value = 7
    assert trained_state.selection.image_index == 7 and b.index.value == 7
    assert b.rendered["index"] == 7 and b.images["gradcam"].value != before
    b.target.value = 0
    assert a.target.value == 0 and a.rendered["target"] == 0


def test_marked_images_are_outlined(trained_state: ExperimentState) -> None:
    p = ExplainerSelector(trained_state, methods=("gradient",), debounce=0)
    assert p.variant.disabled
    trained_state.marker = CornerSquare(size=6)
    assert not p.variant.disabled
    clean = p.original.value
    p.variant.value = "marked"
    mask = trained_state.selection.current().mask
    assert mask is not None and int(mask.sum()) == 36
    assert p.original.value != clean
    rgb = np.asarray(Image.open(io.BytesIO(p.original.value)).convert("RGB"))
    assert ((rgb == (0, 255, 255)).all(-1)).any()  # the marker is outlined in cyan


def test_no_model_is_reported_only_when_the_user_asks(state: ExperimentState) -> None:
    p = ExplainerSelector(state, debounce=0)
    assert p.status.kind != "error"  # opening the app without a model is not an error
    assert "no model yet" in p.prediction.value
    state.selection.image_index = 3  # another panel moved: still quiet
    assert p.status.kind != "error"
    p.opacity.value = 0.7  # the user asks for maps: now say why there are none
    assert p.status.kind == "error" and "no model yet" in p.status.text


def test_timings_only_when_asked_and_a_legend_per_mode(trained_state: ExperimentState) -> None:
    p = ExplainerSelector(trained_state, methods=("gradient",), debounce=0, show_timings=True)
    p.refresh()
    assert " ms" in p.infos["gradient"].value
    assert "dark = no attribution" in p.legend.value and "own maximum" in p.legend.value
    assert p.legend.colorbar.value[:4] == b"\x89PNG"
    bar = p.legend.colorbar.value
    p.mode.value, p.scale_mode.value = "signed", "shared"
    assert "red = for the class" in p.legend.value and "shared scale" in p.legend.value
    assert p.legend.colorbar.value != bar


def test_loading_data_after_the_panel_keeps_the_selection(pneumonia28) -> None:
    state = ExperimentState(device="cpu")
    p = ExplainerSelector(state, methods=("gradient",), debounce=0)
    state.data = pneumonia28
    assert state.selection.split == "test" and state.selection.target == 1
    assert p.split.value == "test" and p.target.value == 1
    p.split.value, p.target.value = "val", 0
    assert state.selection.split == "val" and state.selection.target == 0
