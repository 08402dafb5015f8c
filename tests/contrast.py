"""WCAG 2 contrast of text colours (imported by the feedback-colour tests as ``contrast``).

References
----------
W3C, Web Content Accessibility Guidelines 2.1, definitions of *relative luminance* and
*contrast ratio*; success criterion 1.4.3 asks for at least 4.5:1 for normal text.
"""
from __future__ import annotations

import re

NAMED = {"white": (255, 255, 255), "black": (0, 0, 0)}
RGBA = tuple[float, float, float, float]


def parse(text: str) -> RGBA:
    """``#rgb``, ``#rrggbb``, ``white``/``black`` or CSS ``rgb()``/``rgba()`` as (r, g, b, alpha)."""
    text = text.strip().lower()
    if text in NAMED:
        return (*NAMED[text], 1.0)
    if text.startswith("#"):
        h = text[1:]
        h = "".join(c * 2 for c in h) if len(h) == 3 else h
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 1.0)
    m = re.fullmatch(r"rgba?\(([^)]*)\)", text)
    if not m:
        raise ValueError(f"not a colour this helper reads: {text!r}")
    parts = [float(p) for p in re.split(r"[\s,/]+", m.group(1).strip()) if p]
    return (parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0)


def over(top: RGBA, bottom: RGBA) -> RGBA:
    """``top`` composited over an opaque ``bottom``."""
    a = top[3]
    return (*(t * a + b * (1 - a) for t, b in zip(top[:3], bottom[:3])), 1.0)


def luminance(color: RGBA) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in color[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(fg: RGBA, bg: RGBA) -> float:
    """Contrast ratio (1 to 21) of text ``fg`` (composited over ``bg``) on the opaque ``bg``."""
    hi, lo = sorted((luminance(over(fg, bg)), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
