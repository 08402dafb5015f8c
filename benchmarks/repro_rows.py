"""The reference tutorial's numbers and the rows that compare labkit's with them.

``table(values)`` turns the per-seed measurements of ``reproduce_findings.measure``
into :class:`repro_table.Row` s. Tolerances (issue 13): orderings match the
reference everywhere, stability within 0.1, marker fractions within 0.15, deletion
AUCs on the same side of a random-map control; the other tolerances are stated per row.
"""
from __future__ import annotations

from dataclasses import replace

from repro_stages import PASS_BELOW
from repro_table import Row, fmt, mean_std, order_row, value_row

CLINICAL = {"accuracy": 0.875, "sensitivity": 0.987, "specificity": 0.688, "balanced_accuracy": 0.838,
            "auroc": 0.941}
RANDOMIZATION = {"full": 0.043, "head": 0.34, "features": 0.085}
FRACTION = {"occlusion": 1.00, "integrated_gradients": 0.57, "smoothgrad": 0.27, "gradient": 0.26, "gradcam": 0.02}
DELETION_BASE = {"occlusion": 0.592, "integrated_gradients": 0.990, "smoothgrad": 0.999, "gradient": 0.998,
                 "gradcam": 0.997}
DELETION_SHORT = {"occlusion": 0.296, "integrated_gradients": 0.864, "smoothgrad": 0.886, "gradient": 0.897,
                  "gradcam": 0.781}
STABILITY = {"gradient": 0.74, "integrated_gradients": 0.86}
CASCADE = {"gradient": True, "gradcam": True, "guided_backprop": False, "guided_gradcam": False}
NAMES = {"occlusion": "Occlusion", "integrated_gradients": "IG", "smoothgrad": "SmoothGrad", "gradient": "Gradient",
         "gradcam": "Grad-CAM", "guided_backprop": "Guided Backprop", "guided_gradcam": "Guided Grad-CAM",
         "random": "random map (control)"}

#: rows that differ from the reference for a reason the note shows with evidence; the slow test
#: fails on any other row outside its tolerance
KNOWN_DIFFERENCES = {
    ("cascading randomization (Spearman |map|)", "Grad-CAM"),
    ("cascading randomization (Spearman |map|)", "Guided Grad-CAM"),
    ("deletion AUC, gray fill, baseline model (images predicted pneumonia)", "IG"),
    ("deletion AUC, gray fill, baseline model (images predicted pneumonia)", "SmoothGrad"),
    ("deletion AUC, gray fill, baseline model (images predicted pneumonia)", "Gradient"),
    ("deletion AUC, gray fill, baseline model (images predicted pneumonia)", "Grad-CAM"),
    ("stability, σ = 0.03 (Pearson)", "IG"),
}

Values = dict[str, list[dict[str, float]]]


def col(values: Values, stage: str, key: str) -> list[float]:
    """One measured quantity over the seeds."""
    return [seed[key] for seed in values[stage]]


def m(values: Values, stage: str, key: str) -> float:
    return mean_std(col(values, stage, key))[0]


def within(ref: float, tol: float):
    return lambda v: abs(v - ref) <= tol


def clinical_rows(v: Values) -> list[Row]:
    s = "clinical metrics (test, p ≥ 0.5)"
    rows = [value_row(s, k.replace("_", " "), ref, col(v, "clinical", k)) for k, ref in CLINICAL.items()]
    rows.append(order_row(s, "sensitivity > specificity", "0.987 > 0.688",
                          f"{m(v, 'clinical', 'sensitivity'):.3f} > {m(v, 'clinical', 'specificity'):.3f}",
                          m(v, "clinical", "sensitivity") > m(v, "clinical", "specificity")))
    rows.append(value_row(s, "p(pneumonia) of an all-gray image", "—", col(v, "clinical", "gray_p")))
    return rows


