"""Temperature scaling and the figures that say whether confidence can be acted on."""

import numpy as np
import pytest

from mer_tf.evaluation import calibration


def _overconfident(n=4000, temperature=3.0, seed=0):
    """Labels drawn from softmax(z); the model reports softmax(z * temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (n, 4))
    truth = calibration.scale(np.exp(logits), 1.0)
    labels = np.array([rng.choice(4, p=p) for p in truth])
    return calibration.scale(np.exp(logits), 1.0 / temperature), labels


def test_the_fitted_temperature_undoes_overconfidence_and_keeps_every_argmax():
    reported, labels = _overconfident()
    temperature = calibration.fit_temperature(reported, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    after = calibration.scale(reported, temperature)
    assert (after.argmax(1) == reported.argmax(1)).all()
    np.testing.assert_allclose(after.sum(1), 1.0, rtol=1e-9)
    before_ece = calibration.expected_calibration_error(reported, labels)
    after_ece = calibration.expected_calibration_error(after, labels)
    assert before_ece > 0.1 and after_ece < 0.03
    assert calibration.fit_temperature(np.zeros((0, 4)), []) == 1.0


def test_ece_is_the_weighted_gap_between_confidence_and_accuracy_per_bin():
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])  # bin 0.9: accuracy 0.5; bin 0.6: accuracy 1.0
    expected = 0.5 * abs(0.5 - 0.9) + 0.5 * abs(1.0 - 0.6)
    assert calibration.expected_calibration_error(probabilities, labels) == pytest.approx(expected)
    rows = [r for r in calibration.reliability(probabilities, labels) if r["utterances"]]
    assert [(r["utterances"], r["accuracy"]) for r in rows] == [(2, 1.0), (2, 0.5)]


def test_coverage_falls_and_accuracy_rises_with_the_threshold():
    reported, labels = _overconfident(temperature=1.0, seed=1)
    rows = calibration.coverage(reported, labels, thresholds=(0.3, 0.4, 0.5, 0.99))
    assert [r["min_confidence"] for r in rows] == [0.3, 0.4, 0.5, 0.99]
    coverages = [r["coverage"] for r in rows]
    assert coverages == sorted(coverages, reverse=True) and coverages[0] > coverages[-1]
    accuracies = [r["accuracy"] for r in rows]  # calibrated: answering less, right more
    assert accuracies[0] < accuracies[1] < accuracies[2] > 0.5
    assert rows[-1] == {"min_confidence": 0.99, "coverage": 0.0, "accuracy": None}  # nobody
    top = reported.max(1)
    assert rows[2]["coverage"] == pytest.approx((top >= 0.5).mean())


def test_calibrate_fits_on_validation_and_only_reports_test():
    validation = dict(zip(("probabilities", "labels"), _overconfident(seed=2)))
    test = dict(zip(("probabilities", "labels"), _overconfident(seed=3)))
    block = calibration.calibrate(validation, test)
    assert block["fitted_on"] == "validation"
    assert block["temperature"] == pytest.approx(calibration.fit_temperature(
        validation["probabilities"], validation["labels"]), rel=1e-4)
    assert block["test"]["ece_after"] < block["test"]["ece_before"]
    assert block["test"]["nll_after"] < block["test"]["nll_before"]
    assert len(block["validation"]["coverage"]) == len(calibration.THRESHOLDS)
    shuffled = {**test, "labels": np.random.default_rng(0).permutation(test["labels"])}
    assert calibration.calibrate(validation, shuffled)["temperature"] == block["temperature"]


def test_a_temperature_that_does_not_carry_over_is_not_applied_and_the_run_says_so():
    """On a small validation split whose confidence is already right (one speaker, 64
    utterances), a temperature fitted on one half does not lower the other half's NLL: T
    stays 1 and the block says why; on an over-confident one it is applied."""
    small = dict(zip(("probabilities", "labels"), _overconfident(n=64, temperature=1.0,
                                                                 seed=4)))
    test = dict(zip(("probabilities", "labels"), _overconfident(n=64, temperature=1.0,
                                                                seed=5)))
    block = calibration.calibrate(small, test)
    assert block["applied"] is False and block["temperature"] == 1.0
    assert block["fitted_temperature"] != 1.0
    assert block["held_out"]["gain"] <= calibration.MARGIN
    assert block["decision"].startswith("not applied (T = 1): fitted on one half")
    assert block["test"]["ece_after"] == block["test"]["ece_before"]
    over = dict(zip(("probabilities", "labels"), _overconfident(n=200, seed=6)))
    applied = calibration.calibrate(over, test)
    assert applied["applied"] is True and applied["temperature"] > 1.5
    assert applied["held_out"]["gain"] > calibration.MARGIN
