"""ipywidgets panels: thin views of one :class:`~labkit.state.ExperimentState`.

>>> from labkit.state import ExperimentState
>>> from labkit.panels import ExplainerSelector, TrainingController
>>> state = ExperimentState()                                # doctest: +SKIP
>>> state.load_data("phantom")                               # doctest: +SKIP
>>> TrainingController(state)                                # doctest: +SKIP
>>> ExplainerSelector(state)                                 # doctest: +SKIP

Panels observe the state's traits and call core functions; errors appear as one
line in a :class:`StatusLine`, never as a traceback. :class:`LabApp` puts them
all in tabs (the Voilà lecture app).
"""
from labkit.panels.app import LabApp, apply_gpu_memory_cap
from labkit.panels.base import Coalescer, Job, Panel, StatusLine, guarded, reporting
from labkit.panels.cascade import CascadeViewer, lesson_caption
from labkit.panels.evaluation import EvaluationPanel, evaluate_methods
from labkit.panels.explainer import ExplainerSelector, upload_entry
from labkit.panels.marker import MarkerEditor, shortcut_analysis
from labkit.panels.training import TrainingController

__all__ = ["LabApp", "apply_gpu_memory_cap", "Coalescer", "Job", "Panel", "StatusLine", "guarded", "reporting",
           "CascadeViewer", "lesson_caption", "EvaluationPanel", "evaluate_methods", "ExplainerSelector",
           "upload_entry", "MarkerEditor", "shortcut_analysis", "TrainingController"]
