"""Has the student's code replaced anything the checker relies on?

:class:`Snapshot` records the identity of every attribute of labkit's modules and
classes, of ``builtins``, of the torch and numpy functions the checks call, and of
``torch.Tensor`` / ``torch.nn.Module`` (their methods can be shadowed), plus the
code object of every such function. :meth:`Snapshot.changed` lists what was replaced,
deleted or (in a class) added since. The grader takes one before the student's code
is rebuilt and compares after the check; any change scores 0.
"""
from __future__ import annotations

import sys
import types
from typing import Iterator

import torch

#: Modules outside labkit whose attributes the checker's results depend on.
MODULES = ("builtins", "math", "json", "os", "copy", "contextlib", "warnings", "torch", "torch.nn.functional",
           "torch.autograd", "torch.linalg", "numpy", "labkit")
CLASSES = (torch.Tensor, torch.nn.Module)
#: Class attributes Python itself caches on first use (``copy``/``pickle`` set ``__slotnames__``).
LAZY = frozenset({"__slotnames__"})

Key = tuple[str, ...]


def _ours(name: str) -> bool:
    return name in MODULES or name.startswith("labkit.")


def _members(prefix: Key, namespace: dict) -> Iterator[tuple[Key, int]]:
    for name, value in list(namespace.items()):
        if name in LAZY:
            continue
        yield (*prefix, name), id(value)
        code = getattr(value, "__code__", None)
        if isinstance(code, types.CodeType):
            yield (*prefix, name, "__code__"), id(code)
            yield (*prefix, name, "__defaults__"), id(value.__defaults__)


def _entries() -> Iterator[tuple[Key, int]]:
    for name, module in list(sys.modules.items()):
        if module is None or not _ours(name):
            continue
        yield ("sys.modules", name), id(module)
        yield from _members((name,), vars(module))
        if name.split(".")[0] != "labkit":
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, type) and value.__module__ == name:
                yield from _members((name, attr, "class"), dict(vars(value)))
    for cls in CLASSES:
        yield from _members((cls.__qualname__, "class"), dict(vars(cls)))


class Snapshot:
    """Identities of what the checker relies on, at one moment."""

    def __init__(self) -> None:
        self.ids = dict(_entries())

    def changed(self) -> list[str]:
        """What differs now: replaced entries, and entries deleted from or added to a class that existed."""
        now = dict(_entries())
        old = self.ids
        replaced = [k for k, v in old.items() if k in now and now[k] != v]
        deleted = [k for k in old if k not in now and ("class" in k or k[0] == "sys.modules")]
        classes = {_class_of(k) for k in old} - {None}
        added = [k for k in now if k not in old and _class_of(k) in classes]
        return sorted({".".join(k) for k in (*replaced, *deleted, *added)})


def _class_of(key: Key) -> Key | None:
    """The part of ``key`` naming a class (up to ``"class"``), None for a module attribute."""
    return key[:key.index("class") + 1] if "class" in key else None


__all__ = ["Snapshot"]
