"""Arousal, valence and dominance as training targets: each utterance's ratings, stored
as its corpus rated them, mapped onto [0, 1] by that corpus's scale inside the tf.data
pipeline (`make_dataset(dimensions=...)`), NaN where there is no rating to learn from."""

from __future__ import annotations


def unit_scaler(scales: dict):
    """(vad [3] as the schema stores it: valence, arousal, dominance; utterance id) ->
    [arousal, valence, dominance] on [0, 1] by the utterance's corpus's scale; NaN for an
    utterance whose corpus has none, for a value left unannotated (NaN) and for one
    outside the scale (the zeros shards held for unrated utterances before NaN)."""
    import tensorflow as tf

    nan = float("nan")
    distinct = sorted({s for s in scales.values() if s is not None})
    low = tf.constant([float(s[0]) for s in distinct] + [nan])
    high = tf.constant([float(s[1]) for s in distinct] + [nan])
    unrated = len(distinct)  # the NaN scale's position
    if len({*scales.values()}) == 1:  # one corpus: one scale, no lookup
        only = unrated if None in scales.values() else 0

        def position(_):
            return tf.constant(only, tf.int64)
    else:
        ids = sorted(scales)
        table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(ids, tf.string), tf.constant(
                [unrated if scales[i] is None else distinct.index(scales[i]) for i in ids],
                tf.int64)), unrated)
        position = table.lookup

    def scale(vad, utterance_id):
        at = position(utterance_id)
        lo, hi = tf.gather(low, at), tf.gather(high, at)
        ordered = tf.gather(tf.cast(vad, tf.float32), [1, 0, 2])  # arousal, valence, dominance
        inside = (ordered >= lo) & (ordered <= hi)
        return tf.where(inside, (ordered - lo) / (hi - lo), nan)

    return scale
