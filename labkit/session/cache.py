"""A thread-safe cache of computed results (maps, predictions, analyses).

The explainer renders on a worker thread while training finishes on another and
clears the cache when a model changes: every access goes through one lock. A
value is computed outside the lock, so a slow map never blocks other readers; the
key must name everything the value depends on (model version, image, method,
parameters).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, TypeVar

V = TypeVar("V")


class LockedCache:
    """A bounded LRU dict behind a lock; :meth:`clear` empties it from any thread."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self.generation = 0  # bumped by clear(): a value computed before a clear is not stored

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return default

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def put(self, key: Hashable, value: Any, generation: int | None = None) -> None:
        """Store ``value``, unless the cache was cleared since ``generation`` was read."""
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> tuple[V, bool]:
        """``(value, was_cached)``; computes and stores the value when it is missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key], True
            generation = self.generation
        value = compute()
        self.put(key, value, generation)
        return value, False

    def pop(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            return self._items.pop(key, default)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.generation += 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
