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
class MaskedStatisticsPooling(keras.layers.Layer):
    """Mean and standard deviation over the valid steps, side by side (the x-vector's
    statistics pooling): [batch, steps, dim] -> [batch, 2 * dim].

    A mean over time of an oscillation is near zero; its spread says how much it moves.
    """

    def call(self, inputs, mask):
        weights = ops.cast(ops.expand_dims(mask, -1), inputs.dtype)
        count = ops.maximum(ops.sum(weights, axis=1), ops.cast(1.0, inputs.dtype))
        mean = ops.sum(inputs * weights, axis=1) / count
        square = ops.sum(ops.square(inputs) * weights, axis=1) / count
        std = ops.sqrt(ops.maximum(square - ops.square(mean), 0.0) + 1e-6)
        return ops.concatenate([mean, std], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])


def motion_features(frames, mask, centre: bool = True, derivatives: int = 2,
                    per_utterance_scale: bool = False, magnitudes: bool = False,
                    groups: tuple = ()):
    """(features, present) of marker frames [batch, T, F] (NaN where a marker was missing)
    and a frame mask [batch, T]: each marker's position minus the utterance's mean pose
    (`centre`), beside its velocity (`derivatives` >= 1) and acceleration (2) from frame
    to frame; a missing marker reads 0 (its mean pose, no movement) and so does a
    difference with any of its frames missing.
    `per_utterance_scale` divides each feature by its RMS over the utterance (so velocity
    and acceleration over position are the movement's rhythm, whoever moves and however
    much) and appends the logarithm of that RMS (how much they move) as F more features.
    `magnitudes` appends, for each derivative, each marker's length of it (F / 3 more:
    markers are x, y, z triples): how fast it moves, whichever way, which a weighted sum
    of signed steps (a Dense layer) cannot say.
    `groups` (the widths of the marker groups, in order: IEMOCAP's head, hand and
    rotated streams) with `magnitudes` appends, per derivative and group, the logarithm of
    its markers' mean length of it: each body part's quantity of motion in a frame,
    averaged over its markers, so the noise of any one marker mostly cancels.
    `present` [batch, T, width] marks the values that were measured.

    One function for the model's layer and for the training-split statistics that scale
    it, so the two cannot drift apart.
    """
    valid = ops.logical_and(ops.logical_not(ops.isnan(frames)),
                            ops.expand_dims(ops.cast(mask, "bool"), -1))
    weights = ops.cast(valid, frames.dtype)
    values = ops.where(valid, frames, ops.zeros_like(frames))
    count = ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1.0)
    if centre:
        values = (values - ops.sum(values, axis=1, keepdims=True) / count) * weights
    if per_utterance_scale:
        rms = ops.sqrt(ops.sum(ops.square(values), axis=1, keepdims=True) / count)
        values = values / (rms + 1e-3)
    features, present = [values], [weights]
    step, measured = values, weights
    for _ in range(derivatives):
        measured = ops.pad(measured[:, 1:] * measured[:, :-1], [[0, 0], [1, 0], [0, 0]])
        step = ops.pad(step[:, 1:] - step[:, :-1], [[0, 0], [1, 0], [0, 0]]) * measured
        features.append(step)
        present.append(measured)
        if magnitudes:
            shape = ops.shape(step)
            triples = (shape[0], shape[1], -1, 3)
            marker = ops.min(ops.reshape(measured, triples), axis=-1)
            length = ops.sqrt(ops.sum(ops.square(ops.reshape(step, triples)), axis=-1) + 1e-12)
            features.append(length * marker)
            present.append(marker)
            start = 0
            for width in groups:
                part = slice(start // 3, (start + width) // 3)
                start += width
                seen = ops.sum(marker[..., part], axis=-1, keepdims=True)
                mean = ops.sum((length * marker)[..., part], axis=-1, keepdims=True)
                some = ops.cast(seen > 0, frames.dtype)
                features.append(ops.log(mean / ops.maximum(seen, 1.0) + 1e-3) * some)
                present.append(some)
    if per_utterance_scale:
        seen = ops.cast(ops.sum(weights, axis=1, keepdims=True) > 0, frames.dtype)
        frame = ops.expand_dims(ops.cast(mask, frames.dtype), -1)
        features.append(ops.log(rms + 1e-3) * seen * frame)
        present.append(ops.broadcast_to(seen, ops.shape(weights)) * frame)
    return ops.concatenate(features, axis=-1), ops.concatenate(present, axis=-1)


def motion_width(features: int, derivatives: int, per_utterance_scale: bool,
                 magnitudes: bool, groups: tuple = ()) -> int:
    """How many values `motion_features` gives a frame of `features` marker values."""
    return (features * (1 + derivatives + per_utterance_scale)
            + (features // 3 + len(groups)) * derivatives * magnitudes)


@keras.saving.register_keras_serializable(package=PACKAGE)
class MotionFeatures(keras.layers.Layer):
    """Raw marker frames -> centred positions and their differences (`motion_features`), each
    divided by its standard deviation over the training split (given as `variance`,
    stored in the model, so an exported model takes raw motion capture). Returns the
    features and the frame mask with frames where no marker was measured masked out.
    """

    def __init__(self, variance, centre: bool = True, derivatives: int = 2,
                 per_utterance_scale: bool = False, magnitudes: bool = False,
                 groups=(), epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.variance = [float(v) for v in variance]
        self.centre, self.derivatives, self.epsilon = bool(centre), int(derivatives), float(epsilon)
        self.per_utterance_scale, self.magnitudes = bool(per_utterance_scale), bool(magnitudes)
        self.groups = tuple(int(g) for g in groups)

    def call(self, frames, frame_mask):
        features, present = motion_features(frames, frame_mask, self.centre, self.derivatives,
                                            self.per_utterance_scale, self.magnitudes,
                                            self.groups)
        scale = ops.rsqrt(ops.convert_to_tensor(self.variance, features.dtype) + self.epsilon)
        width = ops.shape(frames)[-1]
        measured = ops.any(present[..., :width] > 0, axis=-1)
        return features * scale, ops.cast(measured, "int32") * ops.cast(frame_mask, "int32")

    def get_config(self):
        return {**super().get_config(), "variance": self.variance, "centre": self.centre,
                "derivatives": self.derivatives, "per_utterance_scale": self.per_utterance_scale,
                "magnitudes": self.magnitudes, "groups": list(self.groups),
                "epsilon": self.epsilon}


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
