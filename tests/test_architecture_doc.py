"""The architecture guide's "add a saliency method" example works as written.

It runs in a subprocess so the example's registration does not leak into the
registry other tests enumerate.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

CHECK = '''
import torch
from labkit.explain import explain, get_explainer
from labkit.models import SmallCNN
from labkit.panels.controls import param_widget

model = SmallCNN(width=4, hidden=8).eval()
x = torch.rand(2, 1, 32, 32) * 2 - 1
ours = explain(model, x, 1, "gradient_squared", gain=2.0).maps
grad = explain(model, x, 1, "gradient").signed
assert torch.allclose(ours, 2.0 * grad ** 2, atol=1e-6), (ours - 2.0 * grad ** 2).abs().max()
slider = param_widget(get_explainer("gradient_squared").params[0], 32)
assert (slider.min, slider.max, slider.value) == (0.1, 10.0, 1.0)
print("ok")
'''


def test_the_new_method_example_registers_explains_and_gets_a_slider(tmp_path) -> None:
    example = re.search(r"Save this as `labkit/explain/gradient_squared.py`:\n\n```python\n(.*?)```",
                        DOC.read_text(encoding="utf-8"), re.S)
    assert example, "the example block is missing from docs/architecture.md"
    (tmp_path / "gradient_squared_example.py").write_text(example.group(1), encoding="utf-8")
    code = "import gradient_squared_example\n" + CHECK
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ,
                                 "PYTHONPATH": f"{tmp_path}:{Path(__file__).resolve().parents[1]}"})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
