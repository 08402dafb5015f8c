"""A course's own model in the experiment: from a weights file or a module:function builder."""
import sys

import pytest
import torch

from labkit.errors import CheckpointError, InputError
from labkit.explain import explain
from labkit.models import build_model
from labkit.session import ExperimentState


@pytest.fixture
def state(pneumonia28) -> ExperimentState:
    return ExperimentState(device="cpu", data=pneumonia28)


def test_weights_file_plus_architecture(state, tmp_path) -> None:
    net = build_model("resnet18", num_classes=2)
    torch.save(net.state_dict(), tmp_path / "course.pt")
    entry = state.add_user_model("course", weights=tmp_path / "course.pt", arch="resnet18")
    assert state.active_model == "course" and entry.metrics["test"]["n"] == 624
    x = state.data["test"].images[:3]
    with torch.no_grad():
        assert torch.allclose(state.model()(x), net.eval()(x), atol=1e-5)
    assert "added course (resnet18): test AUROC" in state.message


def test_a_builder_function(state, tmp_path, monkeypatch) -> None:
    (tmp_path / "course_models.py").write_text(
        "import torch\n"
        "def tiny():\n"
        "    nn = torch.nn\n"
        "    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),\n"
        "                         nn.Linear(4, 2))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = state.add_user_model("tiny", builder="course_models:tiny")
    assert entry.arch == "user:course_models:tiny" and "tiny" in state.models
    sys.modules.pop("course_models", None)


def test_bad_user_models_change_nothing(state, tmp_path) -> None:
    wrong = build_model("small_cnn")
    torch.save(wrong.state_dict(), tmp_path / "wrong.pt")
    with pytest.raises(CheckpointError):
        state.add_user_model("x", weights=tmp_path / "wrong.pt", arch="resnet18")
    with pytest.raises(InputError, match="either a weights file"):
        state.add_user_model("x")
    with pytest.raises(InputError, match="needs its architecture"):
        state.add_user_model("x", weights=tmp_path / "wrong.pt")
    with pytest.raises(InputError, match="package.module:function"):
        state.add_user_model("x", builder="no_colon")
    with pytest.raises(InputError, match="model name"):
        state.add_user_model("a b", builder="x:y")
    assert not state.models and state.model_version == 0


BUILDERS = '''import torch
nn = torch.nn

class Maps(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
    def forward(self, x):
        return self.conv(x)

class Raises(Maps):
    def forward(self, x):
        raise RuntimeError("boom in forward")

def maps():
    return Maps()

def raises():
    return Raises()

def rgb():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
'''


@pytest.mark.parametrize("builder, message", [
    ("maps", r"logits of shape \(N, classes\) = \(2, 2\).*got \(2, 2, 62, 62\)"),
    ("raises", r"raised RuntimeError in forward on images of shape \(2, 1, 64, 64\).*boom"),
    ("rgb", r"takes 3-channel images but the loaded data have 1 channel\(s\).*attach_spec"),
])
def test_a_course_model_that_does_not_fit_changes_nothing(state, tmp_path, monkeypatch, builder, message) -> None:
    """The issue's bad inputs through the experiment: output not (N, classes), forward raising, channel mismatch."""
    (tmp_path / "bad_course_models.py").write_text(BUILDERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = (dict(state.models), state.active_model, state.model_version)
    try:
        with pytest.raises(InputError, match=message):
            state.add_user_model("course", builder=f"bad_course_models:{builder}")
    finally:
        sys.modules.pop("bad_course_models", None)
    assert (dict(state.models), state.active_model, state.model_version) == before


def test_acceptance_and_explain_agree_on_the_image_size(state, tmp_path) -> None:
    """On the native 28-px X-rays ResNet-18 (any size) is accepted and explained; DenseNet-121
    (at least 29 px) is refused with explain's own message, and nothing changes."""
    torch.save(build_model("resnet18").state_dict(), tmp_path / "resnet.pt")
    state.add_user_model("resnet", weights=tmp_path / "resnet.pt", arch="resnet18")
    x = state.data["test"].images[:2]
    assert explain(state.model("resnet"), x, 1, "gradcam").maps.shape == (2, 28, 28)
    densenet = build_model("densenet121")
    torch.save(densenet.state_dict(), tmp_path / "densenet.pt")
    with pytest.raises(InputError) as refused:
        explain(densenet, x, 1, "gradcam")
    before = (dict(state.models), state.active_model, state.model_version)
    too_small = "28×28 pixels are too small for this network: it takes at least 29×29"
    with pytest.raises(InputError, match=too_small) as err:
        state.add_user_model("densenet", weights=tmp_path / "densenet.pt", arch="densenet121")
    assert str(err.value).split(" of ")[1] == str(refused.value).split(" of ")[1]
    assert (dict(state.models), state.active_model, state.model_version) == before
