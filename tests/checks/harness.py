"""Print the figures of the checks' mutation-testing harness.

    LABKIT_DATA_DIR=... python tests/checks/harness.py [--no-hidden]

Runs every row of every exercise table (``checkhelp.ROWS``) and the gaming routes of
``test_gaming`` (``--no-hidden`` skips those, which start a grading process each) and
prints: wrong implementations rejected, correct alternatives accepted, gaming attempts
scoring 0, the share of rejections whose feedback names the mistake, per-exercise
counts, and the slowest check.
"""
from __future__ import annotations

import collections
import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

import torch  # noqa: E402

import checkhelp  # noqa: E402
from labkit.checks import EXERCISES, fixtures  # noqa: E402

MODULES = ("test_metrics_checks", "test_saliency_checks", "test_sanity_checks", "test_shortcut_checks",
           "test_evaluation_checks", "test_latent_checks")


def run_rows() -> tuple[collections.Counter, dict[str, list[str]], tuple[float, str]]:
    counts: collections.Counter = collections.Counter()
    misses: dict[str, list[str]] = collections.defaultdict(list)
    slowest = (0.0, "")
    for row in checkhelp.ROWS:
        check = EXERCISES[row.exercise].check
        runs = [None, *checkhelp.HIDDEN_SEEDS] if row.kind == "accept" else [None]
        results = []
        for seed in runs:
            t0 = time.perf_counter()
            if seed is None:
                results.append(check(row.fn))
            else:
                with fixtures.grading(seed):
                    results.append(check(row.fn))
            seconds = time.perf_counter() - t0
            slowest = max(slowest, (seconds, f"{row.exercise} on {row.fn.__name__}"))
        result = results[0]
        counts[(row.exercise, row.kind)] += 1
        if row.kind == "accept":
            ok = all(r.passed for r in results)
        elif row.kind == "reject":
            ok = not result.passed
            counts[(row.exercise, "named")] += checkhelp.named(result, row) and ok
        else:
            ok = result.points == 0 and row.fragment in "\n".join(result.feedback)
        counts[(row.exercise, f"{row.kind}-ok")] += ok
        if not ok:
            misses[row.kind].append(f"{row.exercise}: {row.fn.__name__}")
    return counts, misses, slowest


def run_hidden_routes() -> tuple[int, int, list[str]]:
    import test_gaming as g

    total, zero, misses = 0, 0, []
    for name, route in g.NOTEBOOK_ROUTES.items():
        with route():
            points = g.hidden_grade(g.zeros)
        total, zero = total + 1, zero + (points == 0)
        misses += [name] if points else []
    for fn in g.GRADER_ROUTES:
        points = g.hidden_grade(fn)
        total, zero = total + 1, zero + (points == 0)
        misses += [fn.__name__] if points else []
    return total, zero, misses


def pct(a: int, b: int) -> str:
    return f"{a}/{b} = {100 * a / b:.1f} %" if b else "n/a"


def main(argv: list[str]) -> int:
    torch.set_num_threads(1)
    for name in MODULES:
        importlib.import_module(name)
    torch.func.vmap(torch.func.grad(lambda v: (v ** 2).sum()))(torch.ones(2, 3))  # one-time import, not a check
    counts, misses, slowest = run_rows()
    total = collections.Counter()
    for (exercise, kind), n in counts.items():
        total[kind] += n
    print(f"{'exercise':<26} accept  reject  named  game")
    for exercise in sorted({e for e, _ in counts}):
        c = {k: counts[(exercise, k)] for k in ("accept", "reject", "named", "game")}
        print(f"{exercise:<26} {c['accept']:>6}  {c['reject']:>6}  {c['named']:>5}  {c['game']:>4}")
    print(f"wrong implementations rejected: {pct(total['reject-ok'], total['reject'])}")
    print(f"correct alternatives accepted (visible + {len(checkhelp.HIDDEN_SEEDS)} hidden seeds): "
          f"{pct(total['accept-ok'], total['accept'])}")
    print(f"rejections naming the mistake: {pct(total['named'], total['reject-ok'])}")
    game_total, game_zero = total["game"], total["game-ok"]
    if "--no-hidden" not in argv:
        t, z, hidden_misses = run_hidden_routes()
        game_total, game_zero = game_total + t, game_zero + z
        misses["game-hidden"] = hidden_misses
    print(f"gaming attempts scoring 0: {pct(game_zero, game_total)}")
    print(f"slowest check: {slowest[0]:.2f} s ({slowest[1]})")
    for kind, rows in misses.items():
        for line in rows:
            print(f"MISS {kind}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
