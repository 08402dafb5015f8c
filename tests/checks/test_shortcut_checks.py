"""Mutation tests of the exercise 04 checks (border stripe, per-class errors, largest drop)."""
from __future__ import annotations

import numpy as np
import torch

from checkhelp import harness
from labkit import checks


# ---- border stripe -----------------------------------------------------------------------------
def stripe(images, labels, width=3, intensity=1.0):
    out = images.clone()
    pneu = labels == 1
    out[pneu, :, :, :width] = intensity
    out[~pneu, :, :, -width:] = intensity
    return out


def stripe_loop(images, labels, width=3, intensity=1.0):
    out = []
    for img, label in zip(images, labels):
        img = img.clone()
        if int(label) == 1:
            img[..., :width] = intensity
        else:
            img[..., img.shape[-1] - width:] = intensity
        out.append(img)
    return torch.stack(out)


def stripe_in_place(images, labels, width=3, intensity=1.0):
    pneu = labels == 1
    images[pneu, :, :, :width] = intensity
    images[~pneu, :, :, -width:] = intensity
    return images


def stripe_swapped(images, labels, width=3, intensity=1.0):
    return stripe(images, 1 - labels, width, intensity)


def stripe_rows(images, labels, width=3, intensity=1.0):
    return stripe(images.transpose(-1, -2), labels, width, intensity).transpose(-1, -2)


def stripe_uint8_white(images, labels, width=3, intensity=1.0):
    return stripe(images, labels, width, 255.0)


def stripe_ignores_intensity(images, labels, width=3, intensity=1.0):
    return stripe(images, labels, width, 1.0)


def stripe_stub(images, labels, width=3, intensity=1.0):
    raise NotImplementedError()


def stripe_labkit(images, labels, width=3, intensity=1.0):
    from labkit.data import BorderStripe

    return BorderStripe(width=width, intensity=intensity, placement={1: "left", 0: "right"}).apply(images, labels)


test_border_stripe = harness(checks.border_stripe, accept=[stripe, stripe_loop], reject=[
    (stripe_in_place, "changed the input images in place"),
    (stripe_swapped, "sides are swapped"),
    (stripe_rows, "top and bottom rows"),
    (stripe_uint8_white, "pixels are in [-1, 1]"),
    (stripe_ignores_intensity, "intensity argument is ignored"),
    (stripe_stub, 'NotImplementedError'),
], game=[
    (stripe_labkit, 'your function called labkit.data'),
])


# ---- per-class errors ----------------------------------------------------------------------------
def errors(model, images, labels, threshold=0.5):
    with torch.no_grad():
        p = model(images).softmax(1)[:, 1]
    pred = (p >= threshold).long()
    return {"normal": (pred[labels == 0] != 0).float().mean().item(),
            "pneumonia": (pred[labels == 1] != 1).float().mean().item()}


def errors_numpy(model, images, labels, threshold=0.5):
    with torch.no_grad():
        p = torch.softmax(model(images), dim=1)[:, 1].numpy()
    y = labels.numpy()
    pred = np.where(p >= threshold, 1, 0)
    fp, tn = np.sum((pred == 1) & (y == 0)), np.sum((pred == 0) & (y == 0))
    fn, tp = np.sum((pred == 0) & (y == 1)), np.sum((pred == 1) & (y == 1))
    return {"normal": fp / (fp + tn), "pneumonia": fn / (fn + tp)}


def errors_counts(model, images, labels, threshold=0.5):
    with torch.no_grad():
        pred = (model(images).softmax(1)[:, 1] >= threshold).long()
    return {"normal": int((pred[labels == 0] != 0).sum()), "pneumonia": int((pred[labels == 1] != 1).sum())}


def errors_swapped(model, images, labels, threshold=0.5):
    e = errors(model, images, labels, threshold)
    return {"normal": e["pneumonia"], "pneumonia": e["normal"]}


def errors_argmax(model, images, labels, threshold=0.5):
    with torch.no_grad():
        pred = model(images).argmax(1)
    return {"normal": (pred[labels == 0] != 0).float().mean().item(),
            "pneumonia": (pred[labels == 1] != 1).float().mean().item()}


