"""CascadeViewer and EvaluationPanel: runs, results, captions computed from numbers, errors."""
from __future__ import annotations

import math

from labkit.explain import method_label
from labkit.panels import CascadeViewer, EvaluationPanel, lesson_caption
from labkit.sanity import CascadeResult, CascadeRow
from labkit.session import ExperimentState


def fake_result(final: dict[str, float], order: str = "cascade") -> CascadeResult:
    layers = ["original", "fc2", "conv1"]
    rows = []
    for method, last in final.items():
        for step, value in enumerate([1.0, (1.0 + last) / 2, last]):
            rows.append(CascadeRow(step, layers[step], method, 0, value, math.nan, value))
    return CascadeResult(rows=rows, layers=layers, methods=list(final), order=order)


def test_caption_is_computed_from_the_result() -> None:
    text = lesson_caption(fake_result({"gradient": 0.05, "guided_backprop": 0.91}))
    # steps after the original: (1 + last) / 2, then last → mean (1 + 3·last) / 4
    assert "Guided Backprop stays the same" in text and "+0.93 over every cascade step" in text and "fails" in text
    assert "+0.91 at the end" in text and "+0.96 with fc2 randomized" in text
    assert "Gradient changes" in text and "+0.29" in text and "passes" in text
    assert text.index("Guided Backprop") < text.index("Gradient changes")  # most similar first
    flipped = lesson_caption(fake_result({"gradient": 0.8, "guided_backprop": 0.1}))
    assert "Gradient stays the same" in flipped and "Guided Backprop changes" in flipped
    indep = lesson_caption(fake_result({"gradcam": 0.2}, order="independent"))
    assert "over the single-layer randomizations" in indep


def test_caption_for_constant_maps() -> None:
    r = fake_result({"gradcam": 0.1})
    r.rows = [row if row.step == 0 else CascadeRow(row.step, row.layer, row.method, 0, math.nan, math.nan, math.nan)
              for row in r.rows]
    assert "constant (blank)" in lesson_caption(r)


def test_cascade_run_shows_grid_curves_and_caption(trained_state: ExperimentState) -> None:
    p = CascadeViewer(trained_state, methods=("gradient", "guided_backprop"), background=False)
    p.run.click()
    assert p.status.kind == "ok", p.status.text
    result = p.result
    assert result is not None and result.layers[0] == "original" and len(result.layers) == 6
    assert p.progress.value == 1.0
    assert p.grid.value[:4] == b"\x89PNG" and p.curves.value[:4] == b"\x89PNG"
    for m in ("gradient", "guided_backprop"):
        assert method_label(m) in p.caption.value
    assert "stays the same" in p.caption.value or "changes" in p.caption.value


def test_cascade_independent_on_several_images(trained_state: ExperimentState) -> None:
    p = CascadeViewer(trained_state, methods=("gradcam",), background=True)
    p.order.value = "independent"
    p.n_images.value = 3
    p.run.click()
    p.job.wait(60)
    assert p.result is not None and p.result.order == "independent"
    assert p.result.values("gradcam").shape == (6, 3)
    assert "over the single-layer randomizations" in p.caption.value or "constant" in p.caption.value


def test_cascade_errors_go_to_status(small_data, trained_state: ExperimentState) -> None:
    p = CascadeViewer(ExperimentState(device="cpu", data=small_data), background=False)
    p.run.click()
    assert p.status.kind == "error" and "no model" in p.status.text
    q = CascadeViewer(trained_state, background=False)
    q.methods.value = ()
    q.run.click()
    assert "choose at least one method" in q.status.text


def test_evaluation_with_lesion_masks(trained_state: ExperimentState) -> None:
    p = EvaluationPanel(trained_state, methods=("gradient", "gradcam"), background=False)
    p.n_images.value = 3
    p.steps.value = 8
    p.copies.value = 2
    p.run.click()
    assert p.status.kind == "ok", p.status.text
    r = p.result
    assert set(r["scores"]) == {"gradient", "gradcam"} and r["n"] == 3 and r["n_masks"] == 3
    row = r["scores"]["gradient"]
    assert 0.0 <= row["deletion_auc"] <= 1.0 and 0.0 <= row["region_fraction"] <= 1.0
    assert "deletion auc ↓" in p.table.value and "pointing game ↑" in p.table.value
    assert p.deletion.value[:4] == b"\x89PNG" and p.insertion.value[:4] == b"\x89PNG"
    assert "lesion mask" in p.note.value


def test_evaluation_without_masks_and_errors(trained_state: ExperimentState) -> None:
    trained_state.selection.target = 0  # normal images have no lesion
    p = EvaluationPanel(trained_state, methods=("gradient",), background=False)
    p.n_images.value = 2
    p.steps.value = 4
    p.copies.value = 1
    p.run.click()
    assert p.result["n_masks"] == 0 and "region fraction" not in p.table.value
    assert "load the phantom demo" in p.note.value
    p.methods.value = ()
    p.run.click()
    assert p.status.kind == "error" and "choose at least one method" in p.status.text
