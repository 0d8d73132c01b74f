"""The feature cache's length batches."""

import numpy as np


def test_length_batches_group_similar_lengths_and_cover_every_row_once():
    from mer_tf.training.feature_cache import LENGTH_SPREAD, length_batches

    rng = np.random.default_rng(0)
    lengths = rng.integers(8000, 120000, 300)
    batches = length_batches(lengths, 16)
    rows = np.concatenate(batches)
    assert sorted(rows) == list(range(300))  # every row once
    assert all(1 <= len(b) <= 16 for b in batches)
    assert all(lengths[b].max() <= LENGTH_SPREAD * lengths[b].min() for b in batches)
    assert np.mean([len(b) for b in batches]) > 8  # a full window still fills its batches
    padded = sum(len(b) * lengths[b].max() for b in batches)
    assert padded < LENGTH_SPREAD * lengths.sum()  # what the cut batches compute
    assert [list(b) for b in length_batches(np.array([5, 50, 5, 0]), 4)] == [[3], [0, 2], [1]]