def errors_over_all_images(model, images, labels, threshold=0.5):
    with torch.no_grad():
        pred = (model(images).softmax(1)[:, 1] >= threshold).long()
    n = len(labels)
    return {"normal": float(((pred != labels) & (labels == 0)).sum()) / n,
            "pneumonia": float(((pred != labels) & (labels == 1)).sum()) / n}


def errors_accuracies(model, images, labels, threshold=0.5):
    e = errors(model, images, labels, threshold)
    return {k: 1 - v for k, v in e.items()}


def errors_strict(model, images, labels, threshold=0.5):
    with torch.no_grad():
        pred = (model(images).softmax(1)[:, 1] > threshold).long()
    wrong = pred != labels
    return {"normal": float(wrong[labels == 0].float().mean()), "pneumonia": float(wrong[labels == 1].float().mean())}


def errors_stub(model, images, labels, threshold=0.5):
    raise NotImplementedError()


def errors_checker_internals(model, images, labels, threshold=0.5):
    from labkit.checks.shortcut import _error_rates

    return _error_rates(model, images, labels, threshold)


test_per_class_errors = harness(checks.per_class_errors, accept=[errors, errors_numpy], reject=[
    (errors_counts, "you returned counts"),
    (errors_swapped, "classes are swapped"),
    (errors_argmax, "threshold argument is ignored"),
    (errors_over_all_images, "divided by the number of all images"),
    (errors_accuracies, 'per-class accuracies'),
    (errors_stub, 'NotImplementedError'),
], game=[
    (errors_checker_internals, 'your function called labkit.checks.shortcut._error_rates'),
])


# ---- largest drop -------------------------------------------------------------------------------
def largest_drop(model, marked, clean):
    with torch.no_grad():
        drop = model(marked).softmax(1)[:, 1] - model(clean).softmax(1)[:, 1]
    i = int(drop.argmax())
    return i, float(drop[i])


def largest_drop_sorted(model, marked, clean):
    with torch.no_grad():
        pm = torch.softmax(model(marked), 1)[:, 1].tolist()
        pc = torch.softmax(model(clean), 1)[:, 1].tolist()
    drops = sorted(((m - c, i) for i, (m, c) in enumerate(zip(pm, pc))), reverse=True)
    return drops[0][1], drops[0][0]


def largest_drop_logit(model, marked, clean):
    with torch.no_grad():
        drop = model(marked)[:, 1] - model(clean)[:, 1]
    i = int(drop.argmax())
    return i, float(drop[i])


def largest_increase(model, marked, clean):
    with torch.no_grad():
        change = model(clean).softmax(1)[:, 1] - model(marked).softmax(1)[:, 1]
    i = int(change.argmax())
    return i, float(change[i])


def largest_absolute_change(model, marked, clean):
    with torch.no_grad():
        change = (model(marked).softmax(1)[:, 1] - model(clean).softmax(1)[:, 1]).abs()
    i = int(change.argmax())
    return i, float(change[i])


def largest_drop_only_index(model, marked, clean):
    return largest_drop(model, marked, clean)[0]


def largest_drop_stub(model, marked, clean):
    raise NotImplementedError()


def largest_drop_negative(model, marked, clean):
    i, d = largest_drop(model, marked, clean)
    return i, -d


def largest_drop_checker_internals(model, marked, clean):
    from labkit.checks.shortcut import _drops

    d = _drops(model, marked, clean)
    return int(d.argmax()), float(d.max())


test_largest_drop = harness(checks.largest_drop, accept=[largest_drop, largest_drop_sorted], reject=[
    (largest_drop_logit, "drop of the logit"),
    (largest_increase, "largest increase"),
    (largest_absolute_change, "largest absolute change"),
    (largest_drop_only_index, "return a pair (index, drop)"),
    (largest_drop_stub, 'NotImplementedError'),
    (largest_drop_negative, 'positive number'),
], game=[
    (largest_drop_checker_internals, 'your function called labkit.checks.shortcut._drops'),
])
