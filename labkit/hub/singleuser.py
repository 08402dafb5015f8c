"""Start a student's Jupyter server: ``python -m labkit.hub.singleuser [server options]``.

The spawner runs this in the student's home. It copies what the class needs into the
home when it is not there yet (the lecture app notebook, and the exercises when
``$LABKIT_HUB_EXERCISES`` names a folder), then replaces itself with
``jupyterhub-singleuser``. It runs as the student, so it works with every spawner
whose image or machine has labkit installed.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from labkit.errors import InputError

APP_NOTEBOOK = "lab_app.ipynb"


def prepare_home(home: str | os.PathLike, exercises: str | os.PathLike | None = None) -> list[Path]:
    """Copy the app notebook (and the exercises folder) into ``home`` if missing; returns what was copied.

    A student's own edits are never overwritten.
    """
    from labkit.commands.app import notebook_path

    home = Path(home)
    copied = []
    target = home / APP_NOTEBOOK
    if not target.exists():
        shutil.copyfile(notebook_path(), target)
        copied.append(target)
    if exercises:
        src = Path(exercises)
        if not src.is_dir():
            raise InputError(f"exercises folder {src} not found: expected the folder of student notebooks "
                             "(labkit assign writes it)")
        dest = home / "exercises"
        if not dest.exists():
            shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".*", "__pycache__"))
            copied.append(dest)
    return copied


def main(argv: list[str] | None = None) -> None:
    """Prepare the home (the working directory), then exec ``jupyterhub-singleuser`` with ``argv``."""
    argv = sys.argv[1:] if argv is None else argv
    prepare_home(Path.cwd(), os.environ.get("LABKIT_HUB_EXERCISES") or None)
    os.execv(sys.executable, [sys.executable, "-m", "jupyterhub.singleuser", *argv])


if __name__ == "__main__":
    main()
