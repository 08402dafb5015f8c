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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="When saliency maps on chest X-rays lie: the lab.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in SUBCOMMANDS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
