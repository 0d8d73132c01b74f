"""Resampling inside a TensorFlow graph, for a SavedModel that takes WAV files at any rate
(`serve_wav`) with no Python around it.

A windowed-sinc interpolator (Hann window, `ZERO_CROSSINGS` zero crossings of the sinc
each side), low-passed at the lower of the two Nyquist frequencies, the textbook
band-limited interpolation (J. O. Smith, "Digital Audio Resampling"). mer_tf's Python
path resamples with soxr instead; the two agree to within the test's bound
(tests of `resample_in_graph` compare them).
"""

from __future__ import annotations

ZERO_CROSSINGS = 16


def resample_in_graph(waveform, rate, target: int):
    """[samples] float32 at `rate` Hz (a scalar tensor) -> [samples'] at `target` Hz."""
    import tensorflow as tf

    def convert():
        source = tf.cast(rate, tf.float64)
        count = tf.shape(waveform, out_type=tf.int64)[0]
        out_count = tf.cast(tf.math.ceil(tf.cast(count, tf.float64) * target / source),
                            tf.int64)
        # Each output sample's position on the input's sample grid, in float64: a long
        # file's positions exceed float32's exact integers.
        position = tf.cast(tf.range(out_count), tf.float64) * (source / target)
        cutoff = tf.minimum(tf.constant(1.0, tf.float64), target / source)
        half_width = tf.math.ceil(ZERO_CROSSINGS / cutoff)
        offsets = tf.range(-half_width + 1, half_width + 1, dtype=tf.float64)
        index = tf.floor(position)[:, None] + offsets[None, :]
        distance = position[:, None] - index
        window = tf.where(tf.abs(distance) < half_width,
                          0.5 + 0.5 * tf.cos(3.141592653589793 * distance / half_width), 0.0)
        weight = tf.cast(cutoff * _sinc(cutoff * distance) * window, tf.float32)
        inside = (index >= 0) & (index < tf.cast(count, tf.float64))
        samples = tf.gather(waveform, tf.cast(tf.clip_by_value(index, 0.0, tf.cast(
            count - 1, tf.float64)), tf.int64))
        return tf.reduce_sum(tf.where(inside, samples * weight, 0.0), axis=1)

    return tf.cond(tf.equal(tf.cast(rate, tf.int64), target), lambda: waveform, convert)


def _sinc(x):
    import tensorflow as tf

    pi_x = 3.141592653589793 * x
    safe = tf.where(tf.equal(x, 0.0), tf.ones_like(x), pi_x)
    return tf.where(tf.equal(x, 0.0), tf.ones_like(x), tf.sin(safe) / safe)
