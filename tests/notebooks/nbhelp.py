"""Shared machinery of the notebook tests (imported as ``nbhelp``).

Executing notebooks dominates the run time, so it happens in the background: with
the first notebook test, a pipeline trains the fast-mode models once into a session
cache (``python -m labkit.course.cache``) and then executes every notebook the tests
need, two at a time, each in its own kernel with nbgrader's 30 s per-cell limit.
Tests wait only for the notebook they inspect. Set LABKIT_TEST_CACHE_DIR to keep the
trained models between runs, LABKIT_TEST_KEEP=1 to keep the executed notebooks.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
LECTURE = REPO / "notebooks" / "when_explanations_lie.ipynb"
ANY_MODEL = REPO / "notebooks" / "any_model.ipynb"
CELL_TIMEOUT = 30
EXERCISE_NAMES = sorted(p.name for p in SOLUTIONS.glob("*.ipynb"))


def data_dir() -> Path:
    for d in (os.environ.get("LABKIT_DATA_DIR"), REPO.parent / "shared" / "data"):
        if d and (Path(d) / "pneumoniamnist.npz").is_file():
            return Path(d)
    raise RuntimeError("pneumoniamnist.npz not found: set LABKIT_DATA_DIR to the folder that holds it")


def notebook_env(cache_dir: Path) -> dict[str, str]:
    """Environment of every kernel and nbgrader run: fast mode, the session's model cache, one thread."""
    env = dict(os.environ)
    env.update(LABKIT_DATA_DIR=str(data_dir()), LABKIT_CACHE_DIR=str(cache_dir), LABKIT_FAST="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    env.pop("LABKIT_CHECKS_DEBUG", None)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def jobs() -> dict[str, Path]:
    """Notebook key → source: the any-model lecture (first: the shortest queue for its test), every
    solution, every student version, the lecture."""
    out = {"any_model": ANY_MODEL}
    out.update({f"solution/{n}": SOLUTIONS / n for n in EXERCISE_NAMES})
    out.update({f"student/{n}": EXERCISES / n for n in EXERCISE_NAMES})
    out["lecture"] = LECTURE
    return out


class Pipeline:
    """Background warm-up of the model cache, then notebook executions (two at a time)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="labkit-nbtests-"))
        self.cache = Path(os.environ.get("LABKIT_TEST_CACHE_DIR") or self.root / "cache")
        self.env = notebook_env(self.cache)
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="labkit-nb")
        self.warm: Future = self.pool.submit(self._warm)
        self.executed: dict[str, Future] = {
            key: self.pool.submit(self._execute, key, src) for key, src in jobs().items()}

    def _warm(self) -> str:
        proc = subprocess.run([sys.executable, "-m", "labkit.course.cache"], env=self.env, cwd=self.root,
                              capture_output=True, text=True, timeout=900)
        if proc.returncode:
            raise RuntimeError(f"warming the model cache failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def _execute(self, key: str, src: Path) -> nbformat.NotebookNode:
        self.warm.result()
        dst = self.root / "executed" / key.replace("/", "-")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not src.is_file():
            raise FileNotFoundError(f"{src} does not exist")
        proc = subprocess.run([sys.executable, str(Path(__file__).with_name("_execute.py")), str(src), str(dst),
                               str(CELL_TIMEOUT)], env=self.env, cwd=dst.parent, capture_output=True, text=True,
                              timeout=900)
        if proc.returncode or not dst.is_file():
            raise RuntimeError(f"executing {src.name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return nbformat.read(str(dst), as_version=4)

    def notebook(self, key: str) -> nbformat.NotebookNode:
        return self.executed[key].result(timeout=900)

    def close(self) -> None:
        for f in self.executed.values():
            f.cancel()
        self.pool.shutdown(wait=True, cancel_futures=True)
        if not os.environ.get("LABKIT_TEST_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)


# ---- reading executed notebooks ------------------------------------------------------------------
def meta(cell) -> dict:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def stderr(cell) -> str:
    return "".join(o.text for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stderr")


def text_outputs(cell) -> str:
    """A cell's text as a reader sees it: a stream the kernel flushed in several messages is one text."""
    parts = []
    last_stream = None
    for o in cell.get("outputs", []):
        if o.output_type == "stream" and o.name == last_stream:
            parts[-1] += o.text
            continue
        last_stream = o.name if o.output_type == "stream" else None
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type in ("display_data", "execute_result"):
            t = o.get("data", {}).get("text/plain", "")
            parts.append("".join(t) if isinstance(t, list) else t)
            parts.extend(o.get("metadata", {}).get("labkit", {}).get("feedback", []))  # a check's report
        elif o.output_type == "error":
            parts.append(f"{o.ename}: {o.evalue}")
    return "\n".join(parts)


def test_cells(nb) -> list:
    return [c for c in nb.cells if meta(c).get("grade") and c.cell_type == "code"]


# ---- a submission that games the autograder ------------------------------------------------------
TAMPERING = '''import labkit.checks.compare as _compare
import labkit.checks.result as _result
import labkit.course.hidden as _hidden
_compare.close = lambda *a, **k: True
_compare.diagnose = lambda *a, **k: None
_result.CheckResult.grade = lambda self: self.max_points
_result.CheckResult.require = lambda self: None
_hidden.grade = lambda *a, **k: 99.0
'''

#: Exercise 01's solution cells answered with nothing real (and, first, the tampering above).
GAMED_01 = {
    "confusion": TAMPERING + "import numpy as np\n\ndef confusion(labels, preds):\n    return np.zeros((2, 2))",
    "clinical_metrics_by_hand": "def clinical_metrics_by_hand(labels, scores, threshold=0.5):\n"
                                "    return {'sensitivity': 0, 'specificity': 0, 'balanced_accuracy': 0}",
    "always_pneumonia": "always_pneumonia_accuracy = 0.5",
    "which_metric": "which_metric = 'a'",
}


def with_solutions(nb, sources: dict[str, str]):
    """A copy of ``nb`` whose solution cells (by grade_id) hold ``sources``."""
    import copy

    out = copy.deepcopy(nb)
    for cell in out.cells:
        gid = meta(cell).get("grade_id")
        if meta(cell).get("solution") and gid in sources:
            cell.source = sources[gid]
    return out
