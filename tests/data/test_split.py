"""Split and LabData: seeded subsets, permuted labels, normalization, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from labkit.data import LabData, Split, denormalize, normalize
from labkit.errors import InputError


def test_normalize_maps_uint8_to_unit_range_and_back() -> None:
    x = np.array([0, 127, 128, 255], dtype=np.uint8)
    t = normalize(x)
    assert t.dtype == torch.float32
    assert t[0] == -1.0 and t[-1] == 1.0 and abs(float(t[1])) < 0.01
    assert torch.equal(denormalize(t), torch.from_numpy(x))
    with pytest.raises(InputError, match="uint8"):
        normalize(np.zeros(3, dtype=np.float32))


@pytest.mark.parametrize("n", [50, 300, 1000])
def test_stratified_subset_keeps_class_proportions(pneumonia28, n: int) -> None:
    train = pneumonia28["train"]
    sub = train.subset(n, seed=1)
    assert len(sub) == n
    frac_full = train.class_counts()[1] / len(train)
    assert abs(sub.class_counts()[1] / n - frac_full) <= 1.0 / n + 1e-9
    assert sub.size == train.size and sub.images.dtype == torch.float32


def test_subset_is_seeded(pneumonia28) -> None:
    train = pneumonia28["train"]
    a, b, c = train.subset(200, seed=5), train.subset(200, seed=5), train.subset(200, seed=6)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)


def test_subset_images_come_from_the_split(pneumonia28) -> None:
    train = pneumonia28["train"]
    sub = train.subset(20, seed=0, stratified=False)
    flat = train.images.flatten(1)
    for img, label in zip(sub.images, sub.labels):
        hits = (flat == img.flatten()).all(1).nonzero().flatten()
        assert len(hits) >= 1 and int(label) in train.labels[hits].tolist()


def test_subset_larger_than_split_is_the_split_and_zero_is_an_error(pneumonia28) -> None:
    val = pneumonia28["val"]
    assert val.subset(10_000) is val
    with pytest.raises(InputError):
        val.subset(0)


def test_permuted_labels_same_multiset_seeded(pneumonia28) -> None:
    train = pneumonia28["train"]
    p1, p2, p3 = (train.with_permuted_labels(seed=s) for s in (0, 0, 1))
    assert torch.equal(p1.images, train.images)  # only labels move
    assert torch.equal(p1.labels.sort().values, train.labels.sort().values)
    assert torch.equal(p1.labels, p2.labels)
    assert not torch.equal(p1.labels, p3.labels)
    assert not torch.equal(p1.labels, train.labels)
    # a permutation of a 74 % pneumonia split leaves many labels wrong
    assert float((p1.labels != train.labels).float().mean()) > 0.25
    assert p1.name == "train-permuted"


def test_select_and_to_keep_everything_aligned(pneumonia28) -> None:
    test = pneumonia28["test"]
    sel = test.select([3, 1, 4])
    assert torch.equal(sel.images, test.images[[3, 1, 4]])
    assert torch.equal(sel.labels, test.labels[[3, 1, 4]])
    assert sel.to("cpu").device == torch.device("cpu")


def test_split_shape_errors_and_labdata_unknown_split(pneumonia28) -> None:
    with pytest.raises(InputError):
        Split("x", torch.zeros(3, 1, 8, 8), torch.zeros(2, dtype=torch.long))
    with pytest.raises(InputError):
        Split("x", torch.zeros(3, 8, 8), torch.zeros(3, dtype=torch.long))
    with pytest.raises(InputError, match="unknown split 'dev'"):
        pneumonia28["dev"]


def test_labdata_summary_lists_counts(pneumonia28) -> None:
    text = pneumonia28.summary()
    assert "4708" in text and "1214 normal" in text and "3494 pneumonia" in text
    assert pneumonia28.num_classes == 2
    assert isinstance(pneumonia28.to("cpu"), LabData)


def test_lazy_splits_make_each_split_once_on_first_use() -> None:
    from labkit.data.split import LazySplits, map_splits

    made: list[str] = []

    def make(name: str) -> Split:
        made.append(name)
        return Split(name, torch.zeros(3, 1, 4, 4), torch.tensor([0, 1, 1]))

    splits = LazySplits(("train", "test"), make, {"train": torch.tensor([0, 1, 1])})
    assert list(splits) == ["train", "test"] and "train" in splits and len(splits) == 2 and made == []
    assert splits.labels("train").tolist() == [0, 1, 1] and made == []  # counts without the images
    marked = map_splits(splits, lambda s: Split(s.name, s.images + 1, s.labels))
    assert made == [] and splits.loaded() == ()
    assert float(marked["test"].images.mean()) == 1.0 and made == ["test"]
    assert splits["test"] is splits["test"] and made == ["test"]
    with pytest.raises(KeyError):
        splits["val"]


def test_pneumonia_reads_the_training_images_only_when_used(data_dir) -> None:
    from labkit.data import load_pneumonia

    data = load_pneumonia(28, data_dir, download=False, device="cpu")
    assert data.splits.loaded() == ("val", "test")
    assert "train   4708 images" in data.summary() and data.splits.loaded() == ("val", "test")
    assert data["train"].images.shape == (4708, 1, 28, 28) and data.splits.loaded() == ("train", "val", "test")
