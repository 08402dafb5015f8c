"""The compare view: two methods over several images, sorted by agreement, and the agreement matrix."""
import io

import torch
from PIL import Image

from labkit.evaluate import agreement
from labkit.explain import explain
from labkit.panels import CompareView, ExplainerSelector
from labkit.session import ExperimentState


def test_rows_sorted_by_agreement_and_a_matrix(trained_state: ExperimentState) -> None:
    trained_state.selection.image_index = 5
    p = CompareView(trained_state, background=False)
    p.method_a.value, p.method_b.value, p.n_images.value = "smoothgrad", "gradient", 4
    p.matrix_methods.value = ("grad_x_input",)
    p.run.click()
    c = p.result
    assert c is not None and p.status.kind == "ok", p.status.text
    assert c.indices == [5, 6, 7, 8] and c.pair == ("smoothgrad", "gradient")
    x = trained_state.data["test"].images[5:9]
    want = agreement(explain(trained_state.model(), x, 1, "smoothgrad").maps,
                     explain(trained_state.model(), x, 1, "gradient").maps).spearman
    assert torch.allclose(c.scores, want, atol=1e-6, equal_nan=True)
    ordered = [float(c.scores[i]) for i in c.order]
    assert ordered == sorted(ordered, reverse=True)
    assert c.matrix.methods == ["smoothgrad", "gradient", "grad_x_input"]
    assert torch.allclose(c.matrix.values.diagonal(), torch.ones(3, dtype=torch.float64))
    assert "Gradient × Input" in p.matrix.value and "SmoothGrad" in p.matrix.value and "strongest agreement" in p.caption.value
    w, h = Image.open(io.BytesIO(p.grid.value)).size
    assert h > 4 * 28 * 2 and w > 3 * 28 * 2  # 4 rows, 3 columns of tiles plus labels


def test_the_same_method_twice_is_refused(trained_state: ExperimentState) -> None:
    p = CompareView(trained_state, background=False)
    p.method_a.value = p.method_b.value = "gradient"
    p.run.click()
    assert p.status.kind == "error" and "two different methods" in p.status.text and p.result is None


def test_the_explainer_holds_a_compare_section(trained_state: ExperimentState) -> None:
    p = ExplainerSelector(trained_state, debounce=0)
    assert isinstance(p.compare, CompareView) and p.compare.status is p.status
