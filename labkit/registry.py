"""One registry helper for every name → thing table in labkit.

Markers, models, explainers, metrics and exercises each keep a :class:`Registry`:
entries in registration order, a decorator to add them, and a lookup whose error
names the valid choices. Re-registering the *same* object under a name (a reloaded
module) replaces it; a different object under a used name is refused.
"""
from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from labkit.errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind (``kind`` is used in error messages).

    >>> colours = Registry[str]("colour")
    >>> colours.add("red", "#f00")
    '#f00'
    >>> colours.get("blue")
    Traceback (most recent call last):
    labkit.errors.InputError: unknown colour 'blue'; choose one of ['red']
    """

    def __init__(self, kind: str, same: Callable[[T, T], bool] | None = None) -> None:
        self.kind = kind
        self._same = same or _same_definition
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        """Register ``item`` as ``name`` and return it."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        old = self._items.get(name)
        if old is not None and not self._same(old, item):
            raise ValueError(f"{self.kind} name {name!r} is already used by {old!r}")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""
        return lambda item: self.add(name, item)

    def get(self, name: str) -> T:
        """The entry called ``name``; :class:`InputError` naming the choices otherwise."""
        if not isinstance(name, str) or name not in self._items:
            raise InputError(f"unknown {self.kind} {name!r}; choose one of {self.names()}")
        return self._items[name]

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, name: str) -> T:
        return self.get(name)


def _same_definition(old: object, new: object) -> bool:
    """Two registrations are the same definition when they are equal or share a qualified name."""
    if old is new or old == new:
        return True
    q_old = getattr(old, "__qualname__", None)
    return q_old is not None and q_old == getattr(new, "__qualname__", None)


__all__ = ["Registry"]
