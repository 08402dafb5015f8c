"""Score-CAM as published (softmax over channels) against pytorch-grad-cam; Grad-CAM++ likewise."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from labkit.explain import explain
from pgc_reference import min_max, pearson, reference_maps

from pytorch_grad_cam import GradCAMPlusPlus, ScoreCAM  # noqa: E402


def test_scorecam_matches_pytorch_grad_cam(cnn, images, targets) -> None:
    """Same convention (softmax over channels of the masked images' target logits); the masks
    differ only in the upsampling grid (pytorch-grad-cam uses align_corners=True)."""
    attr = explain(cnn, images, targets, method="scorecam")
    ref = reference_maps(ScoreCAM, cnn, "features.relu3", images, targets.tolist())
    r = pearson(attr.maps, ref)
    assert (r >= 0.99).all(), r


def test_scorecam_weights_are_a_softmax_of_masked_logits(cnn, images) -> None:
    attr = explain(cnn, images[:1], 0, method="scorecam", layer="features.conv3")
    store = []
    with torch.no_grad():
        h = cnn.features.conv3.register_forward_hook(lambda m, i, o: store.append(o))
        cnn.eval()(images[:1])
        h.remove()
        up = F.interpolate(store[0][0][:, None], size=(32, 32), mode="bilinear", align_corners=False)
        lo, hi = up.amin((2, 3), keepdim=True), up.amax((2, 3), keepdim=True)
        logits = cnn(images[:1] * (up - lo) / (hi - lo))[:, 0]
    w = attr.extras["weights"][0]
    torch.testing.assert_close(w, torch.softmax(logits, 0), rtol=1e-4, atol=1e-7)
    assert abs(float(w.sum()) - 1) < 1e-5


def test_probability_weighting_differs_from_the_default(cnn, images) -> None:
    a = explain(cnn, images[:1], 1, method="scorecam")
    b = explain(cnn, images[:1], 1, method="scorecam", weighting="probability")
    assert not torch.allclose(a.extras["weights"], b.extras["weights"])


def test_gradcam_pp_matches_pytorch_grad_cam(cnn, images, targets) -> None:
    attr = explain(cnn, images, targets, method="gradcam_pp")
    ref = reference_maps(GradCAMPlusPlus, cnn, "features.relu3", images, targets.tolist())
    torch.testing.assert_close(min_max(attr.maps), ref, atol=2e-4, rtol=0)


def test_a_channel_fraction_scores_only_the_most_active_channels(cnn, images) -> None:
    """The preview setting: per-mask probabilities of the scored channels equal the full
    method's, the other channels weigh 0; with the softmax the scored weights sum to 1."""
    full = explain(cnn, images[:2], 1, method="scorecam", weighting="probability").extras["weights"]
    part = explain(cnn, images[:2], 1, method="scorecam", weighting="probability",
                   channel_fraction=0.25).extras["weights"]
    store = []
    with torch.no_grad():
        h = cnn.features.relu3.register_forward_hook(lambda m, i, o: store.append(o))
        cnn.eval()(images[:2])
        h.remove()
    k = store[0].shape[1]
    top = store[0].mean((2, 3)).topk(-(-k // 4), dim=1).indices
    for i in range(2):
        kept = torch.zeros(k, dtype=torch.bool)
        kept[top[i]] = True
        torch.testing.assert_close(part[i, kept], full[i, kept])
        assert (part[i, ~kept] == 0).all()
    soft = explain(cnn, images[:2], 1, method="scorecam", channel_fraction=0.25).extras["weights"]
    torch.testing.assert_close(soft.sum(1), torch.ones(2))
    assert int((soft > 0).sum(1).max()) <= -(-k // 4)
