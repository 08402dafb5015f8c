"""Autograded checks for the lab's exercises, with feedback that names the mistake.

Students call one function per exercise; each returns a :class:`CheckResult`
that renders as HTML in a notebook::

    from labkit import checks
    checks.gradient(gradient_saliency)           # or: checks.check("02_gradient", gradient_saliency)
    checks.question("03_q_cascade_order", "b")   # conceptual questions

Code exercises run the student's function on seeded fixture models and compare
it with labkit's reference implementation; when the output differs, the check
computes the usual wrong variants itself (signed instead of absolute,
probabilities instead of logits, a missing ReLU, unclamped noise, ...) and says
which one the output matches. While the student's function runs, the labkit and
captum functions it reaches are recorded: calling a reference implementation
fails the check (each exercise declares the helpers it hands out). A student's
exception, a hang, NaN or a wrong shape becomes one line of feedback.

Conceptual questions are checked for their form only: the answers are not in this
package. The points nbgrader records come from the hidden tests of the instructor
notebooks, which grade the student's source on unseen cases in a fresh process
(:mod:`labkit.course.hidden`); ``.grade()`` in the visible test is the cell's value:
the report as HTML, the points as its plain text (what nbgrader reads).
This package never imports ipywidgets.
"""
from labkit.checks.result import CheckResult, Message
from labkit.checks.registry import EXERCISES, Exercise, check, list_checks
from labkit.checks.metrics import clinical_metrics_by_hand, confusion
from labkit.checks.gradients import gradient, grad_x_input, smoothgrad
from labkit.checks.ig import ig_captum, integrated_gradients
from labkit.checks.occlusion import occlusion
from labkit.checks.gradcam import gradcam
from labkit.checks.sanity import cascade, randomized_similarity, signed_gradient
from labkit.checks.shortcut import border_stripe, largest_drop, per_class_errors
from labkit.checks.evaluation import deletion_auc, region_fraction, stability
from labkit.checks.latent import latent_shift_frames, latentshift_max
from labkit.checks.questions import QUESTIONS, question
from labkit.checks import written as _written  # noqa: F401  (registers the hand-graded answers)

__all__ = ["CheckResult", "Message", "EXERCISES", "Exercise", "check", "list_checks", "question", "QUESTIONS",
           "confusion", "clinical_metrics_by_hand",
           "gradient", "grad_x_input", "smoothgrad", "integrated_gradients", "ig_captum", "occlusion", "gradcam",
           "randomized_similarity", "cascade", "signed_gradient",
           "border_stripe", "per_class_errors", "largest_drop",
           "deletion_auc", "region_fraction", "stability", "latent_shift_frames", "latentshift_max"]
