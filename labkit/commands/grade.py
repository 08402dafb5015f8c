"""``labkit grade``: execute a notebook and print a grade report per grade_id (no course database)."""
from __future__ import annotations

import argparse

from labkit.course.grade import grade_notebook, report_json

HELP = "execute an exercise notebook and print the points of every graded cell (like nbgrader, locally)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("notebook", help="the notebook to grade (a student's or an instructor's)")
    p.add_argument("--source", metavar="NOTEBOOK_OR_DIR",
                   help="the instructor notebook (or solutions folder): restores its test cells, hidden tests included")
    p.add_argument("--timeout", type=int, default=30, help="seconds per cell (default 30, nbgrader's default)")
    p.add_argument("--no-execute", action="store_true", help="score the outputs already saved in the notebook")
    p.add_argument("--kernel", help="kernel name (default: the notebook's kernelspec)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--verbose", "-v", action="store_true", help="show all feedback lines, not only the first failure")


def run(args: argparse.Namespace) -> int:
    report = grade_notebook(args.notebook, execute_first=not args.no_execute, timeout=args.timeout,
                            kernel_name=args.kernel, source=args.source)
    print(report_json(report) if args.json else report.to_text(verbose=args.verbose))
    return 0
