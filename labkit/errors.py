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


class CheckpointError(LabkitError):
    """A checkpoint folder is missing, corrupt or does not match the model."""


class TrainingError(LabkitError):
    """Training cannot start or continue (e.g. already running)."""
