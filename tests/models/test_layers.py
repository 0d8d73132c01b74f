"""The shared Keras layers: config round trips, shapes and what each computes."""

import numpy as np
import pytest

from tests.harness import run_layer_test

MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")
FRAMES = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
LAYERS = [  # name, init kwargs, inputs, output shape, weights it owns
    ("MaskedMeanPooling", {}, [FRAMES, MASK], (2, 3), 0),
    ("MaskedCentering", {}, [FRAMES, MASK], (2, 5, 3), 0),
    ("MaskedStatisticsPooling", {}, [FRAMES, MASK], (2, 6), 0),
    ("AttentionPooling", {}, [FRAMES, MASK], (2, 3), 2),
    ("FirstToken", {}, [FRAMES], (2, 3), 0),
    ("ImputeAndNormalize", {"mean": [0.0, 1.0, 2.0], "variance": [1.0, 4.0, 1.0]}, [FRAMES],
     (2, 5, 3), None),
]


@pytest.mark.parametrize("name,kwargs,inputs,output,weights", LAYERS,
                         ids=[row[0] for row in LAYERS])
def test_each_layer_meets_the_harness(name, kwargs, inputs, output, weights):
    from mer_tf.models import layers

    run_layer_test(getattr(layers, name), kwargs, inputs, output, expected_weights=weights)


def test_the_speech_state_layers_meet_the_harness():
    from mer_tf.models.speech.states import LayerMix, MaskedStateMeans

    states = np.random.default_rng(1).normal(size=(2, 3, 5, 4)).astype("float32")  # B N T H
    run_layer_test(LayerMix, {"mode": "weighted"}, [states], (2, 5, 4),
                   expected_trainable_weights=1)
    run_layer_test(LayerMix, {"mode": "last"}, [states], (2, 5, 4), expected_weights=0)
    run_layer_test(MaskedStateMeans, {}, [states, MASK], (2, 3, 4), expected_weights=0)


def test_state_layers_mix_and_pool_as_their_docstrings_say():
    from mer_tf.models.speech.states import LayerMix, MaskedStateMeans

    states = np.random.default_rng(1).normal(size=(2, 3, 4, 5)).astype("float32")  # B N T H
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], "int32")
    np.testing.assert_allclose(LayerMix("last")(states), states[:, -1])
    weighted = LayerMix("weighted")
    np.testing.assert_allclose(weighted(states), states.mean(axis=1), rtol=1e-5)  # equal start
    means = MaskedStateMeans()(states, mask)
    np.testing.assert_allclose(means[0], states[0, :, :2].mean(axis=1), rtol=1e-5)
    # the weighted sum of the means is the mean of the weighted sum (the cache relies on it)
    np.testing.assert_allclose(weighted(means), MaskedStateMeans()(
        weighted(states)[:, None], mask)[:, 0], rtol=1e-5)
    clone = LayerMix.from_config(weighted.get_config())
    assert clone.mode == "weighted"
    with pytest.raises(ValueError, match="last or weighted"):
        LayerMix("sum")
