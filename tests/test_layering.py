"""The layering rule: nothing outside labkit/panels (and the app modules) imports ipywidgets.

Panels → ExperimentState → core; the core (data, models, train, explain, sanity,
evaluate, render, checks, state, checkpoint, cli…) must stay usable from a script.
Module lists are discovered, so subpackages added later are covered too.
"""
from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import labkit

PACKAGE_DIR = Path(labkit.__file__).resolve().parent
IMPORT_WIDGETS = re.compile(r"^\s*(import\s+ipywidgets\b|from\s+ipywidgets\b)", re.MULTILINE)


def _is_ui(module: str) -> bool:
    return module == "labkit.panels" or module.startswith("labkit.panels.") or module.startswith("labkit.app")


def core_modules() -> list[str]:
    """Every module under labkit/ except the UI layer, found with pkgutil without importing anything."""
    found: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        for info in pkgutil.iter_modules([str(folder)], prefix):
            if _is_ui(info.name):
                continue
            found.append(info.name)
            if info.ispkg:
                walk(folder / info.name.rsplit(".", 1)[-1], info.name + ".")

    walk(PACKAGE_DIR, "labkit.")
    return sorted(found)


def test_module_discovery_covers_the_core() -> None:
    mods = core_modules()
    for expected in ("labkit.data.markers", "labkit.models.layers", "labkit.train.trainer", "labkit.session",
                     "labkit.checkpoint", "labkit.cli", "labkit.commands.train"):
        assert expected in mods
    assert not any(_is_ui(m) for m in mods)


def test_importing_the_core_does_not_import_ipywidgets() -> None:
    mods = core_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {mods!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'ipywidgets' or m.startswith('ipywidgets.'))\n"
        "assert not bad, 'core modules imported ipywidgets: ' + ', '.join(bad[:5])\n"
        "print(len(" + repr(mods) + "), 'core modules imported')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            cwd=PACKAGE_DIR.parent)
    assert result.returncode == 0, result.stderr[-3000:]


def test_no_core_source_file_imports_ipywidgets() -> None:
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        if _is_ui(module):
            continue
        if IMPORT_WIDGETS.search(path.read_text(encoding="utf-8")):
            offenders.append(str(rel))
    assert not offenders, f"core files import ipywidgets (only labkit/panels may): {offenders}"


def test_the_static_check_would_catch_an_import() -> None:
    assert IMPORT_WIDGETS.search("x = 1\nimport ipywidgets as widgets\n")
    assert IMPORT_WIDGETS.search("    from ipywidgets import IntSlider\n")
    assert not IMPORT_WIDGETS.search("# ipywidgets is not imported here\nimport ipywidgets_extra\n")


CORE = ("data", "models", "explain", "sanity", "evaluate", "train", "render")
UPPER = re.compile(r"^\s*(from|import)\s+labkit\.(session|panels|checks|course|commands|hub)\b", re.MULTILINE)
PANELS = re.compile(r"^\s*(from|import)\s+labkit\.panels\b", re.MULTILINE)


def _sources(package: str) -> list[Path]:
    return sorted((PACKAGE_DIR / package).rglob("*.py"))


def test_the_core_never_imports_the_layers_above_it() -> None:
    offenders = [str(p.relative_to(PACKAGE_DIR)) for pkg in CORE for p in _sources(pkg)
                 if UPPER.search(p.read_text(encoding="utf-8"))]
    assert not offenders, f"core modules import session/panels/checks/course/commands: {offenders}"


def test_the_session_layer_never_imports_panels() -> None:
    assert _sources("session"), "labkit/session is missing"
    offenders = [str(p.relative_to(PACKAGE_DIR)) for p in _sources("session")
                 if PANELS.search(p.read_text(encoding="utf-8")) or IMPORT_WIDGETS.search(p.read_text(encoding="utf-8"))]
    assert not offenders, f"session modules import panels or ipywidgets: {offenders}"


def test_no_file_under_labkit_is_over_300_lines() -> None:
    long = {str(p.relative_to(PACKAGE_DIR)): n for p in PACKAGE_DIR.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 300}
    assert not long, f"split these by responsibility: {long}"
