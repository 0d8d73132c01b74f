"""Figures for arousal, valence and dominance: the concordance correlation coefficient
(CCC, the MSP-Podcast challenges' measure), Pearson's r and the mean absolute error, each
with a bootstrap 95 % interval over test utterances, and paired comparisons of two runs
on CCC.

CCC (Lin 1989) is 2 cov(y, p) / (var y + var p + (mean y - mean p)^2) with population
moments: 1 only when prediction equals annotation, and, unlike r, lowered by a shift or
a change of scale. Values are on [0, 1] (each corpus's scale mapped onto it, `to_unit`).
An utterance without a dimensional label (NaN) is left out of that dimension's figures,
never counted as zero.
"""

from __future__ import annotations

import numpy as np

from mer_tf.evaluation.stats import RESAMPLES, SEED, _resample_index

DIMENSIONS = ("arousal", "valence", "dominance")
FIGURES = ("ccc", "pearson", "mae")


def to_unit(values, scale) -> np.ndarray:
    """Values on a corpus's (low, high) scale mapped onto [0, 1]; NaN stays NaN."""
    low, high = scale
    return (np.asarray(values, np.float64) - low) / (high - low)


def _moments(y: np.ndarray, p: np.ndarray) -> dict:
    """CCC, r and MAE of each row of [B, N] annotations and predictions."""
    my, mp = y.mean(axis=1), p.mean(axis=1)
    dy, dp = y - my[:, None], p - mp[:, None]
    vy, vp, cov = (dy ** 2).mean(axis=1), (dp ** 2).mean(axis=1), (dy * dp).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ccc = 2 * cov / (vy + vp + (my - mp) ** 2)
        pearson = cov / np.sqrt(vy * vp)
    return {"ccc": ccc, "pearson": pearson, "mae": np.abs(y - p).mean(axis=1)}


def concordance(annotated, predicted) -> float:
    """The CCC of two vectors (NaN pairs left out)."""
    y, p = _present(annotated, predicted)
    return float(_moments(y[None], p[None])["ccc"][0]) if len(y) > 1 else float("nan")


def _present(annotated, predicted) -> tuple:
    y, p = np.asarray(annotated, np.float64), np.asarray(predicted, np.float64)
    keep = np.isfinite(y) & np.isfinite(p)
    return y[keep], p[keep]


def dimension_metrics(annotated, predicted, resamples: int = RESAMPLES,
                      seed: int = SEED) -> dict:
    """Per dimension of [N, 3] annotations and predictions (NaN: not annotated): CCC, r
    and MAE with their 95 % bootstrap intervals and the count used; and `mean_ccc`."""
    annotated, predicted = np.asarray(annotated, np.float64), np.asarray(predicted, np.float64)
    out = {}
    for column, name in enumerate(DIMENSIONS):
        y, p = _present(annotated[:, column], predicted[:, column])
        if len(y) < 2:
            out[name] = {"utterances": int(len(y)), **{k: None for k in FIGURES},
                         "ci95": {k: [None, None] for k in FIGURES}}
            continue
        point = _moments(y[None], p[None])
        index = _resample_index(len(y), resamples, seed)
        boot = _moments(y[index], p[index])
        out[name] = {"utterances": int(len(y)),
                     **{k: float(point[k][0]) for k in FIGURES},
                     "ci95": {k: [float(np.nanpercentile(boot[k], 2.5)),
                                  float(np.nanpercentile(boot[k], 97.5))] for k in FIGURES}}
    scored = [out[d]["ccc"] for d in DIMENSIONS if out[d]["ccc"] is not None]
    out["mean_ccc"] = float(np.mean(scored)) if scored else None
    return out


def paired_dimension_comparison(annotated, predicted_a, predicted_b,
                                resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """B minus A on the same utterances, per dimension: the CCC of each, the difference,
    its paired bootstrap 95 % interval and a two-sided p-value (as
    `stats.paired_comparison` gives for UA)."""
    annotated = np.asarray(annotated, np.float64)
    a, b = np.asarray(predicted_a, np.float64), np.asarray(predicted_b, np.float64)
    out = {}
    for column, name in enumerate(DIMENSIONS):
        keep = np.isfinite(annotated[:, column]) & np.isfinite(a[:, column]) & np.isfinite(
            b[:, column])
        y, pa, pb = annotated[keep, column], a[keep, column], b[keep, column]
        if len(y) < 2:
            continue
        index = _resample_index(len(y), resamples, seed)
        ccc_a = float(_moments(y[None], pa[None])["ccc"][0])
        ccc_b = float(_moments(y[None], pb[None])["ccc"][0])
        resampled = _moments(y[index], pb[index])["ccc"] - _moments(y[index], pa[index])["ccc"]
        resampled = resampled[np.isfinite(resampled)]
        below, above = float(np.mean(resampled <= 0)), float(np.mean(resampled >= 0))
        out[name] = {"a": ccc_a, "b": ccc_b, "delta": ccc_b - ccc_a,
                     "ci95": [float(np.percentile(resampled, 2.5)),
                              float(np.percentile(resampled, 97.5))],
                     "p_value": min(1.0, 2 * min(below, above)), "utterances": int(len(y))}
    return out
