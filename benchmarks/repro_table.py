"""Rows of the reproduction table: reference value, labkit value over seeds, tolerance, verdict.

Used by ``reproduce_findings.py``; kept apart so the table's shape (and the check
the slow test makes) reads on one screen.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass(frozen=True)
class Row:
    """One reproduced number.

    ``within`` is ``True``/``False`` for a row with a tolerance and ``None`` for a
    row printed for information only (no tolerance was asked for it). ``explained``
    marks a row listed as a known difference (``repro_rows.KNOWN_DIFFERENCES``).
    """

    section: str
    quantity: str
    reference: str
    labkit: str
    tolerance: str
    within: bool | None
    note: str = ""
    explained: bool = False  # a known difference, the note gives the evidence

    @property
    def verdict(self) -> str:
        if self.within is False and self.explained:
            return "outside (explained)"
        return {True: "within", False: "OUTSIDE", None: "—"}[self.within]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value), NaNs left out."""
    v = [float(x) for x in values if not math.isnan(float(x))]
    if not v:
        return math.nan, math.nan
    return statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0


def fmt(values: Sequence[float], digits: int = 3) -> str:
    """``mean ± std`` of per-seed values."""
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def value_row(section: str, quantity: str, reference: float | str, values: Sequence[float],
              tolerance: str = "", check: Callable[[float], bool] | None = None, note: str = "",
              digits: int = 3) -> Row:
    """A row for one number; ``check(mean)`` decides ``within`` (no check: information only)."""
    ref = reference if isinstance(reference, str) else f"{reference:.{digits}f}"
    mean = mean_std(values)[0]
    within = None if check is None else bool(check(mean))
    return Row(section, quantity, ref, fmt(values, digits), tolerance, within, note)


def order_row(section: str, quantity: str, reference: str, labkit: str, holds: bool, note: str = "") -> Row:
    """A row for an ordering that must match the reference."""
    return Row(section, quantity, reference, labkit, "same ordering", bool(holds), note)


def to_markdown(rows: Sequence[Row]) -> str:
    """The table as GitHub markdown."""
    lines = ["| section | quantity | reference | labkit (mean ± std over seeds) | tolerance | verdict | note |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r.section, r.quantity, r.reference, r.labkit, r.tolerance, r.verdict, r.note]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def to_text(rows: Sequence[Row]) -> str:
    """The table for a terminal: fixed columns, notes on their own line."""
    lines = [f"{'quantity':<44} {'reference':>14} {'labkit':>22}  {'tolerance':<24} verdict"]
    section = None
    for r in rows:
        if r.section != section:
            section = r.section
            lines.append(f"-- {section}")
        lines.append(f"{r.quantity:<44} {r.reference:>14} {r.labkit:>22}  {r.tolerance:<24} {r.verdict}")
        if r.note:
            lines.append(f"{'':<6}↳ {r.note}")
    return "\n".join(lines)
