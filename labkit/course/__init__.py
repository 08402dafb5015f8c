"""Instructor tooling: what a course runs, never what a student's notebook imports.

* :mod:`labkit.course.assign` — student notebooks from the authored solution notebooks
  (``labkit assign``), points filled from the exercise registry;
* :mod:`labkit.course.grade` — a local grade report per graded cell (``labkit grade``);
* :mod:`labkit.course.cache` — train the models the notebooks use once, before grading.
"""
