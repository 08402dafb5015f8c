"""Compatibility import path: the model zoo lives in :mod:`labkit.session.zoo`."""
from labkit.session.zoo import KINDS, RECIPES, cache_root, fingerprint, pretrained_entry

__all__ = ["pretrained_entry", "cache_root", "fingerprint", "KINDS", "RECIPES"]
