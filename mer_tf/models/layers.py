"""Small registered layers the towers share: masks, pooling, normalisation.

Masks enter models as int32 (1 = valid), not bool: MirroredStrategy averages
the first batch while Keras builds the model, and bool tensors cannot be summed.

Each stores its constructor arguments only and returns them from `get_config`,
so models round-trip through `.keras` with `safe_mode=True` (no Lambda layers).
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "mer_tf"


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedMeanPooling(keras.layers.Layer):
    """Mean over the valid steps: ([batch, steps, dim], mask [batch, steps]) -> [batch, dim]."""

    def call(self, inputs, mask):
        weights = ops.cast(ops.expand_dims(mask, -1), inputs.dtype)
        total = ops.sum(inputs * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), ops.cast(1.0, inputs.dtype))
        return total / count

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedCentering(keras.layers.Layer):
    """Subtracts each sequence's mean over its valid steps (padding stays zero).

    For motion capture this removes where an actor stands and how their body
    is shaped, which identify the speaker, and keeps how they move.
    """

    def call(self, inputs, mask):
        weights = ops.cast(ops.expand_dims(mask, -1), inputs.dtype)
        count = ops.maximum(ops.sum(weights, axis=1, keepdims=True), ops.cast(1.0, inputs.dtype))
        mean = ops.sum(inputs * weights, axis=1, keepdims=True) / count
        return (inputs - mean) * weights


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentionPooling(keras.layers.Layer):
    """Learned attention weights over valid steps, then their weighted sum."""

    def build(self, input_shape):
        self.score = keras.layers.Dense(1, name="score", dtype=self.dtype_policy)
        self.score.build(input_shape)

    def call(self, inputs, mask):
        scores = ops.squeeze(self.score(inputs), -1)
        scores = ops.cast(scores, "float32")
        scores = ops.where(ops.cast(mask, "bool"), scores, ops.full_like(scores, -1e9))
        weights = ops.cast(ops.softmax(scores, axis=-1), inputs.dtype)
        return ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class FirstToken(keras.layers.Layer):
    """[batch, steps, dim] -> [batch, dim]: BERT's [CLS] vector."""

    def call(self, inputs):
        return inputs[:, 0, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class ImputeAndNormalize(keras.layers.Layer):
    """Fills NaN (missing markers) with the training mean, then standardises.

    The statistics come from the training split only and live in the model, so
    an exported model takes raw motion capture.
    """

    def __init__(self, mean, variance, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(v) for v in mean]
        self.variance = [float(v) for v in variance]
        self.epsilon = float(epsilon)

    def call(self, inputs):
        mean = ops.cast(ops.convert_to_tensor(self.mean), inputs.dtype)
        scale = ops.cast(ops.rsqrt(ops.convert_to_tensor(self.variance) + self.epsilon),
                         inputs.dtype)
        filled = ops.where(ops.isnan(inputs), mean, inputs)
        return (filled - mean) * scale

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "variance": self.variance,
                "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ModalityDropout(keras.layers.Layer):
    """In training, drops each modality's whole vector with probability `rate`
    (never all of them), so that no single tower carries the fused model alone.

    Joint training otherwise leans on whichever tower learns fastest; dropping
    whole modalities makes every tower predictive on its own. Identity at inference.
    """

    def __init__(self, rate: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate <= 0 or len(inputs) < 2:
            return inputs
        batch = ops.shape(inputs[0])[0]
        keep = keras.random.uniform((batch, len(inputs)), seed=self.seed_generator) >= self.rate
        # Where every modality was dropped, keep them all.
        keep = ops.logical_or(keep, ops.logical_not(ops.any(keep, axis=1, keepdims=True)))
        keep = ops.cast(keep, inputs[0].dtype)
        return [x * keep[:, i:i + 1] for i, x in enumerate(inputs)]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ModalityGate(keras.layers.Layer):
    """Zeroes the vectors of modalities marked absent: ([vectors], present [batch, M]).

    What `ModalityDropout` does to a dropped modality in training, so a model trained
    with it can predict when a modality is missing (serving only; training never
    builds it).
    """

    def call(self, inputs, present):
        present = ops.cast(present, inputs[0].dtype)
        return [x * present[:, i:i + 1] for i, x in enumerate(inputs)]

    def compute_output_shape(self, input_shape):
        return input_shape[0] if isinstance(input_shape, tuple) and len(input_shape) == 2 \
            else input_shape