def sanity_rows(v: Values) -> list[Row]:
    s = "IG vs captum"
    rows = [value_row(s, "Pearson, labkit IG vs captum IG (50 steps)", 0.9998, col(v, "captum", "pearson"),
                      "≥ 0.99", lambda x: x >= 0.99, digits=4)]
    s = "model randomization (gradient-map Pearson)"
    for k, ref in RANDOMIZATION.items():
        rows.append(value_row(s, f"{k} randomized", ref, col(v, "random", k)))
    r = {k: m(v, "random", k) for k in RANDOMIZATION}
    rows.append(order_row(s, "head > features and head > full", "0.34 > 0.085, 0.043",
                          f"{r['head']:.3f} > {r['features']:.3f}, {r['full']:.3f}",
                          r["head"] > r["features"] and r["head"] > r["full"]))
    s = "data randomization (permuted labels)"
    rows.append(value_row(s, "train accuracy memorized", "≥ 0.95", col(v, "labels", "train_acc"), "≥ 0.95",
                          lambda x: x >= 0.95))
    rows.append(value_row(s, "epochs to memorize", "—", col(v, "labels", "epochs"), digits=1))
    rows.append(value_row(s, "gradient-map Pearson, trained vs random-label", "low", col(v, "labels", "pearson")))
    rows.append(order_row(s, "random-label map further than head-randomized", "low < 0.34",
                          f"{m(v, 'labels', 'pearson'):.3f} < {r['head']:.3f}",
                          m(v, "labels", "pearson") < r["head"]))
    s = "cascading randomization (Spearman |map|)"
    for method, passes in CASCADE.items():
        k = sum(x[f"{method}.passes"] == 1.0 for x in v["cascade"])
        n = len(v["cascade"])
        head = col(v, "cascade", f"{method}.head")
        ok = k == (n if passes else 0)
        per_seed = ", ".join(f"{h:.2f}" for h in head)
        why = ("the random head only re-weights the trained last-conv maps, whose outline can survive that"
               if passes else "the product with Grad-CAM decorrelates wherever Grad-CAM does (Grad-CAM, head random: "
               + ", ".join(f"{h:.2f}" for h in col(v, "cascade", "gradcam.head")) + "), though Guided Backprop "
               f"alone stays at {m(v, 'cascade', 'guided_backprop.head'):.2f}")
        note = "" if ok else (f"Spearman with the head random, per seed: {per_seed} (passes below {PASS_BELOW}); with "
                              f"every layer random {fmt(col(v, 'cascade', f'{method}.all'), 2)}: {why}")
        rows.append(Row(s, NAMES[method], "passes" if passes else "fails",
                        f"passes {k}/{n} (head {fmt(head, 2)}, all {fmt(col(v, 'cascade', f'{method}.all'), 2)})",
                        "same outcome every seed", ok, note))
    return rows


def shortcut_rows(v: Values, n_images: int) -> list[Row]:
    s = "shortcut model (8×8 corner marker)"
    acc_m, acc_c = m(v, "shortcut", "acc_marked"), m(v, "shortcut", "acc_clean")
    rows = [value_row(s, "accuracy, marked test images", 1.000, col(v, "shortcut", "acc_marked"), "≥ 0.99",
                      lambda x: x >= 0.99),
            value_row(s, "accuracy, clean test images", 0.671, col(v, "shortcut", "acc_clean")),
            order_row(s, "marked > clean", "1.000 > 0.671", f"{acc_m:.3f} > {acc_c:.3f}", acc_m > acc_c)]
    s = "marker removal, p(pneumonia)"
    for key, label, ref_m, ref_c in (
            ("typical", "typical: 1st correct marked pneumonia image", "1.0", "0.40"),
            ("many", f"first {n_images} correct marked pneumonia images", "—", "—"),
            ("largest", "largest drop over the 624 test images", "—", "—")):
        pm, pc = m(v, "shortcut", f"{key}_marked"), m(v, "shortcut", f"{key}_clean")
        labkit = f"{fmt(col(v, 'shortcut', f'{key}_marked'), 2)} → {fmt(col(v, 'shortcut', f'{key}_clean'), 2)}"
        rows.append(Row(s, label, f"{ref_m} → {ref_c}", labkit,
                        "drops" if key == "typical" else "", pc < pm if key == "typical" else None))
    s = "marker attribution fraction"
    frac = {k: m(v, "shortcut", f"fraction.{k}") for k in FRACTION}
    for k, ref in FRACTION.items():
        rows.append(value_row(s, NAMES[k], ref, col(v, "shortcut", f"fraction.{k}"), "± 0.15", within(ref, 0.15),
                              digits=2))
    order = frac["occlusion"] > frac["integrated_gradients"] > max(frac["smoothgrad"], frac["gradient"]) \
        and min(frac["smoothgrad"], frac["gradient"]) > frac["gradcam"]
    rows.append(order_row(s, "Occl > IG > SmoothGrad, Gradient > Grad-CAM", "1.00 > 0.57 > 0.27, 0.26 > 0.02",
                          "{:.2f} > {:.2f} > {:.2f}, {:.2f} > {:.2f}".format(*frac.values()), order))
    return rows


