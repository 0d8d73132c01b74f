"""The frame geometry of the speech backbones."""

import numpy as np


def test_the_frame_geometry_is_the_published_one():
    from mer_tf.frames import RECEPTIVE_FIELD, frames_for_samples

    assert frames_for_samples(246000) == 768 and frames_for_samples(16000) == 49
    assert RECEPTIVE_FIELD == 400 and frames_for_samples(400) == 1 > frames_for_samples(399)
    lengths = np.array([16000, 400, 8000])
    assert list(frames_for_samples(lengths)) == [49, 1, 24]
