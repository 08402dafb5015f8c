"""Feedback colours reach WCAG's 4.5:1 on JupyterLab 4's light and dark backgrounds.

The backgrounds are read from the installed JupyterLab's own theme style sheets
(``--jp-layout-color0``, the notebook and output-area background), with the report's
grey tint composited over them, as the browser draws it.
"""
from __future__ import annotations

import re
from pathlib import Path

import jupyterlab
import pytest

import contrast
from labkit.checks import CheckResult, Message
from labkit.checks.result import PALETTE, TINT

THEMES = Path(jupyterlab.__file__).parent / "themes" / "@jupyterlab"
THEME_CSS = {"light": "theme-light-extension", "dark": "theme-dark-extension"}


def theme_variable(theme: str, name: str) -> str:
    css = (THEMES / THEME_CSS[theme] / "index.css").read_text()
    found = re.findall(rf"{re.escape(name)}\s*:\s*([^;}}]+)", css)
    assert found, f"{name} not in JupyterLab's {theme} theme"
    return found[0].strip()


def backgrounds(theme: str) -> dict[str, contrast.RGBA]:
    page = contrast.parse(theme_variable(theme, "--jp-layout-color0"))
    (r, g, b), alpha = TINT
    return {"page": page, "report": contrast.over((r, g, b, alpha), page)}


def test_the_helper_matches_wcag_reference_values():
    white, black = contrast.parse("#fff"), contrast.parse("black")
    assert contrast.ratio(black, white) == pytest.approx(21.0)
    assert contrast.ratio(white, white) == pytest.approx(1.0)
    assert contrast.ratio(contrast.parse("#767676"), white) == pytest.approx(4.54, abs=0.01)  # the lightest AA grey


def test_jupyterlab_backgrounds_are_the_ones_the_palette_was_chosen_for():
    assert contrast.parse(theme_variable("light", "--jp-layout-color0"))[:3] == (255, 255, 255)
    assert contrast.parse(theme_variable("dark", "--jp-layout-color0"))[:3] == (17, 17, 17)


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("level", ["ok", "fail", "hint", "note"])
def test_each_feedback_colour_has_contrast_4_5_on_its_theme(theme, level):
    fg = contrast.parse(PALETTE[theme][level])
    for where, bg in backgrounds(theme).items():
        assert contrast.ratio(fg, bg) >= 4.5, f"{level} on {theme} {where}: {contrast.ratio(fg, bg):.2f}:1"


def test_no_single_colour_would_do_for_both_themes():
    """Why the report switches colours under a dark theme.

    Contrast depends on luminance only: a text luminance L does best on both backgrounds
    when its two ratios are equal, (L + 0.05)² = (L_light + 0.05)(L_dark + 0.05), which
    leaves at most sqrt((L_light + 0.05) / (L_dark + 0.05)) on each.
    """
    light, dark = (contrast.luminance(backgrounds(t)["report"]) for t in ("light", "dark"))
    assert ((light + 0.05) / (dark + 0.05)) ** 0.5 < 4.5
    for level, color in PALETTE["light"].items():
        assert contrast.ratio(contrast.parse(color), backgrounds("dark")["report"]) < 4.5, level


def test_the_report_uses_the_light_colours_and_switches_under_a_dark_jupyterlab_theme():
    html = CheckResult("x", "t", False, 0.0, 1.0, tuple(Message(lv, lv) for lv in PALETTE["light"]))._repr_html_()
    dark = "body[data-jp-theme-light=false] "
    for level in PALETTE["light"]:
        assert f".labkit-check .labkit-{level}{{color:{PALETTE['light'][level]}}}" in html
        assert f"{dark}.labkit-check .labkit-{level}{{color:{PALETTE['dark'][level]}}}" in html
        assert f'<li class="labkit-{level}"' in html
