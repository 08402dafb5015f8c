"""The ``labkit`` command line: one module per subcommand under ``labkit.commands``."""
from __future__ import annotations

import argparse
import importlib
import sys

from labkit.errors import LabkitError

SUBCOMMANDS = {
    "data": "labkit.commands.data",
    "train": "labkit.commands.train",
    "train-ae": "labkit.commands.train_ae",
    "app": "labkit.commands.app",
    "assign": "labkit.commands.assign",
    "grade": "labkit.commands.grade",
    "lab": "labkit.commands.lab",
    "hub-config": "labkit.commands.hub",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or only with ``only`` (a known subcommand's name):
    each subcommand's module is imported to build it, and some import heavy libraries
    (``assign``: nbformat), which ``labkit train`` need not wait for."""
    parser = argparse.ArgumentParser(prog="labkit", description="When saliency maps on chest X-rays lie: the lab.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in SUBCOMMANDS.items():
        if only is not None and name != only:
            continue
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    only = argv[0] if argv and argv[0] in SUBCOMMANDS else None  # the top level has no options but -h
    args = build_parser(only).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except LabkitError as exc:
        print(f"labkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
