"""Progressive maps in the explainer: a preview first, then the exact full map; a newer image stops the refinement."""
from __future__ import annotations

import threading

from labkit.panels import ExplainerSelector, maptiles
from labkit.session import ExperimentState


def paint_log(p: ExplainerSelector) -> list[tuple[str, str, str]]:
    """Record (method, image id, caption) of every heatmap the panel paints from now on."""
    log: list[tuple[str, str, str]] = []
    paint = p.tiles._paint_one

    def logged(m, shown, *args) -> None:
        log.append((m, shown.image_id, p.tiles.captions[m]))
        paint(m, shown, *args)
    p.tiles._paint_one = logged
    return log


def test_slow_methods_paint_a_preview_then_the_full_map_and_fast_ones_paint_once(trained_state) -> None:
    methods = ("gradient", "smoothgrad", "occlusion")
    p = ExplainerSelector(trained_state, methods=methods, debounce=0)
    reference = ExplainerSelector(trained_state, methods=methods, debounce=0, progressive=False)
    log = paint_log(p)
    trained_state.selection.image_index = 3
    image_id = trained_state.selection.current().image_id
    assert log == [("gradient", image_id, ""), ("smoothgrad", image_id, "preview: 8 samples"),
                   ("occlusion", image_id, "preview: stride 8"), ("smoothgrad", image_id, "full: 25 samples"),
                   ("occlusion", image_id, "full: stride 4")]  # every first paint before any refinement
    assert p.captions == {"gradient": "", "smoothgrad": "full: 25 samples", "occlusion": "full: stride 4"}
    assert "full: 25 samples" in p.infos["smoothgrad"].value and "preview" not in p.infos["gradient"].value
    reference.refresh()
    for m in methods:  # the final maps are the non-progressive ones, byte for byte
        assert p.images[m].value == reference.images[m].value
    log.clear()
    p.opacity.value = 0.8  # display only: the full maps are cached, one paint each
    assert [(m, c) for m, _, c in log] == [("gradient", ""), ("smoothgrad", "full: 25 samples"),
                                            ("occlusion", "full: stride 4")]
    assert p.status.kind != "error", p.status.text


def test_shared_colour_scale_ends_on_the_full_maps(trained_state) -> None:
    p = ExplainerSelector(trained_state, methods=("gradient", "integrated_gradients"), debounce=0)
    reference = ExplainerSelector(trained_state, methods=("gradient", "integrated_gradients"), debounce=0,
                                  progressive=False)
    for panel in (p, reference):
        panel.scale_mode.value = "shared"
        panel.param_widgets["integrated_gradients"]["baseline"].value = "black"
    assert p.captions["integrated_gradients"] == "full: 32 steps"
    assert p.images["integrated_gradients"].value == reference.images["integrated_gradients"].value
    assert p.images["gradient"].value == reference.images["gradient"].value


def test_a_newer_image_cancels_the_refinement_in_progress(trained_state: ExperimentState, monkeypatch) -> None:
    sel = trained_state.selection
    p = ExplainerSelector(trained_state, methods=("gradient", "smoothgrad", "integrated_gradients"), debounce=0.01)
    assert p.wait(30)
    shown_first = sel.current().image_id  # rendered in full already
    refining, go_on = threading.Event(), threading.Event()
    real = maptiles.progressive_attribution
    refined: list[tuple[str, str]] = []
    held_id: list[str] = []

    def held(state, x, image_id, method, params, stop=None):
        stages = real(state, x, image_id, method, params, stop=stop)
        yield next(stages)
        refined.append((image_id, method))
        if image_id != shown_first and not go_on.is_set():  # the old image's refinement waits for the user
            held_id.append(image_id)
            refining.set()
            assert go_on.wait(30)
        yield from stages

    monkeypatch.setattr(maptiles, "progressive_attribution", held)
    log = paint_log(p)
    sel.image_index = 1
    assert refining.wait(30)
    old = held_id[0]
    sel.image_index = 2  # the newer slider value arrives while the old full SmoothGrad map is computed
    new = sel.current().image_id
    go_on.set()
    assert p.wait(30)
    assert ("smoothgrad", old, "preview: 8 samples") in log
    assert (old, "smoothgrad") in refined and (old, "integrated_gradients") not in refined  # refinement stopped
    assert not [e for e in log if e[1] == old and e[2].startswith("full")]  # never painted over the newer one
    assert not [e for e in log[log.index(("gradient", new, "")):] if e[1] == old]
    assert log[-2:] == [("smoothgrad", new, "full: 25 samples"), ("integrated_gradients", new, "full: 32 steps")]
    reference = ExplainerSelector(trained_state, methods=("smoothgrad",), debounce=0, progressive=False)
    assert p.images["smoothgrad"].value == reference.images["smoothgrad"].value
    assert p.status.kind != "error" and "⚠" not in p.infos["smoothgrad"].value  # a cancel is no error
