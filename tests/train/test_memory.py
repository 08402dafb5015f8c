"""Freed memory kept in the process while training (glibc), returned afterwards."""
from __future__ import annotations

import os

import pytest
import torch

from labkit.train import memory
from labkit.train.memory import keep_freed_memory

pytestmark = pytest.mark.skipif(memory._glibc() is None, reason="glibc's malloc only")


def resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_freed_blocks_stay_while_inside_and_are_returned_after() -> None:
    with keep_freed_memory():
        base = resident_mb()
        blocks = [torch.ones(6 << 20) for _ in range(8)]  # 8 × 24 MB, pages touched
        del blocks
        kept = resident_mb() - base
        with keep_freed_memory():  # nested (another thread's training): leaving it keeps the setting
            pass
        again = [torch.ones(6 << 20) for _ in range(8)]  # the kept pages are reused
        assert resident_mb() - base < kept + 96  # not another 192 MB (a block or two may land elsewhere)
        del again
    returned = resident_mb() - base
    assert kept > 150 and returned < kept - 150


def test_without_glibc_nothing_happens(monkeypatch) -> None:
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    with keep_freed_memory():
        assert memory._active == 0
