"""Train (or load) every model the exercise notebooks use, once, before grading a class.

nbgrader gives each cell 30 s; a notebook that has to train its models first would
run out of time. Run this once on the grading machine::

    python -m labkit.course.cache          # add LABKIT_FAST=1 for the fast variant
"""
from __future__ import annotations

import time

from labkit.checks.lab import lab_autoencoder, lab_data, lab_model
from labkit.data import BorderStripe, BurnedText, CornerSquare, MarkerSpec

#: The models the notebooks use: (kind, marker) pairs passed to :func:`lab_model`.
NOTEBOOK_MODELS: tuple[tuple[str, MarkerSpec | None], ...] = (
    ("baseline", None),
    ("shortcut", CornerSquare()),
    ("shortcut", CornerSquare(size=4)),
    ("shortcut", BorderStripe()),
    ("shortcut", BurnedText(text="R")),
    ("random-labels", None),
)


def warm_cache(fast: bool | None = None) -> list[str]:
    """Train (or load) every model the notebooks use; returns one line per model."""
    data = lab_data(fast)
    lines = []
    for kind, marker in NOTEBOOK_MODELS:
        t0 = time.perf_counter()
        lab_model(data, kind, marker)
        lines.append(f"{kind:<14} {marker.describe() if marker else '':<60} {time.perf_counter() - t0:6.1f} s")
    t0 = time.perf_counter()
    lab_autoencoder(data)  # exercise 06 (Latent Shift)
    lines.append(f"{'autoencoder':<14} {'':<60} {time.perf_counter() - t0:6.1f} s")
    return lines


if __name__ == "__main__":  # python -m labkit.course.cache
    for line in warm_cache():
        print(line)
