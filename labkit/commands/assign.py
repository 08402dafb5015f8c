"""``labkit assign``: generate the student notebooks (``exercises/``) from the instructor ones (``solutions/``)."""
from __future__ import annotations

import argparse

from labkit.course.assign import assign, out_of_date

HELP = "generate student notebooks from the instructor notebooks (solutions stubbed, hidden tests removed)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default="solutions", help="folder of instructor notebooks (default: solutions)")
    p.add_argument("--out", default="exercises", help="folder for the student notebooks (default: exercises)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit with status 1 if the student notebooks are out of date")
    p.add_argument("notebooks", nargs="*", help="only these notebooks (file names or stems)")


def run(args: argparse.Namespace) -> int:
    if args.check:
        problems = out_of_date(args.source, args.out)
        for line in problems:
            print(line)
        if not problems:
            print(f"{args.out} is up to date with {args.source}")
        return 1 if problems else 0
    for path in assign(args.source, args.out, args.notebooks or None):
        print(f"wrote {path}")
    return 0
