"""Losses for arousal, valence and dominance beside the class head: `1 - CCC` per
dimension (the MSP-Podcast challenges' measure, computed over the batch, as their
baselines train) or the mean squared error, each masked: an utterance without a
dimensional label (NaN target) adds nothing, and a batch with none adds zero. Keras 3
ops only, so the same loss trains under TensorFlow and JAX."""

from __future__ import annotations

import keras
from keras import ops


def _per_replica(loss):
    """The batch's loss as a share of the global batch's: with several replicas Keras sums
    their gradients, and a loss without Keras' own reduction is not divided for it."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return loss / tf.distribute.get_strategy().num_replicas_in_sync
    return loss


def _masked(y_true, y_pred):
    """(targets with NaN replaced by 0, predictions, the float mask of present targets)."""
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    present = ops.cast(ops.logical_not(ops.isnan(y_true)), "float32")
    return ops.where(present > 0, y_true, 0.0), y_pred, present


@keras.saving.register_keras_serializable(package="mer_tf")
class ConcordanceLoss(keras.losses.Loss):
    """Mean over the dimensions a batch annotates of `1 - CCC(target, prediction)`, with
    the batch's moments taken over annotated utterances only (a dimension with fewer than
    two of them in the batch adds nothing)."""

    def __init__(self, name="concordance_loss", **kwargs):
        kwargs.setdefault("reduction", None)
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y, p, w = _masked(y_true, y_pred)
        n = ops.sum(w, axis=0)  # [3] annotated utterances per dimension
        safe = ops.maximum(n, 1.0)
        my, mp = ops.sum(w * y, axis=0) / safe, ops.sum(w * p, axis=0) / safe
        dy, dp = (y - my) * w, (p - mp) * w
        vy, vp = ops.sum(dy * dy, axis=0) / safe, ops.sum(dp * dp, axis=0) / safe
        cov = ops.sum(dy * dp, axis=0) / safe
        ccc = 2 * cov / (vy + vp + ops.square(my - mp) + 1e-8)
        scored = ops.cast(n >= 2, "float32")
        loss = ops.sum(scored * (1.0 - ccc)) / ops.maximum(ops.sum(scored), 1.0)
        # one value per batch: CCC is not per utterance
        return ops.reshape(_per_replica(loss), (1,))


@keras.saving.register_keras_serializable(package="mer_tf")
class MaskedMeanSquaredError(keras.losses.Loss):
    """The mean squared error over annotated (utterance, dimension) pairs only."""

    def __init__(self, name="masked_mse", **kwargs):
        kwargs.setdefault("reduction", None)
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y, p, w = _masked(y_true, y_pred)
        loss = ops.sum(w * ops.square(y - p)) / ops.maximum(ops.sum(w), 1.0)
        return ops.reshape(_per_replica(loss), (1,))


DIMENSION_LOSSES = {"ccc": ConcordanceLoss, "mse": MaskedMeanSquaredError}
