"""The max-pool benchmark runs and finds the routed and torch's maps equal."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_pools.py"


def test_bench_pools_prints_equal_maps() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--threads", "1", "--batches", "1,2", "--repeats", "1",
                          "--methods", "gradcam,occlusion"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines() if line.startswith(("gradcam", "occlusion"))]
    assert [(r[0], r[1]) for r in rows] == [("gradcam", "1"), ("gradcam", "2"), ("occlusion", "1"), ("occlusion", "2")]
    assert all(r[-1] == "True" and float(r[4]) > 0 for r in rows)
