"""One way to test a layer and a speech backbone, after keras-hub's `TestCase`
(`run_layer_test`, `run_backbone_test` in keras_hub/src/tests/test_case.py): every layer
and every backbone kind is held to the same checks, written once.

- `run_layer_test`: the output shape, a config round trip, serialisation, the same
  outputs from a copy with the same weights, the weights it owns, and a `.keras` file of a
  model around it that loads back with the same outputs (its custom objects registered).
- `run_speech_backbone_test`: the contract of `mer_tf.models.speech.backbone`: shapes
  and dtypes of the states and frame mask, `frames_for` agreeing with what it computes,
  float32 under a mixed precision policy, padding invariance where it claims it, and
  `describe()` / `cache_key()` saying what config.json and the feature cache need.
"""

import os
import tempfile

import keras
import numpy as np


def _as_list(inputs):
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def run_layer_test(layer_class, init_kwargs: dict, inputs, expected_output_shape,
                   expected_weights: int | None = None, expected_trainable_weights=None):
    """Builds `layer_class(**init_kwargs)` on `inputs` (one array or a list of them) and
    checks it as the module docstring says; returns the layer's output."""
    inputs = _as_list(inputs)
    layer = layer_class(**init_kwargs)
    output = layer(*inputs)
    assert tuple(output.shape) == tuple(expected_output_shape), output.shape
    if expected_weights is not None:
        assert len(layer.weights) == expected_weights, [w.path for w in layer.weights]
    if expected_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_trainable_weights

    config = layer.get_config()
    again = layer_class.from_config(config)
    assert again.get_config() == config
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is layer_class and clone.get_config() == config
    clone(*inputs)  # built, then given the same weights
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(*inputs), output, rtol=1e-6, atol=1e-6)

    symbolic = [keras.Input(shape=np.shape(x)[1:], dtype=np.asarray(x).dtype.name)
                for x in inputs]
    model = keras.Model(symbolic, layer(*symbolic))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(inputs), output, rtol=1e-6, atol=1e-6)
    return output


def run_speech_backbone_test(backbone, seconds: float = 0.5, batch: int = 2):
    """Holds a built `SpeechBackbone` to the contract; returns (states, frame_mask)."""
    from mer_tf.frames import SAMPLE_RATE

    samples = backbone.input_length or int(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(0)
    waveform = (0.1 * rng.standard_normal((batch, samples))).astype("float32")
    lengths = np.array([samples // 2] + [samples] * (batch - 1), "int32")
    waveform[0, lengths[0]:] = 0.0  # right-padded, as the pipeline pads
    states, mask = backbone(waveform, lengths)
    frames = backbone.frames_for(samples)
    assert tuple(states.shape) == (batch, backbone.num_states, frames, backbone.hidden_size)
    assert tuple(mask.shape) == (batch, frames)
    assert keras.backend.standardize_dtype(states.dtype) == "float32"
    mask = np.asarray(mask)
    assert set(np.unique(mask)) <= {0, 1} and mask[1].all()
    assert 0 < mask[0].sum() <= frames  # the padded row masks its padding where it can

    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:  # computes in float32 whatever the global policy (the contract)
        mixed, _ = backbone(waveform, lengths)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert keras.backend.standardize_dtype(mixed.dtype) == "float32"

    if backbone.padding_invariant:  # the short row alone, cut to its length, gives the same
        alone, alone_mask = backbone(waveform[:1, :lengths[0]], lengths[:1])
        valid = int(np.asarray(alone_mask)[0].sum())
        np.testing.assert_allclose(np.asarray(alone)[0, :, :valid],
                                   np.asarray(states)[0, :, :valid], atol=1e-4)

    facts = backbone.describe()
    assert facts["kind"] == backbone.kind and facts["handle"]
    assert isinstance(backbone.cache_key(), list)  # with the handle: the cache's key
    return states, mask
