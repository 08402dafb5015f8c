"""Progressive maps: a coarse preview from the methods' ``Param.coarse`` values, then the exact full map."""
import threading

import pytest
import torch

from labkit.checkpoint import ModelEntry
from labkit.explain import explain, get_explainer, list_explainers
from labkit.models import SmallCNN
from labkit.session import Cancelled, ExperimentState
from labkit.session.jobs import abort_forward
from labkit.session.studies import attribution, preview_params, progressive_attribution, stage_caption

PROGRESSIVE = {"smoothgrad": ("n_samples", 8, 25), "integrated_gradients": ("steps", 8, 32),
               "occlusion": ("stride", 8, 4)}


@pytest.fixture
def state(pneumonia28) -> ExperimentState:
    torch.manual_seed(0)
    s = ExperimentState(device="cpu", data=pneumonia28)
    s.add_model(ModelEntry("net", "small_cnn", SmallCNN(width=4, hidden=8), kwargs={"width": 4, "hidden": 8}))
    return s


def shown(state: ExperimentState) -> tuple[torch.Tensor, str]:
    current = state.selection.current()
    return current.image, current.image_id


@pytest.mark.parametrize("method", sorted(PROGRESSIVE))
def test_the_preview_differs_in_the_coarse_parameter_only_and_the_full_map_is_exact(state, method) -> None:
    name, coarse, full = PROGRESSIVE[method]
    x, image_id = shown(state)
    params = {"seed": 3} if method == "smoothgrad" else {}
    preview, final = list(progressive_attribution(state, x, image_id, method, params))
    assert not preview.final and final.final
    a, b = preview.computed.attribution, final.computed.attribution
    assert a.params[name] == coarse and b.params[name] == full
    assert {k: v for k, v in a.params.items() if k != name} == {k: v for k, v in b.params.items() if k != name}
    assert not torch.equal(a.maps, b.maps)
    unit = {"n_samples": f"{coarse} samples", "steps": f"{coarse} steps", "stride": f"stride {coarse}"}[name]
    assert preview.caption == f"preview: {unit}"
    assert final.caption == "full: " + unit.replace(str(coarse), str(full))
    reference = explain(state.model(), x, state.selection.target, method, **params)
    assert torch.equal(b.maps, reference.maps) and torch.equal(b.signed, reference.signed)
    again = attribution(state, x, image_id, method, params)
    assert again.cached and again.attribution is b  # the same cache entry as the non-progressive call


def test_a_cached_full_map_and_cheap_settings_give_one_stage(state) -> None:
    x, image_id = shown(state)
    list(progressive_attribution(state, x, image_id, "smoothgrad", {}))
    (only,) = progressive_attribution(state, x, image_id, "smoothgrad", {})
    assert only.final and only.computed.cached and only.caption == "full: 25 samples"
    assert preview_params("smoothgrad", {"n_samples": 8}) is None  # already as cheap as the preview
    (cheap,) = progressive_attribution(state, x, image_id, "smoothgrad", {"n_samples": 4})
    assert cheap.final and cheap.caption == "full: 4 samples"
    assert preview_params("occlusion", {"stride": 8}) is None and preview_params("occlusion", {"stride": 2}) == {
        "stride": 8}
    assert preview_params("scorecam", {}) == {"channel_fraction": 0.25}
    assert stage_caption("scorecam", {"channel_fraction": 0.25}, False) == "preview: 25% of channels"


def test_fast_methods_have_one_stage_without_caption(state) -> None:
    x, image_id = shown(state)
    fast = [m for m in list_explainers() if not any(p.coarse is not None for p in get_explainer(m).params)]
    assert {"gradient", "gradcam", "guided_backprop"} <= set(fast) and "smoothgrad" not in fast
    for method in ("gradient", "gradcam"):
        (only,) = progressive_attribution(state, x, image_id, method, {})
        assert only.final and only.caption == "" and stage_caption(method, {}, True) == ""
        assert preview_params(method, {}) is None


def test_a_preview_the_parameters_do_not_allow_is_skipped(state) -> None:
    x, image_id = shown(state)  # coarse stride 8 would exceed a 4-px patch
    (only,) = progressive_attribution(state, x, image_id, "occlusion", {"patch": 4, "stride": 2})
    assert only.final and only.computed.attribution.params["stride"] == 2


def test_both_stages_explain_the_class_selected_at_the_start(state) -> None:
    x, image_id = shown(state)
    state.selection.target = 0
    stages = progressive_attribution(state, x, image_id, "integrated_gradients", {})
    assert int(next(stages).computed.attribution.extras["target"][0]) == 0
    state.selection.target = 1  # changed while the full map is being computed
    assert int(next(stages).computed.attribution.extras["target"][0]) == 0


def test_a_stop_abandons_the_full_stage_at_the_next_forward_pass_and_caches_nothing(state) -> None:
    x, image_id = shown(state)
    passes = {"n": 0}
    state.model().register_forward_pre_hook(lambda module, args: passes.__setitem__("n", passes["n"] + 1))
    stop_after = {"n": None}

    def stop() -> bool:  # true from the full stage's second forward pass on
        return stop_after["n"] is not None and passes["n"] > stop_after["n"]

    stages = progressive_attribution(state, x, image_id, "integrated_gradients", {}, stop=stop)
    preview = next(stages)  # a preview is never stopped
    stop_after["n"] = passes["n"] + 1
    with pytest.raises(Cancelled):
        next(stages)
    assert passes["n"] == stop_after["n"] + 1  # stopped at the pass after the first one of the full stage
    assert not preview.final
    again, full = progressive_attribution(state, x, image_id, "integrated_gradients", {}, stop=lambda: False)
    assert again.computed.cached and not full.computed.cached  # the abandoned full map was not cached
    assert torch.equal(full.computed.attribution.maps,
                       explain(state.model(), x, state.selection.target, "integrated_gradients").maps)


def test_a_stop_only_affects_the_thread_that_asked(state) -> None:
    x, image_id = shown(state)
    other: list[torch.Tensor] = []
    model = state.model()
    with abort_forward(model, lambda: True):
        worker = threading.Thread(target=lambda: other.append(model(x)))
        worker.start()
        worker.join(30)
        with pytest.raises(Cancelled):
            model(x)
    assert len(other) == 1 and other[0].shape == (1, 2)
    model(x)  # the hook is gone afterwards
