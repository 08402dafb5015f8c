"""Compatibility import path: the experiment state lives in :mod:`labkit.session`."""
from labkit.session.experiment import ExperimentState

__all__ = ["ExperimentState"]
