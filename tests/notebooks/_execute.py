"""Execute one notebook like nbgrader does (run as a subprocess by the notebook tests).

    python _execute.py SOURCE.ipynb EXECUTED.ipynb [TIMEOUT]

Every cell runs with TIMEOUT seconds (default 30, nbgrader's default); errors are
recorded in the outputs and execution continues. The kernel is the venv's python3.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError


def main(src: str, dst: str, timeout: int = 30) -> int:
    nb = nbformat.read(src, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(Path(dst).parent)}})
    seconds: dict[int, float] = {}
    original = client.async_execute_cell

    async def timed(cell, cell_index, **kwargs):  # record each cell's wall time in its metadata
        t0 = time.perf_counter()
        try:
            return await original(cell, cell_index, **kwargs)
        finally:
            seconds[cell_index] = time.perf_counter() - t0
            cell.metadata["labkit_seconds"] = round(seconds[cell_index], 2)

    client.async_execute_cell = timed
    status = 0
    try:
        client.execute()
    except CellTimeoutError as exc:
        print(f"cell timeout: {exc}", file=sys.stderr)
        status = 3
    nbformat.write(nb, dst)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 30))
