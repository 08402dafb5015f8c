"""MarkerEditor: live preview, spec from controls, train the shortcut model, analysis."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from labkit.data import BorderStripe, BurnedText, CornerSquare
from labkit.panels import MarkerEditor
from labkit.session.analyses import shortcut_analysis
from labkit.session import ExperimentState


def test_spec_follows_the_controls(state: ExperimentState) -> None:
    p = MarkerEditor(state, background=False)
    assert p.spec() == CornerSquare(size=8, placement={1: "top-left", 0: "bottom-right"})
    p.size.value = 4
    p.pos_pneumonia.value = "top-right"
    assert p.spec() == CornerSquare(size=4, placement={1: "top-right", 0: "bottom-right"})
    p.kind.value = "stripe"
    assert tuple(p.pos_pneumonia.options) == ("top", "bottom", "left", "right")
    p.stripe_width.value = 2
    assert p.spec() == BorderStripe(width=2, placement={1: "left", 0: "right"})
    p.coding.value = "control"
    assert p.spec() == BorderStripe(width=2, placement="left") and not p.spec().label_coded
    assert p.pos_normal.layout.display == "none"
    p.kind.value = "text"
    p.text.value = "PORT"
    p.font_size.value = 8
    assert p.spec() == BurnedText(text="PORT", font_size=8, margin=0, placement="top-left")
    assert p.status.kind != "error", p.status.text


def test_preview_changes_and_outlines_the_marker(state: ExperimentState) -> None:
    p = MarkerEditor(state, background=False)
    first = p.preview.value
    assert first[:4] == b"\x89PNG"
    rgb = np.asarray(Image.open(io.BytesIO(first)).convert("RGB"))
    assert ((rgb == (0, 255, 255)).all(-1)).any()
    p.size.value = 3
    assert p.preview.value != first
    p.intensity.value = -1.0
    assert p.status.kind != "error"


def test_impossible_marker_is_a_status_message(state: ExperimentState) -> None:
    p = MarkerEditor(state, background=False)
    p.kind.value = "text"
    p.text.value = "PORTABLE CHEST"
    p.font_size.value = 30
    assert p.status.kind == "error" and "does not fit" in p.status.text
    p.use.click()
    assert state.marker is None
    p.text.value = ""
    assert "must not be empty" in p.status.text


def test_use_marker_sets_the_state(state: ExperimentState) -> None:
    p = MarkerEditor(state, background=False)
    p.size.value = 5
    p.use.click()
    assert state.marker == CornerSquare(size=5)
    assert "Replace" in p.use.description


def test_train_shortcut_model_then_analysis(state: ExperimentState) -> None:
    p = MarkerEditor(state, epochs=1, width=4, background=False)
    p.methods.value = ("gradient", "gradcam")
    p.n_images.value = 4
    p.size.value = 6
    p.train.click()
    assert state.marker == CornerSquare(size=6)
    entry = state.models["shortcut"]
    assert entry.variant == "marked" and entry.marker == CornerSquare(size=6)
    assert "marked test images" in p.metrics.value and "clean test images" in p.metrics.value
    assert "Removing the marker" in p.removal.value and "p(pneumonia)" in p.removal.value
    assert "Gradient" in p.fractions.value and "gradient<" not in p.fractions.value and p.fraction_chart.value[:4] == b"\x89PNG"
    assert p.status.kind == "ok", p.status.text


def test_shortcut_analysis_numbers(trained_state: ExperimentState) -> None:
    marker = CornerSquare(size=4)
    r = shortcut_analysis(trained_state.model(), trained_state.data["test"], marker, ["gradient"], 5)
    d = r["removal"]
    assert d["n"] == 48 and 0.0 <= d["mean_marked"] <= 1.0 and 0 <= d["index"] < 48
    assert abs(d["p_removed"] - d["p_marked"]) >= 0.0 and r["n_attr"] == 5
    assert 0.0 <= r["fractions"]["gradient"] <= 1.0
    assert abs(r["area"] - 16 / 32 ** 2) < 1e-9


def test_analysis_without_model_is_a_status_message(state: ExperimentState) -> None:
    p = MarkerEditor(state, background=False)
    p.analyze.click()
    assert p.status.kind == "error" and "no model yet" in p.status.text
