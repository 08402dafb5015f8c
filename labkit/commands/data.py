"""``labkit data``: say which data files are found where, and optionally download."""
from __future__ import annotations

import argparse
import warnings

from labkit.data import find_file, load_pneumonia, search_dirs
from labkit.data.pneumonia import NATIVE_SIZES, file_name

HELP = "show which PneumoniaMNIST files labkit finds (and where it looks)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder holding pneumoniamnist*.npz (searched first)")
    p.add_argument("--download", action="store_true", help="download the 28×28 release if missing")
    p.add_argument("--size", type=int, default=64, help="image size to load for the summary (default 64)")


def run(args: argparse.Namespace) -> int:
    print("folders searched, in order:")
    for d in search_dirs(args.data_dir):
        print(f"  {d}")
    for size in NATIVE_SIZES:
        path = find_file(size, args.data_dir)
        print(f"  {file_name(size):<26} {'found: ' + str(path) if path else 'not found'}")
    with warnings.catch_warnings():  # the summary below prints the upsampling note itself
        warnings.simplefilter("ignore", UserWarning)
        data = load_pneumonia(args.size, args.data_dir, download=args.download, device="cpu")
    print(data.summary())
    return 0
