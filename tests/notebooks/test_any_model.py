"""The any-model lecture (notebooks/any_model.ipynb) runs end to end in fast mode, every cell
within 30 s, and computes what it claims: labkit's Saliency and IG on a torchvision ResNet-18
match captum's, the cascade covers the five named blocks top down, and the Carpentries
comparison scores 10 X-rays."""
from __future__ import annotations

import math
import re

import pytest

import nbhelp

BLOCKS = ["original", "layer4", "layer3", "layer2", "layer1", "conv1"]


@pytest.fixture(scope="module")
def cells(pipeline) -> list:
    nb = pipeline.notebook("any_model")
    return [c for c in nb.cells if c.cell_type == "code"]


def _text(cells: list) -> str:
    return "\n".join(nbhelp.text_outputs(c) for c in cells)


def _after(text: str, heading: str, n: int) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    return lines[start + 2:start + 2 + n]


def test_every_cell_runs_quickly_and_shows_something(cells) -> None:
    assert len(cells) >= 8
    for i, cell in enumerate(cells):
        errs = nbhelp.errors(cell)
        assert not errs, f"code cell {i} raised {errs[0].ename}: {errs[0].evalue}\n{cell.source}"
        assert cell.metadata.get("labkit_seconds", 0) < nbhelp.CELL_TIMEOUT
    shown = [c for c in cells[1:] if c.outputs]
    assert len(shown) == len(cells) - 1, "every code cell after the imports shows an output"
    figures = [c for c in cells if any("image/png" in o.get("data", {}) for o in c.outputs)]
    assert len(figures) >= 3  # labkit beside captum, the cascade maps, the 10 X-rays
    assert sum(nbhelp.stderr(c).count("Traceback") for c in cells) == 0


def test_resnet18_maps_match_captum(cells) -> None:
    text = _text(cells)
    assert re.search(r"input \(1, 3, 224, 224\)", text)
    found = dict(re.findall(r"Pearson labkit vs captum, (Saliency|Integrated Gradients): ([-\d.]+)", text))
    assert set(found) == {"Saliency", "Integrated Gradients"}
    for name, value in found.items():
        assert float(value) >= 0.999, f"{name}: Pearson {value} with captum"
    gap, total = map(float, re.search(r"completeness gap .*?: ([-+\d.]+) of f\(x\) − f\(x′\) = ([-+\d.]+)", text).groups())
    assert abs(gap) <= 0.02 * max(1.0, abs(total))


def test_cascade_table_has_the_five_blocks_top_down(cells) -> None:
    rows = [line.split() for line in _after(_text(cells), "spearman_abs (cascade", len(BLOCKS))]
    assert [r[1] for r in rows] == BLOCKS
    assert [int(r[0]) for r in rows] == list(range(len(BLOCKS)))
    # per row: step, layer, then "mean ± std" for gradient, integrated_gradients, guided_backprop
    means = [[float(v) for v in r[2::3]] for r in rows]
    assert all(len(m) == 3 for m in means)
    assert means[0] == [1.0, 1.0, 1.0]
    assert all(-1 <= v <= 1 for m in means[1:] for v in m)
    gradient, _, guided = zip(*means)
    assert max(gradient[1:]) < 0.9, "the gradient map changes once layer4 is re-initialised"
    assert guided[1] > gradient[1], "Guided Backprop stays closer to its original map than the gradient"


def test_agreement_table_has_ten_images_sorted_by_agreement(cells) -> None:
    rows = _after(_text(cells), "agreement per image", 10)
    parsed = [re.match(r"\s*(\d+)\s+(\d+)\s+(normal|pneumonia)\s+([\d.]+) │\s+([-+\d.]+)\s+([\d.]+)\s+([\d.]+) │\s+"
                       r"([-+\d.]+)$", r) for r in rows]
    assert all(parsed), rows
    values = [m.groups() for m in parsed]
    assert [int(v[0]) for v in values] == list(range(1, 11))
    assert len({v[1] for v in values}) == 10
    assert sorted(v[2] for v in values) == ["normal"] * 5 + ["pneumonia"] * 5
    rho = [float(v[4]) for v in values]
    assert rho == sorted(rho, reverse=True)
    for v in values:
        assert 0 <= float(v[3]) <= 1 and -1 <= float(v[4]) <= 1 and -1 <= float(v[7]) <= 1
        assert 0 <= float(v[5]) <= 1 and 0 <= float(v[6]) <= 1


def test_agreement_matrix_and_the_sentence_on_it(cells) -> None:
    text = _text(cells)
    rows = _after(text, "agreement matrix", 4)
    names = ["Grad-CAM", "Integrated Gradients", "Grad-CAM++", "Score-CAM"]
    matrix = []
    for name, row in zip(names, rows):
        assert row.strip().startswith(name), row
        matrix.append([float(v) for v in row.strip()[len(name):].split()])
    assert all(math.isclose(matrix[i][i], 1.0) for i in range(4))
    assert all(math.isclose(matrix[i][j], matrix[j][i]) for i in range(4) for j in range(4))
    # the lesson's point, as the markdown states it: the CAMs agree with one another far more than with IG
    assert matrix[2][3] > matrix[0][1] + 0.3 and matrix[0][2] > matrix[0][1]
    pair_rho = [float(r.split("│")[1].split()[0]) for r in _after(text, "agreement per image", 10)]
    num = r"([-+]?\d+\.\d+)"
    sentence = re.search(rf"Grad-CAM and IG agree most on test image \d+ \(ρ = {num}\) and least on test image "
                         rf"\d+ \(ρ = {num}\); mean ρ {num}", text)
    assert sentence, "the sentence on where the methods agree and disagree"
    best, worst, mean = map(float, sentence.groups())
    assert math.isclose(best, max(pair_rho), abs_tol=0.006) and math.isclose(worst, min(pair_rho), abs_tol=0.006)
    assert math.isclose(mean, matrix[0][1], abs_tol=0.006)
