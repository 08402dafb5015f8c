"""The headless session layer: one experiment state, the selection, jobs, studies and the zoo.

>>> from labkit.session import ExperimentState
>>> state = ExperimentState(device="cpu")
>>> state.load_data("phantom", size=32)                       # doctest: +SKIP
>>> state.start_training("baseline", background=False)       # doctest: +SKIP
>>> state.selection.image_index = 3                          # doctest: +SKIP

Everything the panels show is computed here or in the core; nothing in this
package imports ipywidgets (a test enforces it).
"""
from labkit.session.experiment import ExperimentState
from labkit.session.jobs import Cancelled, Job, TrainingJob
from labkit.session.recipes import VARIANT_NAMES, VARIANTS, TrainingPlan
from labkit.session.selection import Selection, Shown

__all__ = ["ExperimentState", "Selection", "Shown", "Job", "TrainingJob", "Cancelled", "TrainingPlan", "VARIANTS",
           "VARIANT_NAMES"]
