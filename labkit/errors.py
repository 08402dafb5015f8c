"""Exceptions raised by labkit.

Every error says what was expected and what to do. All derive from
:class:`LabkitError`, so panels can catch one type and show the message.
"""
from __future__ import annotations


class LabkitError(Exception):
    """Base class of every error labkit raises on purpose."""


class InputError(LabkitError, ValueError):
    """An argument has the wrong shape, dtype, range or name."""


class DataNotFoundError(LabkitError, FileNotFoundError):
    """The data set file is missing and could not be downloaded."""


class DataFileError(LabkitError):
    """A data set file is there but cannot be read (truncated, empty, wrong keys or shapes)."""


class CheckpointError(LabkitError):
    """A checkpoint folder is missing, corrupt or does not match the model."""


class JobError(LabkitError):
    """A background job cannot start or continue (e.g. one is already running)."""


class TrainingError(JobError):
    """Training cannot start or continue (e.g. already running)."""


def one_line(exc: BaseException) -> str:
    """A short message for an exception: its first line, the type named when it is not labkit's own."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if type(exc).__name__ == "TraitError" and " trait of " in first:
        first = first.split(" trait of ")[0] + " is not valid"
    if isinstance(exc, LabkitError) or type(exc).__name__ == "TraitError":
        return first or type(exc).__name__
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
