"""Answers graded by hand (markdown solution cells), registered for their points."""
from labkit.checks.registry import written

written("02_describe_three_maps", "Three maps described: where the model looks, clinically meaningful or not", 3)
