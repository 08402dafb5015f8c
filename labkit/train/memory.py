"""Keeping freed memory in the process while training on CPU (glibc's allocator).

A training step of SmallCNN at batch 128 and 64 px allocates and frees dozens of 4–17 MB
activation and gradient tensors. glibc's malloc hands blocks above its mmap threshold to
the kernel on every free and trims the heap top beyond its trim threshold (at most
32 and 64 MB by its dynamic rule), so each step faults those pages in again: 1.5 million
page faults and 2.8 s of system time in three epochs, against 0.2 million and 0.6 s with
both thresholds raised (benchmarks/README.md). :func:`keep_freed_memory` raises them while
training runs and, afterwards, returns the freed memory to the system (``malloc_trim``)
and leaves the thresholds where glibc's dynamic rule would put them for such blocks.
Elsewhere than glibc it does nothing.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
import threading
from typing import Iterator

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc's malloc.h)
MMAP_THRESHOLD = 32 << 20  # glibc's largest dynamic mmap threshold on 64-bit systems
TRIM_WHILE_TRAINING = 1 << 30  # keep up to 1 GiB of freed heap top during training
TRIM_AFTER = 2 * MMAP_THRESHOLD  # glibc's dynamic rule: trim threshold = 2 × mmap threshold

_lock = threading.Lock()
_active = 0  # trainings running in this process (threads)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") and hasattr(libc, "gnu_get_libc_version") \
        else None


@contextlib.contextmanager
def keep_freed_memory() -> Iterator[None]:
    """Within the block, freed blocks up to 32 MB stay in the process for reuse (glibc only).

    Process-wide and nestable across threads: the thresholds go back when the last
    block that raised them ends.
    """
    global _active
    libc = _glibc()
    if libc is None:
        yield
        return
    with _lock:
        _active += 1
        if _active == 1:
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_WHILE_TRAINING)
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                libc.mallopt(M_TRIM_THRESHOLD, TRIM_AFTER)
                libc.malloc_trim(0)
