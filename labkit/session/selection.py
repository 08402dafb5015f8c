"""The selection: which image, split, class filter and target class every view shows.

One :class:`Selection` per experiment. The explainer, cascade, evaluation and
counterfactual views all read their images from it (:meth:`Selection.current`,
:meth:`Selection.batch`), so they agree on what "the selected image" is.
``candidates()`` — the data set indices that pass the class and misclassified
filters — is computed once per change of what it depends on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from traitlets import Bool, Instance, Int, Unicode, observe, validate

from labkit.errors import InputError
from labkit.session.traits import CheckedTraits
from labkit.validation import check_images

if TYPE_CHECKING:
    from labkit.session.experiment import ExperimentState

SHOWN_VARIANTS = ("clean", "marked")


@dataclass(frozen=True)
class Shown:
    """The selected image ``(1, C, H, W)``, its label (None for an upload), the marker or lesion mask, a cache id."""

    image: torch.Tensor
    label: int | None
    mask: torch.Tensor | None
    image_id: str


class Selection(CheckedTraits):
    """Split, image, target class, upload and filters; validated against the experiment's data."""

    split = Unicode("test")
    image_index = Int(0)
    target = Int(1, help="class explained by every map")
    custom_image = Instance(torch.Tensor, allow_none=True, help="an uploaded image (1, C, H, W)")
    upload_name = Unicode("")
    variant = Unicode("clean", help="show clean images or the marked ones (needs a marker)")
    class_filter = Int(-1, help="-1 for every class, else only images of this label")
    misclassified = Bool(False, help="only images the active model gets wrong")
    uploads = Int(0, help="bumped on every upload (a fresh cache id)")

    def __init__(self, experiment: "ExperimentState") -> None:
        super().__init__()
        self.experiment = experiment
        self._candidates: tuple[tuple, list[int]] | None = None

    # ---- validation --------------------------------------------------------------------
    @validate("split")
    def _valid_split(self, proposal: dict) -> str:
        data = self.experiment.data
        if data is not None and proposal["value"] not in data.splits:
            raise InputError(f"unknown split {proposal['value']!r}; choose from {list(data.splits)}")
        return proposal["value"]

    @validate("image_index")
    def _valid_index(self, proposal: dict) -> int:
        i, data = proposal["value"], self.experiment.data
        if data is not None and not 0 <= i < len(data[self.split]):
            raise InputError(f"image index {i} out of range: the {self.split} split has images "
                             f"0…{len(data[self.split]) - 1}")
        return i

    @validate("target", "class_filter")
    def _valid_class(self, proposal: dict) -> int:
        data = self.experiment.data
        names = data.class_names if data is not None else ("normal", "pneumonia")
        lo = -1 if proposal["trait"].name == "class_filter" else 0
        if not lo <= proposal["value"] < len(names):
            choices = ", ".join(f"{i} ({n})" for i, n in enumerate(names))
            raise InputError(f"class {proposal['value']} out of range: expected {choices}")
        return proposal["value"]

    @validate("variant")
    def _valid_variant(self, proposal: dict) -> str:
        if proposal["value"] not in SHOWN_VARIANTS:
            raise InputError(f"shown images must be one of {SHOWN_VARIANTS}, got {proposal['value']!r}")
        if proposal["value"] == "marked" and self.experiment.marker is None:
            raise InputError("no marker set: choose a marker before showing marked images")
        return proposal["value"]

    @observe("split")
    def _split_changed(self, change: dict) -> None:
        self.clamp()

    def clamp(self) -> None:
        """Bring the index back into range after the data or the split changed."""
        data = self.experiment.data
        if data is not None:
            if self.split not in data.splits:
                self.split = "test" if "test" in data.splits else next(iter(data.splits))
            if self.image_index >= len(data[self.split]):
                self.image_index = 0
        if self.experiment.marker is None and self.variant == "marked":
            self.variant = "clean"

    # ---- uploads -----------------------------------------------------------------------
    def set_custom_image(self, image: torch.Tensor | None, name: str = "") -> None:
        """Use an uploaded image instead of a data set image (None to go back)."""
        if image is not None:
            data = self.experiment.require_data()
            check_images(image, name="uploaded image")
            if image.shape[0] != 1 or image.shape[-1] != data.size or image.shape[-2] != data.size:
                raise InputError(f"uploaded image must be (1, 1, {data.size}, {data.size}); got {tuple(image.shape)}")
            image = image.to(self.experiment.device)
            self.uploads += 1
        self.upload_name = name if image is not None else ""
        self.custom_image = image

    # ---- what is shown -----------------------------------------------------------------
    def view(self) -> Any:
        """The shown split: clean, or marked with the experiment's marker."""
        shown = self.variant if self.experiment.marker is not None else "clean"
        return self.experiment.view(shown, self.split)

    def candidates(self) -> list[int]:
        """Data set indices that pass the class and misclassified filters (cached per change)."""
        e = self.experiment
        if e.data is None:
            return []
        key = (id(e.data), self.split, self.variant, repr(e.marker), self.class_filter, self.misclassified,
               e.active_model if self.misclassified else "", e.model_version if self.misclassified else 0)
        if self._candidates is not None and self._candidates[0] == key:
            return self._candidates[1]
        from labkit.session.studies import predictions  # studies reads the selection too
        split = self.view()
        keep = torch.ones(len(split), dtype=torch.bool)
        labels = split.labels.cpu()
        if self.class_filter >= 0:
            keep &= labels == self.class_filter
        if self.misclassified:
            if e.active_model not in e.models:
                raise InputError("“misclassified only” needs a model: train or load one first")
            p = predictions(e, split)
            keep &= (torch.as_tensor(p.scores) >= e.models[e.active_model].threshold).long() != labels
        out = keep.nonzero().flatten().tolist()
        self._candidates = (key, out)
        return out

    def current_image(self) -> tuple[torch.Tensor, int | None]:
        """The selected image ``(1, C, H, W)`` on the device and its label (None if uploaded)."""
        shown = self.current(outline=False)
        return shown.image, shown.label

    def current(self, outline: bool = True) -> Shown:
        """The shown image with its label, outline mask (marker or lesion) and cache id."""
        e = self.experiment
        if self.custom_image is not None:
            return Shown(self.custom_image, None, None, f"upload-{self.uploads}")
        e.require_data()
        split, i = self.view(), self.image_index
        x, label = split.images[i:i + 1], int(split.labels[i])
        mask = None
        if outline:
            if split.marker is not None:
                mask = split.marker.mask(split.labels[i:i + 1], split.size)[0]
            elif split.masks is not None and bool(split.masks[i].any()):
                mask = split.masks[i]
        return Shown(x, label, mask, f"{self.split}-{split.name}-{repr(split.marker)}-{i}")

    def batch(self, n: int, same_class: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` images from the selected one on (wrapping around), and their lesion masks (or None).

        ``same_class=True`` keeps only images whose label is the target class. An
        upload gives just itself.
        """
        if self.custom_image is not None:
            return self.custom_image, None
        split = self.experiment.require_data()[self.split]
        dev_idx = torch.as_tensor(self.positions(n, same_class), device=split.images.device)
        return split.images[dev_idx], None if split.masks is None else split.masks[dev_idx]

    def positions(self, n: int, same_class: bool = False) -> list[int]:
        """Indices of :meth:`batch`'s images in the selected split."""
        split = self.experiment.require_data()[self.split]
        order = torch.cat([torch.arange(self.image_index, len(split)), torch.arange(0, self.image_index)])
        if same_class:
            order = order[split.labels.cpu()[order] == self.target]
        idx = order[: int(n)]
        if len(idx) == 0:
            raise InputError(f"the {self.split} split has no image of class {self.target}")
        return idx.tolist()
