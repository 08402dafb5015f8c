"""Shortcut markers: exact masks, label-coded placement, removal, serialization, errors."""
from __future__ import annotations

import pytest
import torch

from labkit.data import (MARKERS, BorderStripe, BurnedText, CornerSquare, MarkerSpec, make_marker,
                         marker_from_dict)
from labkit.errors import InputError

LABELS = torch.tensor([0, 1, 1, 0])

MARKER_CASES = [
    pytest.param(marker, size, id=f"{name}-{size}")
    for name, marker, sizes in [
        ("corner8", CornerSquare(), (28, 64)),
        ("corner4", CornerSquare(size=4), (28, 64)),
        ("corner4-margin-black", CornerSquare(size=4, margin=2, intensity=-1.0), (28, 64)),
        ("stripe", BorderStripe(), (28, 64)),
        ("text-R", BurnedText(), (28, 64)),
        ("text-PORTABLE", BurnedText(text="PORTABLE", font_size=8), (64,)),  # too wide for 28 px
    ]
    for size in sizes
]


def _images(n: int, size: int, value: float = 0.0) -> torch.Tensor:
    """Images whose pixels never equal a marker intensity of ±1 (noise around ``value``)."""
    g = torch.Generator().manual_seed(0)
    return (value + 0.3 * torch.rand(n, 1, size, size, generator=g) - 0.15).clamp(-0.9, 0.9)


@pytest.mark.parametrize("marker,size", MARKER_CASES)
def test_mask_is_exactly_the_changed_pixels(marker: MarkerSpec, size: int) -> None:
    x = _images(len(LABELS), size)
    marked = marker.apply(x, LABELS)
    changed = (marked != x).squeeze(1)
    mask = marker.mask(LABELS, size)
    assert mask.dtype == torch.bool and mask.shape == (len(LABELS), size, size)
    assert torch.equal(changed, mask)
    assert mask.flatten(1).any(1).all()  # every image gets a marker
    assert torch.all(marked.squeeze(1)[mask] == marker.intensity)
    assert torch.equal(marked.squeeze(1)[~mask], x.squeeze(1)[~mask])
    assert marked.dtype == x.dtype and not torch.equal(marked, x)


def test_apply_does_not_modify_its_input() -> None:
    x = _images(4, 28)
    before = x.clone()
    CornerSquare().apply(x, LABELS)
    assert torch.equal(x, before)


@pytest.mark.parametrize("size", [8, 4])
def test_default_corner_square_is_label_coded(size: int) -> None:
    m = CornerSquare(size=size)
    assert m.label_coded
    mask = m.mask(torch.tensor([1, 0]), 28)
    pneu, normal = mask[0], mask[1]
    assert int(pneu.sum()) == size * size and int(normal.sum()) == size * size
    assert pneu[:size, :size].all()          # class 1: top-left
    assert normal[-size:, -size:].all()      # class 0: bottom-right
    assert not torch.equal(pneu, normal)


def test_stripe_and_text_default_placements_differ_by_class() -> None:
    stripe = BorderStripe(width=3).mask(torch.tensor([1, 0]), 28)
    assert stripe[0][:, :3].all() and int(stripe[0].sum()) == 28 * 3     # class 1: left
    assert stripe[1][:, -3:].all() and int(stripe[1].sum()) == 28 * 3    # class 0: right
    text = BurnedText().mask(torch.tensor([1, 0]), 64)
    ys, xs = text[0].nonzero().T
    assert ys.max() < 32 and xs.max() < 32          # class 1: top-left quadrant
    ys, xs = text[1].nonzero().T
    assert ys.min() >= 32 and xs.min() >= 32        # class 0: bottom-right quadrant


@pytest.mark.parametrize("marker", [CornerSquare(placement="top-right"), BorderStripe(placement="bottom"),
                                    BurnedText(placement="bottom-left")])
def test_class_independent_placement_gives_one_mask(marker: MarkerSpec) -> None:
    assert not marker.label_coded
    mask = marker.mask(torch.tensor([0, 1]), 28)
    assert torch.equal(mask[0], mask[1]) and mask[0].any()
    assert "control" in marker.describe()


def test_partial_placement_marks_only_mapped_classes() -> None:
    m = CornerSquare(placement={1: "top-left"})
    mask = m.mask(torch.tensor([0, 1]), 28)
    assert not mask[0].any() and mask[1].any()
    assert m.position_for(0) is None


@pytest.mark.parametrize("marker", [CornerSquare(), BorderStripe(), BurnedText()])
def test_remove_restores_clean_pixels_exactly_or_fills(marker: MarkerSpec) -> None:
    clean = _images(4, 28)
    marked = marker.apply(clean, LABELS)
    assert torch.equal(marker.remove(marked, LABELS, clean=clean), clean)
    filled = marker.remove(marked, LABELS, fill=-1.0)
    mask = marker.mask(LABELS, 28).unsqueeze(1)
    assert torch.all(filled[mask] == -1.0)
    assert torch.equal(filled[~mask], clean[~mask])
    assert torch.all(marker.remove(marked, LABELS)[mask] == 0.0)  # default fill is mid-gray
    with pytest.raises(InputError, match="clean images must match"):
        marker.remove(marked, LABELS, clean=clean[:2])


