"""ipywidgets panels: thin views of one :class:`~labkit.session.ExperimentState`.

>>> from labkit.session import ExperimentState
>>> from labkit.panels import ExplainerSelector, TrainingController
>>> state = ExperimentState()                                # doctest: +SKIP
>>> state.load_data("phantom")                               # doctest: +SKIP
>>> TrainingController(state)                                # doctest: +SKIP
>>> ExplainerSelector(state)                                 # doctest: +SKIP

Panels are views: they bind widgets to the session's traits and call session
functions (``labkit.session``: studies, analyses, jobs); errors appear as one
line in a :class:`StatusLine`, never as a traceback. :class:`LabApp` puts them
all in tabs (the Voilà lecture app).
"""
from labkit.panels.app import LabApp
from labkit.panels.base import Coalescer, Panel, StatusLine, guarded, reporting
from labkit.panels.cascade import CascadeViewer, lesson_caption
from labkit.panels.compare import CompareView
from labkit.panels.counterfactual import CounterfactualViewer
from labkit.panels.evaluation import EvaluationPanel
from labkit.panels.explainer import ExplainerSelector
from labkit.panels.jobs import JobPanel
from labkit.panels.marker import MarkerEditor
from labkit.panels.picker import ImagePicker, upload_entry
from labkit.panels.training import TrainingController

__all__ = ["LabApp", "Coalescer", "Panel", "StatusLine", "guarded", "reporting", "CascadeViewer", "lesson_caption", "CompareView",
           "CounterfactualViewer",
           "EvaluationPanel", "ExplainerSelector", "upload_entry", "ImagePicker", "JobPanel", "MarkerEditor",
           "TrainingController"]
