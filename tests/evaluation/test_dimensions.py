"""Arousal, valence and dominance figures: CCC against Lin's formula written out, r
against scipy, intervals that cover, NaN left out, paired comparisons on CCC."""

import numpy as np
import pytest
from scipy.stats import pearsonr

from mer_tf.evaluation.dimensions import (
    concordance,
    dimension_metrics,
    paired_dimension_comparison,
    to_unit,
)


def _lin(y, p):
    """Lin's (1989) concordance correlation coefficient, one term at a time."""
    n = len(y)
    my, mp = sum(y) / n, sum(p) / n
    sy = sum((v - my) ** 2 for v in y) / n
    sp = sum((v - mp) ** 2 for v in p) / n
    syp = sum((a - my) * (b - mp) for a, b in zip(y, p)) / n
    return 2 * syp / (sy + sp + (my - mp) ** 2)


def test_ccc_is_lins_coefficient_and_is_lowered_by_shift_and_scale_unlike_r():
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 1, 200)
    p = 0.6 * y + 0.1 + rng.normal(0, 0.1, 200)
    assert concordance(y, p) == pytest.approx(_lin(list(y), list(p)), rel=1e-12)
    assert concordance(y, y) == pytest.approx(1.0)
    assert concordance(y, y + 0.2) < 1 and concordance(y, 2 * y) < 1
    assert pearsonr(y, y + 0.2).statistic == pytest.approx(1.0)  # r does not see a shift
    figures = dimension_metrics(np.stack([y, y, y], 1), np.stack([p, y, 1 - y], 1))
    assert figures["arousal"]["ccc"] == pytest.approx(_lin(list(y), list(p)), rel=1e-12)
    assert figures["arousal"]["pearson"] == pytest.approx(pearsonr(y, p).statistic, rel=1e-9)
    assert figures["arousal"]["mae"] == pytest.approx(np.mean(np.abs(y - p)))
    low, high = figures["arousal"]["ci95"]["ccc"]
    assert low < figures["arousal"]["ccc"] < high and high - low < 0.2
    assert figures["valence"]["ccc"] == pytest.approx(1.0)
    assert figures["dominance"]["ccc"] < 0  # anti-correlated
    assert figures["mean_ccc"] == pytest.approx(np.mean([figures[d]["ccc"] for d in (
        "arousal", "valence", "dominance")]))


def test_unannotated_utterances_are_left_out_not_counted_as_zero():
    y = np.array([[0.2, 0.5, np.nan], [0.4, np.nan, np.nan], [0.9, 0.1, np.nan],
                  [0.7, 0.3, np.nan]])
    p = np.array([[0.3, 0.4, 0.5], [0.5, 0.0, 0.5], [0.8, 0.2, 0.5], [0.6, 0.3, 0.5]])
    figures = dimension_metrics(y, p, resamples=50)
    assert figures["arousal"]["utterances"] == 4 and figures["valence"]["utterances"] == 3
    assert figures["valence"]["ccc"] == pytest.approx(_lin([0.5, 0.1, 0.3], [0.4, 0.2, 0.3]))
    assert figures["dominance"] == {"utterances": 0, "ccc": None, "pearson": None,
                                    "mae": None, "ci95": {k: [None, None] for k in (
                                        "ccc", "pearson", "mae")}}
    assert figures["mean_ccc"] == pytest.approx(np.mean([figures["arousal"]["ccc"],
                                                         figures["valence"]["ccc"]]))
    np.testing.assert_allclose(to_unit([1, 4, 7, np.nan], (1, 7)), [0, 0.5, 1, np.nan])


def test_a_paired_comparison_sees_a_better_run_on_the_same_utterances():
    rng = np.random.default_rng(1)
    y = rng.uniform(0, 1, (300, 3))
    good = y + rng.normal(0, 0.05, y.shape)
    poor = y + rng.normal(0, 0.3, y.shape)
    compared = paired_dimension_comparison(y, poor, good)
    for name in ("arousal", "valence", "dominance"):
        c = compared[name]
        assert c["delta"] == pytest.approx(c["b"] - c["a"]) and c["delta"] > 0
        assert c["ci95"][0] > 0 and c["p_value"] < 0.01 and c["utterances"] == 300
    same = paired_dimension_comparison(y, good, good)
    assert same["arousal"]["delta"] == 0 and same["arousal"]["p_value"] == 1.0


def test_the_streaming_metric_is_the_whole_splits_ccc_not_a_mean_of_batches():
    from mer_tf.evaluation.metrics import MeanConcordance

    rng = np.random.default_rng(2)
    y = rng.uniform(0, 1, (50, 3))
    p = np.clip(y + rng.normal(0, 0.2, y.shape), 0, 1)
    y[::4, 2] = np.nan  # dominance unrated for a quarter: left out
    metric = MeanConcordance()
    for start in range(0, 50, 8):  # batches of 8, the last of 2
        metric.update_state(y[start:start + 8].astype(np.float32),
                            p[start:start + 8].astype(np.float32))
    expected = np.mean([concordance(y[:, d], p[:, d]) for d in range(3)])
    assert float(metric.result()) == pytest.approx(expected, abs=1e-5)
    metric.reset_state()  # nothing rated: NaN, which no monitor ranks as a best epoch
    assert np.isnan(float(metric.result()))