def deletion_rows(v: Values) -> list[Row]:
    rows = []
    gray = m(v, "clinical", "gray_p")
    for stage, refs, title in (("deletion_base", DELETION_BASE, "baseline"),
                               ("deletion_short", DELETION_SHORT, "shortcut")):
        s = f"deletion AUC, gray fill, {title} model (images predicted pneumonia)"
        rand = m(v, stage, "random")
        rows.append(value_row(s, NAMES["random"], "—", col(v, stage, "random"),
                              note=f"{fmt(col(v, stage, 'n_pneumonia'), 1)} images a seed; on the images "
                                   f"predicted normal the random map scores {m(v, stage, 'normal.random'):.3f}"))
        for k, ref in refs.items():
            side = "below" if ref < rand else "above"
            auc = m(v, stage, k)
            note = "" if (auc < rand) == (ref < rand) else (
                f"{auc - rand:+.3f} from the random map, the reference {ref - rand:+.3f}: deleting to gray barely "
                f"lowers p(pneumonia) when an all-gray image itself scores {gray:.2f}, for any ordering; on the "
                f"images predicted normal this map scores {m(v, stage, f'normal.{k}'):.3f} vs random "
                f"{m(v, stage, 'normal.random'):.3f}")
            rows.append(value_row(s, NAMES[k], ref, col(v, stage, k), f"{side} random ({rand:.3f})",
                                  lambda x, ref=ref: (x < rand) == (ref < rand), note=note))
        auc = {k: m(v, stage, k) for k in refs}
        others = min(a for k, a in auc.items() if k != "occlusion")
        rows.append(order_row(s, "Occlusion lowest", f"{refs['occlusion']:.3f} lowest",
                              f"{auc['occlusion']:.3f} vs {others:.3f} (lowest other)", auc["occlusion"] < others))
    base, short = ({k: m(v, st, k) for k in DELETION_BASE} for st in ("deletion_base", "deletion_short"))
    rows.append(order_row("deletion AUC, gray fill", "shortcut < baseline, every method", "all 5",
                          f"{sum(short[k] < base[k] for k in base)} of 5", all(short[k] < base[k] for k in base)))
    return rows


def stability_rows(v: Values) -> list[Row]:
    s = "stability, σ = 0.03 (Pearson)"
    rows = [value_row(s, NAMES[k], ref, col(v, "stability", k), "± 0.1", within(ref, 0.1), digits=2)
            for k, ref in STABILITY.items()]
    if rows[1].within is False:
        ig50 = v["stability"][0]["integrated_gradients.50"]
        rows[1] = replace(rows[1], note=(
            f"not IG's step count (first seed: {v['stability'][0]['integrated_gradients']:.3f} at 32 steps, "
            f"{ig50:.3f} at 50); Gradient is within. The images are upsampled from 28 px, and stability depends on "
            "the image source (issue 13: SmallCNN 0.21 bilinear 64 px, 0.36 nearest, 0.51 native 28 px); native "
            "64 px is untested here"))
    g, ig = m(v, "stability", "gradient"), m(v, "stability", "integrated_gradients")
    rows.append(order_row(s, "IG > Gradient", "0.86 > 0.74", f"{ig:.2f} > {g:.2f}", ig > g))
    return rows


def table(values: Values, n_images: int) -> list[Row]:
    """All rows, in the reference's order; known differences marked ``explained``."""
    rows = (clinical_rows(values) + sanity_rows(values) + shortcut_rows(values, n_images) + deletion_rows(values)
            + stability_rows(values))
    return [replace(r, explained=(r.section, r.quantity) in KNOWN_DIFFERENCES) for r in rows]
