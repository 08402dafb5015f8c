"""Score-CAM as published (softmax over channels) against pytorch-grad-cam; Grad-CAM++ likewise."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from labkit.explain import explain, get_explainer
from labkit.explain.scorecam import distinct_masks
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


def test_distinct_masks_merges_positive_affine_maps_of_one_image_only() -> None:
    """One pass per distinct min-max scaled map of an image; constant and unchosen maps get none."""
    r = torch.rand(3, 3, generator=torch.Generator().manual_seed(0))
    cell, corner, zero = torch.zeros(3, 3), torch.zeros(3, 3), torch.zeros(3, 3)
    cell[1, 1], corner[0, 2] = 1.0, 1.0
    flat = torch.stack([cell, 3 * cell, zero + 2, corner,   # image 0: a single active cell twice, a constant map
                        r, -r, 2 * r, corner])               # image 1: a flipped map is another mask
    chosen = torch.ones(8, dtype=torch.bool)
    chosen[7] = False
    rep, inverse = distinct_masks(flat, chosen, k=4)
    assert sorted(rep.tolist()) == [0, 3, 4, 5]
    assert rep[inverse[1]] == 0 and rep[inverse[6]] == 4 and inverse[2] == inverse[7] == -1
    assert all(rep[inverse[int(i)]] == i for i in rep)


def _scorecam_loop(model, x, target: int, layer: str) -> torch.Tensor:
    """The published method without any sharing: one pass per non-constant channel, one image at a time."""
    maps = []
    for xi in x.split(1):
        store = []
        with torch.no_grad():
            h = dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: store.append(o.clone()))
            model.eval()(xi)
            h.remove()
            acts, logits = store[0][0], torch.full((store[0].shape[1],), -float("inf"))
            for c in range(acts.shape[0]):
                up = F.interpolate(acts[None, c:c + 1], size=x.shape[-2:], mode="bilinear", align_corners=False)
                if up.max() > up.min():
                    logits[c] = model(xi * (up - up.min()) / (up.max() - up.min()))[0, target]
        cam = F.relu((torch.softmax(logits, 0)[:, None, None] * acts).sum(0))
        maps.append(F.interpolate(cam[None, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0])
    return torch.stack(maps)


@pytest.mark.parametrize("duplicates", [2, 0])
def test_channels_with_the_same_mask_share_a_pass_and_the_map_is_unchanged(inplace_net, images, duplicates) -> None:
    """conv2's channels 1 and 3 made positive multiples of 0 and 2 (same masks): 4 masked passes per
    image instead of 6, and the map equals the per-channel loop's; without duplicates, 6 passes."""
    with torch.no_grad():
        for src, dst, scale in [(0, 1, 2.0), (2, 3, 0.5)][:duplicates]:
            inplace_net.conv2.weight[dst] = scale * inplace_net.conv2.weight[src]
            inplace_net.conv2.bias[dst] = scale * inplace_net.conv2.bias[src]
    attr = explain(inplace_net, images, 1, method="scorecam", layer="conv2")
    assert attr.extras["masked_passes"].tolist() == [6 - duplicates] * 3
    torch.testing.assert_close(attr.maps, _scorecam_loop(inplace_net, images, 1, "conv2"), rtol=1e-5, atol=1e-5)


def test_bf16_is_an_opt_in_close_to_fp32(cnn, images, targets) -> None:
    assert get_explainer("scorecam").param_spec("precision").default == "fp32"
    fp32 = explain(cnn, images, targets, method="scorecam")
    bf16 = explain(cnn, images, targets, method="scorecam", precision="bf16")
    assert not torch.equal(fp32.extras["weights"], bf16.extras["weights"])
    assert (pearson(fp32.maps, bf16.maps) >= 0.99).all()
