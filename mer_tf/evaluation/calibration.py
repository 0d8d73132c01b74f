"""Confidence one can act on: temperature scaling fitted on the validation split.

A network's softmax is not a probability: trained to the last epoch that improved
validation UA it is often over-confident. Temperature scaling (Guo et al., 2017,
"On Calibration of Modern Neural Networks") divides the logits by one number T,
chosen to minimise the negative log-likelihood of the validation split (never the
test split); the predicted class is unchanged, only its confidence moves. The model's
outputs are probabilities, so log p stands in for the logits (softmax is invariant to
the constant they differ by).

Reported per fold: expected calibration error (ECE, 15 equal-width bins of the top
probability) before and after, on validation and test; the coverage and accuracy of
answering only above a few confidence thresholds on validation, to choose
`--min-confidence`; a reliability diagram.
"""

from __future__ import annotations

import numpy as np

BINS = 15
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
TEMPERATURE_RANGE = (0.05, 20.0)
TINY = 1e-12


def scale(probabilities, temperature: float) -> np.ndarray:
    """softmax(log p / T), row by row."""
    logits = np.log(np.clip(np.asarray(probabilities, np.float64), TINY, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=-1, keepdims=True)


def negative_log_likelihood(probabilities, labels) -> float:
    p = np.asarray(probabilities, np.float64)[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.log(np.clip(p, TINY, 1.0)).mean())


def fit_temperature(probabilities, labels) -> float:
    """The T in TEMPERATURE_RANGE minimising the NLL of `labels` (1.0 with no labels)."""
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels, int)
    if labels.size == 0:
        return 1.0
    low, high = np.log(TEMPERATURE_RANGE)
    found = minimize_scalar(
        lambda log_t: negative_log_likelihood(scale(probabilities, np.exp(log_t)), labels),
        bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(found.x))


