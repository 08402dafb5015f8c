"""What a lecture kernel loads: the app's first screen imports only what it shows.

Each check runs in a fresh interpreter (``sys.modules`` of this test process is full of
everything other tests imported). Heavy packages the first screen never uses must stay
out: medmnist's package (its ``__init__`` imports pandas and scikit-learn), pandas,
scikit-learn, SciPy, captum, torchvision and ``torch._dynamo`` (which the first
``torch.optim.Adam`` of a process imports). Without a GPU, CUDA is never initialised.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from labkit.data import LabData
from labkit.session import ExperimentState
from labkit.train import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
NOT_ON_FIRST_SCREEN = ("medmnist", "pandas", "sklearn", "scipy", "captum", "torchvision", "torch._dynamo")

REPORT = """
import json, os, sys, torch
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"heavy": heavy, "cuda_available": torch.cuda.is_available(),
                  "cuda_initialized": torch.cuda.is_initialized(), **extra}}), flush=True)
os._exit(0)  # the app's render threads may still be busy: no interpreter teardown under them
"""


def run_fresh(code: str, env: dict[str, str] | None = None) -> dict:
    """Run ``code`` (which defines ``extra``) then REPORT in a new interpreter; its JSON report."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore", **(env or {})}
    out = subprocess.run([sys.executable, "-c", "import sys\n" + code + REPORT.format(heavy=NOT_ON_FIRST_SCREEN)], env=full_env,
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_app_and_the_session_loads_no_heavy_package() -> None:
    report = run_fresh("import labkit.session, labkit.data, labkit.models, labkit.train\n"
                       "from labkit.panels import LabApp\n"
                       "extra = {'matplotlib': 'matplotlib' in sys.modules}\n")
    assert report["heavy"] == [] and report["matplotlib"] is False
    assert not report["cuda_initialized"]


def test_the_app_on_a_checkpoint_and_real_data_loads_only_what_its_first_screen_needs(
        pneumonia64: LabData, data_dir: Path, tmp_path: Path) -> None:
    lecture = ExperimentState(device="cpu", data=pneumonia64)
    lecture.start_training("baseline", config=TrainConfig(epochs=1), subset=64, background=False, width=4)
    folder = lecture.save(tmp_path / "lecture")
    code = ("from labkit.panels import LabApp\n"
            "app = LabApp.from_env()\n"
            "extra = {'status': app.status.text, 'data': app.state.data.name, 'models': sorted(app.state.models),\n"
            "         'loaded': app.state.data.splits.loaded()}\n")
    report = run_fresh(code, {"LABKIT_APP_CHECKPOINT": str(folder), "LABKIT_DATA_DIR": str(data_dir),
                              "LABKIT_APP_DEVICE": "auto"})
    assert report["data"] == "pneumoniamnist" and report["models"] == ["baseline"], report["status"]
    assert report["heavy"] == [], report["heavy"]
    assert "train" not in report["loaded"], report["loaded"]  # 77 MB a lecture kernel only needs to train
    if not report["cuda_available"]:  # a CPU machine: no CUDA context, no CUDA memory
        assert not report["cuda_initialized"]


def test_medmnist_loads_fully_after_labkit_read_the_data_without_it(data_dir: Path) -> None:
    code = ("from labkit.data import load_pneumonia\n"
            f"data = load_pneumonia(28, {str(data_dir)!r}, download=False, device='cpu')\n"
            "before = [m for m in ('medmnist', 'pandas', 'sklearn') if m in sys.modules]\n"
            "import medmnist\n"
            "extra = {'before': before, 'n': len(data['train']), 'evaluator': hasattr(medmnist, 'Evaluator'),\n"
            "         'info': medmnist.info.DEFAULT_ROOT == medmnist.dataset.DEFAULT_ROOT}\n")
    report = run_fresh(code)
    assert report["before"] == [] and report["n"] == 4708
    assert report["evaluator"] and report["info"]  # the whole package, as if labkit had never touched it


def test_training_and_explaining_on_the_cpu_never_initialise_cuda() -> None:
    code = ("from labkit.session import ExperimentState\n"
            "from labkit.train import TrainConfig\n"
            "s = ExperimentState(device='cpu')\n"
            "s.load_data('phantom', size=32)\n"
            "s.start_training('t', config=TrainConfig(epochs=1, batch_size=32), subset=64, background=False, width=4)\n"
            "from labkit.explain import explain\n"
            "x = s.data['test'].images[:2]\n"
            "maps = explain(s.model(), x, target=1, method='integrated_gradients').maps\n"
            "extra = {'trained': s.training.status, 'maps': list(maps.shape)}\n")
    report = run_fresh(code)
    assert report["trained"] == "done" and report["maps"] == [2, 32, 32]
    assert not report["cuda_initialized"]
