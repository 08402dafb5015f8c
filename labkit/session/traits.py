"""State objects whose traits refuse a value of the wrong type with labkit's :class:`InputError`.

traitlets checks a trait's type before any of labkit's own validators run, and raises
its ``TraitError``, which ``except ValueError`` does not catch. :class:`CheckedTraits`
turns that into an :class:`~labkit.errors.InputError` naming the trait, the type it
takes and the value given; the trait keeps its value and no observer fires.
"""
from __future__ import annotations

from typing import Any

from traitlets import HasTraits, TraitError
from traitlets.utils.descriptions import describe

from labkit.errors import InputError


class CheckedTraits(HasTraits):
    """``HasTraits`` whose wrong-type assignments raise :class:`InputError`."""

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except TraitError:
            trait = self.traits().get(name)
            if trait is None:
                raise
            what = trait.info().replace("unicode string", "string")
            about = f" ({trait.help})" if trait.help else ""
            raise InputError(f"{type(self).__name__}.{name} must be {what}{about}, not {describe('the', value)}"
                             ) from None


__all__ = ["CheckedTraits"]