@pytest.mark.parametrize("marker", [CornerSquare(), CornerSquare(size=4, margin=1, intensity=-0.5),
                                    BorderStripe(width=2, placement="top"), BurnedText(text="L", font_size=10),
                                    BurnedText(placement={0: "top-right", 1: "bottom-left"})])
def test_to_dict_round_trip(marker: MarkerSpec) -> None:
    import json
    d = json.loads(json.dumps(marker.to_dict()))  # survives JSON (placement keys become strings)
    assert d["kind"] == marker.kind
    back = marker_from_dict(d)
    assert type(back) is type(marker) and back == marker
    assert torch.equal(back.mask(LABELS, 28), marker.mask(LABELS, 28))


def test_make_marker_by_kind() -> None:
    assert set(MARKERS) == {"corner", "stripe", "text"}
    assert make_marker("corner", size=4) == CornerSquare(size=4)
    assert isinstance(make_marker("stripe"), BorderStripe)
    assert isinstance(make_marker("text", text="PORTABLE", font_size=8), BurnedText)


def test_marker_too_large_for_image() -> None:
    with pytest.raises(InputError, match="does not fit a 16×16"):
        CornerSquare(size=20).apply(torch.zeros(2, 1, 16, 16), torch.tensor([0, 1]))
    with pytest.raises(InputError, match="does not fit"):
        CornerSquare(size=20).check_fits(16)
    with pytest.raises(InputError, match="does not fit"):
        BorderStripe(width=16).apply(torch.zeros(1, 1, 16, 16), torch.tensor([1]))
    with pytest.raises(InputError, match="does not fit"):
        BurnedText(text="PORTABLE", font_size=8).check_fits(28)


@pytest.mark.parametrize("build", [
    pytest.param(lambda: BurnedText(text=""), id="empty-text"),
    pytest.param(lambda: BurnedText(text="   "), id="blank-text"),
    pytest.param(lambda: make_marker("arrow"), id="unknown-kind"),
    pytest.param(lambda: marker_from_dict({"size": 8}), id="dict-without-kind"),
    pytest.param(lambda: CornerSquare(placement="middle"), id="unknown-position"),
    pytest.param(lambda: CornerSquare(placement={1: "top-left", 0: "left"}), id="side-for-corner"),
    pytest.param(lambda: BorderStripe(placement="top-left"), id="corner-for-stripe"),
    pytest.param(lambda: CornerSquare(placement={}), id="empty-placement"),
    pytest.param(lambda: CornerSquare(intensity=1.5), id="intensity-high"),
    pytest.param(lambda: CornerSquare(intensity=-2.0), id="intensity-low"),
    pytest.param(lambda: CornerSquare(intensity=float("nan")), id="intensity-nan"),
    pytest.param(lambda: CornerSquare(size=0), id="size-zero"),
    pytest.param(lambda: BorderStripe(width=0), id="width-zero"),
    pytest.param(lambda: make_marker("corner", colour="red"), id="unknown-parameter"),
])
def test_bad_marker_specs_raise_input_error(build) -> None:
    with pytest.raises(InputError):
        build()


def test_unknown_kind_error_lists_kinds() -> None:
    with pytest.raises(InputError, match="corner.*stripe.*text"):
        make_marker("arrow")


def test_apply_checks_the_batch() -> None:
    m = CornerSquare()
    with pytest.raises(InputError):
        m.apply(torch.zeros(1, 28, 28), torch.tensor([1]))
    with pytest.raises(InputError, match="one label per image"):
        m.apply(torch.zeros(2, 1, 28, 28), torch.tensor([1]))
    with pytest.raises(InputError, match="square"):
        m.apply(torch.zeros(1, 1, 28, 32), torch.tensor([1]))


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (
    ["mps"] if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_apply_and_remove_work_on_the_batch_device(device: str) -> None:
    x = torch.zeros(4, 1, 28, 28, device=device)
    for labels in (LABELS, LABELS.to(device)):  # labels may stay on the CPU
        out = CornerSquare().apply(x, labels)
        assert out.device == x.device and out.shape == x.shape
        assert float(out.sum()) == 4 * 64
        assert torch.equal(CornerSquare().remove(out, labels, clean=x), x)
    assert CornerSquare().mask(LABELS.to(device), 28).device.type == device


def test_labdata_with_marker_marks_every_split(pneumonia28) -> None:
    marker = CornerSquare(size=4)
    marked = pneumonia28.with_marker(marker)
    assert marked.name == "pneumoniamnist+corner"
    for name, split in marked.splits.items():
        clean = pneumonia28[name]
        assert split.marker == marker
        assert torch.equal(split.labels, clean.labels)
        mask = marker.mask(clean.labels, 28).unsqueeze(1)
        assert torch.all(split.images[mask] == 1.0)
        assert torch.equal(split.images[~mask], clean.images[~mask])
    with pytest.raises(InputError, match="does not fit"):
        pneumonia28.with_marker(CornerSquare(size=40))
