"""The dimensional losses: 1 - CCC equals one minus the evaluation's CCC, masked targets
add nothing, and the loss trains a regression head under Keras 3."""

import numpy as np
import pytest

from mer_tf.evaluation.dimensions import concordance
from mer_tf.models.losses import ConcordanceLoss, MaskedMeanSquaredError


def _value(loss, y, p):
    return float(np.asarray(loss(np.asarray(y, np.float32), np.asarray(p, np.float32))).sum())


def test_concordance_loss_is_one_minus_the_ccc_of_each_annotated_dimension():
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 1, (32, 3)).astype(np.float32)
    p = (0.5 * y + rng.normal(0, 0.1, y.shape)).astype(np.float32)
    expected = np.mean([1 - concordance(y[:, d], p[:, d]) for d in range(3)])
    assert _value(ConcordanceLoss(), y, p) == pytest.approx(expected, abs=1e-5)
    masked = y.copy()
    masked[:10, 1] = np.nan  # valence of ten utterances not annotated
    masked[:, 2] = np.nan  # no dominance at all: that dimension adds nothing
    expected = np.mean([1 - concordance(y[:, 0], p[:, 0]),
                        1 - concordance(y[10:, 1], p[10:, 1])])
    assert _value(ConcordanceLoss(), masked, p) == pytest.approx(expected, abs=1e-5)
    assert _value(ConcordanceLoss(), np.full((4, 3), np.nan), p[:4]) == 0.0
    squared = np.nanmean((masked - p) ** 2)
    assert _value(MaskedMeanSquaredError(), masked, p) == pytest.approx(squared, rel=1e-5)


def test_a_regression_head_trained_on_one_minus_ccc_tracks_its_targets():
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype(np.float32)
    y = 1 / (1 + np.exp(-x[:, :3] @ np.diag([1.0, -1.0, 0.5])))  # three targets in (0, 1)
    y[::3, 2] = np.nan  # a third of dominance not annotated
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=ConcordanceLoss())
    history = model.fit(x, y.astype(np.float32), batch_size=64, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.1 < history.history["loss"][0]
    predicted = model.predict(x, verbose=0)
    assert all(concordance(y[:, d], predicted[:, d]) > 0.9 for d in range(3))
