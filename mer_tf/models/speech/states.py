"""Operations on a speech backbone's states [B, N, T, H] (N layers): the last layer or
SUPERB's learned weighted sum, and each layer's mean over the valid frames."""

from __future__ import annotations

import keras
from keras import ops

from mer_tf.models.layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class LayerMix(keras.layers.Layer):
    """States of every layer [B, N, ...] -> one [B, ...]: the last layer, or SUPERB's learned
    softmax-weighted sum of all of them (weights start equal)."""

    def __init__(self, mode: str = "last", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("last", "weighted"):
            raise ValueError(f"speech layers must be last or weighted, got {mode!r}")
        self.mode = mode

    def build(self, input_shape):
        if self.mode == "weighted":
            self.layer_weights = self.add_weight(name="layer_weights", shape=(input_shape[1],),
                                                 initializer="zeros")

    def call(self, states):
        if self.mode == "last":
            return states[:, -1]
        weights = ops.cast(ops.softmax(self.layer_weights), states.dtype)
        shape = [1, -1] + [1] * (len(states.shape) - 2)
        return ops.sum(states * ops.reshape(weights, shape), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedStateMeans(keras.layers.Layer):
    """Each layer's mean over the valid frames: ([B, N, T, H], mask [B, T]) -> [B, N, H].
    A weighted sum of these equals the mean of the weighted sum (both are linear), so a
    feature cache of the means still lets the layer weights train."""

    def call(self, states, mask):
        weights = ops.cast(mask, states.dtype)[:, None, :, None]
        count = ops.maximum(ops.sum(weights, axis=2), ops.cast(1.0, states.dtype))
        return ops.sum(states * weights, axis=2) / count

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[3])
