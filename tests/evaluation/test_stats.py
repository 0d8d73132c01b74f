"""Intervals for a difference between two sets of utterances (no pairing possible)."""

import numpy as np
import pytest

from mer_tf.evaluation.stats import unpaired_difference


def test_an_unpaired_difference_is_b_minus_a_with_an_interval_around_it():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 400)
    right = np.where(rng.random(400) < 0.8, labels, (labels + 1) % 4)  # about 0.8
    worse = np.where(rng.random(400) < 0.5, labels, (labels + 1) % 4)  # about 0.5
    same = unpaired_difference(labels, right, labels, right, 4)
    assert same["ua"]["delta"] == 0.0 and same["ua"]["ci95"][0] < 0 < same["ua"]["ci95"][1]
    drop = unpaired_difference(labels, right, labels[:200], worse[:200], 4)
    expected = (np.mean(worse[:200] == labels[:200]) - np.mean(right == labels))
    assert drop["wa"]["delta"] == pytest.approx(expected)
    low, high = drop["ua"]["ci95"]
    assert low < drop["ua"]["delta"] < high < 0  # a drop of about 0.3 is clear of zero
    with pytest.raises(ValueError, match="no utterances"):
        unpaired_difference([], [], labels, right, 4)