def expected_calibration_error(probabilities, labels, bins: int = BINS) -> float:
    """Σ over equal-width bins of the top probability: (share of utterances) ×
    |accuracy − mean confidence|."""
    probabilities = np.asarray(probabilities, np.float64)
    labels = np.asarray(labels, int)
    if labels.size == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def reliability(probabilities, labels, bins: int = BINS) -> list[dict]:
    """Per bin: its range, utterances, mean confidence and accuracy (the diagram's bars)."""
    probabilities = np.asarray(probabilities, np.float64)
    labels = np.asarray(labels, int)
    confidence = probabilities.max(axis=1) if labels.size else np.zeros(0)
    correct = (probabilities.argmax(axis=1) == labels) if labels.size else np.zeros(0, bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        rows.append({"low": float(edges[b]), "high": float(edges[b + 1]),
                     "utterances": int(inside.sum()),
                     "confidence": float(confidence[inside].mean()) if inside.any() else None,
                     "accuracy": float(correct[inside].mean()) if inside.any() else None})
    return rows


def coverage(probabilities, labels, thresholds=THRESHOLDS) -> list[dict]:
    """For each threshold P: the share of utterances whose top probability is at least P
    (answered, not `uncertain`) and the accuracy among them."""
    probabilities = np.asarray(probabilities, np.float64)
    labels = np.asarray(labels, int)
    rows = []
    for threshold in thresholds:
        answered = (probabilities.max(axis=1) >= threshold) if labels.size else np.zeros(0, bool)
        right = probabilities.argmax(axis=1)[answered] == labels[answered]
        rows.append({"min_confidence": threshold,
                     "coverage": float(answered.mean()) if labels.size else 0.0,
                     "accuracy": float(right.mean()) if answered.any() else None})
    return rows


# A temperature is applied only where one fitted on half the validation split lowers the
# other half's NLL, both ways round, by this share on average: one validation speaker
# (60-70 utterances on the demo) is little data, and a temperature fitted on it raised the
# validation ECE (0.066 -> 0.079) and a short run's test ECE (0.078 -> 0.131).
MARGIN = 0.02


def held_out_gain(probabilities, labels) -> dict:
    """The NLL of each half of the validation split (alternate utterances, in order) with
    T = 1 and with the T fitted on the other half, added up: evidence that a temperature
    carries over to utterances it was not fitted on."""
    probabilities, labels = np.asarray(probabilities, np.float64), np.asarray(labels, int)
    halves = [np.arange(len(labels))[i::2] for i in (0, 1)]
    before = after = 0.0
    for fit, held in (halves, halves[::-1]):
        if len(fit) == 0 or len(held) == 0:
            return {"nll_before": 0.0, "nll_after": 0.0, "gain": 0.0}
        temperature = fit_temperature(probabilities[fit], labels[fit])
        before += negative_log_likelihood(probabilities[held], labels[held]) * len(held)
        after += negative_log_likelihood(scale(probabilities[held], temperature),
                                         labels[held]) * len(held)
    before, after = before / len(labels), after / len(labels)
    return {"nll_before": before, "nll_after": after,
            "gain": (before - after) / before if before > 0 else 0.0}


def calibrate(validation: dict, test: dict) -> dict:
    """Fits T on `validation` ({"probabilities", "labels"}) and applies it where the
    validation split's halves say it carries over (`MARGIN`; else T = 1), then the figures
    of both splits before and after; the block a fold's metrics.json keeps as
    `calibration`, with `applied` and `decision` saying what was done and why."""
    fitted = fit_temperature(validation["probabilities"], validation["labels"])
    evidence = held_out_gain(validation["probabilities"], validation["labels"])
    applied = evidence["gain"] > MARGIN
    temperature = fitted if applied else 1.0
    decision = (f"applied: fitted on one half of validation, it lowered the other half's "
                f"NLL by {evidence['gain']:.1%} (more than {MARGIN:.0%})" if applied else
                f"not applied (T = 1): fitted on one half of validation, T = "
                f"{fitted:.3f} changed the other half's NLL by {-evidence['gain']:+.1%}, "
                f"not lowering it by {MARGIN:.0%}")
    block = {"method": "temperature scaling", "fitted_on": "validation",
             "temperature": round(temperature, 5), "fitted_temperature": round(fitted, 5),
             "applied": applied, "decision": decision, "held_out": evidence, "margin": MARGIN,
             "bins": BINS}
    for name, split in (("validation", validation), ("test", test)):
        after = scale(split["probabilities"], temperature)
        block[name] = {
            "ece_before": expected_calibration_error(split["probabilities"], split["labels"]),
            "ece_after": expected_calibration_error(after, split["labels"]),
            "nll_before": negative_log_likelihood(split["probabilities"], split["labels"])
            if len(split["labels"]) else 0.0,
            "nll_after": negative_log_likelihood(after, split["labels"])
            if len(split["labels"]) else 0.0}
    block["validation"]["coverage"] = coverage(scale(validation["probabilities"], temperature),
                                               validation["labels"])
    return block


def reliability_figure(test: dict, temperature: float, title: str = ""):
    """Accuracy against confidence per bin, before and after scaling, on the test split."""
    from mer_tf.evaluation.plots import _pyplot

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 5))
    width = 1.0 / BINS
    for probabilities, label, colour, offset in (
            (test["probabilities"], "before", "#c44e52", -width / 4),
            (scale(test["probabilities"], temperature), f"after (T = {temperature:.2f})",
             "#4c72b0", width / 4)):
        rows = [r for r in reliability(probabilities, test["labels"]) if r["utterances"]]
        ece = expected_calibration_error(probabilities, test["labels"])
        axis.bar([r["confidence"] + offset for r in rows], [r["accuracy"] for r in rows],
                 width=width / 2, color=colour, alpha=0.8, label=f"{label}: ECE {ece:.3f}")
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top probability)",
             ylabel="accuracy", title=title or "Reliability on the test split")
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure
