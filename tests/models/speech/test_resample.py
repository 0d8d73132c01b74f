"""The SavedModel's in-graph resampler against soxr, which mer_tf's Python path uses."""

import numpy as np
import pytest
import tensorflow as tf

from mer_tf.data.audio import resample
from mer_tf.models.speech.resample import resample_in_graph


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_speech_band_tones_come_out_as_soxr_gives_them(rate):
    t = np.arange(int(rate * 1.5)) / rate
    tones = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t))
    tones = tones.astype(np.float32)
    ours = resample_in_graph(tf.constant(tones), tf.constant(rate), 16000).numpy()
    theirs = resample(tones, rate, 16000)
    assert len(ours) == len(theirs) == int(np.ceil(len(tones) * 16000 / rate))
    inner = slice(400, -400)  # the edges: each pads differently
    error = np.sqrt(np.mean((ours[inner] - theirs[inner]) ** 2))
    assert 20 * np.log10(error / np.sqrt(np.mean(theirs[inner] ** 2))) < -55


def test_the_model_rate_passes_through_untouched():
    samples = np.random.default_rng(0).uniform(-1, 1, 1000).astype(np.float32)
    out = resample_in_graph(tf.constant(samples), tf.constant(16000), 16000).numpy()
    np.testing.assert_array_equal(out, samples)
