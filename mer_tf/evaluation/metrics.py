"""Evaluation metrics: accuracy (WA), unweighted accuracy (UA, mean per-class
recall), macro F1 and the confusion matrix, from scikit-learn; and a streaming
Keras metric for UA so validation UA is logged every epoch without a second pass."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from mer_tf.models.layers import PACKAGE

# Written into every metrics.json, so nobody has to guess how an average was taken.
AVERAGING = {
    "ua": "mean recall over the classes present in the labels (a class absent from the "
          "labels has no recall)",
    "macro_f1": "mean F1 over the classes present in the labels or the predictions "
                "(scikit-learn's default; a class predicted but absent from the labels "
                "scores 0)",
    "per_class_recall": "null for a class absent from the labels (listed in absent_classes)",
    "std": "sample standard deviation (ddof=1) over folds or seeds",
    "ci95": "2.5th and 97.5th percentiles over bootstrap resamples of the utterances "
            "(resamples and seed in `bootstrap`)",
}


def classification_metrics(labels, predictions, class_names) -> dict:
    """WA, UA, macro F1, per-class recall and the confusion matrix over the label set."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        recall_score,
    )

    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    classes = list(range(len(class_names)))
    present = set(labels.tolist())
    recall = recall_score(labels, predictions, labels=classes, average=None, zero_division=0)
    return {
        "wa": float(accuracy_score(labels, predictions)) if labels.size else 0.0,
        "ua": float(balanced_accuracy_score(labels, predictions)) if present else 0.0,
        "macro_f1": float(f1_score(labels, predictions, average="macro", zero_division=0))
        if labels.size else 0.0,
        "per_class_recall": {name: float(r) if i in present else None
                             for i, (name, r) in enumerate(zip(class_names, recall))},
        "absent_classes": [name for i, name in enumerate(class_names) if i not in present],
        "support": {name: int((labels == i).sum()) for i, name in enumerate(class_names)},
        "confusion_matrix": confusion_matrix(labels, predictions, labels=classes).tolist(),
        "utterances": int(labels.size),
        "averaging": AVERAGING,
        **intervals(labels, predictions, len(class_names)),
    }


def intervals(labels, predictions, num_classes: int) -> dict:
    """`ci95` (WA, UA, macro F1) and how it was drawn, for a metrics block."""
    from mer_tf.evaluation.stats import RESAMPLES, SEED, bootstrap_ci

    return {"ci95": bootstrap_ci(labels, predictions, num_classes),
            "bootstrap": {"resamples": RESAMPLES, "seed": SEED, "over": "utterances"}}


def sample_std(values) -> float:
    """The standard deviation reported everywhere: ddof=1 (0.0 for a single value)."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.std(values, ddof=1)) if values.size > 1 else 0.0


@keras.saving.register_keras_serializable(package=PACKAGE)
class UnweightedAccuracy(keras.metrics.Metric):
    """Streaming UA: mean recall over classes seen, from an accumulated confusion matrix.

    A sample weight of 0 leaves an example out (the fillers of a padded batch); any
    positive weight counts it once, so the matrix holds counts and UA is exact.
    """

    def __init__(self, num_classes: int, name: str = "ua", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.confusion = self.add_variable(shape=(self.num_classes, self.num_classes),
                                           initializer="zeros", name="confusion",
                                           aggregation="sum")

    def update_state(self, y_true, y_pred, sample_weight=None):
        true = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        weights = None if sample_weight is None else ops.reshape(sample_weight, (-1,))
        true_hot = ops.one_hot(true, self.num_classes)
        predicted_hot = ops.one_hot(predicted, self.num_classes)
        if weights is not None:  # weights select examples (0: a filler); counts stay counts
            keep = ops.cast(ops.expand_dims(weights, -1) > 0, true_hot.dtype)
            true_hot = true_hot * keep
        counts = ops.matmul(ops.transpose(true_hot), predicted_hot)
        self.confusion.assign_add(ops.cast(counts, self.confusion.dtype))

    def result(self):
        support = ops.sum(self.confusion, axis=1)
        recall = ops.divide_no_nan(ops.diagonal(self.confusion), support)
        seen = ops.cast(support > 0, recall.dtype)
        return ops.divide_no_nan(ops.sum(recall * seen), ops.sum(seen))

    def reset_state(self):
        self.confusion.assign(ops.zeros_like(self.confusion))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MeanConcordance(keras.metrics.Metric):
    """Streaming CCC of arousal, valence and dominance over an epoch, their mean: sums of
    the annotated pairs accumulated per dimension (a NaN target, or a filler's, adds
    nothing), so the figure is the whole validation split's, not a mean of batches."""

    def __init__(self, name: str = "ccc", **kwargs):
        super().__init__(name=name, **kwargs)
        # per dimension: n, sum y, sum p, sum y^2, sum p^2, sum y p
        self.sums = self.add_variable(shape=(6, 3), initializer="zeros", name="sums",
                                      aggregation="sum")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y = ops.cast(y_true, "float32")
        p = ops.cast(y_pred, "float32")
        w = ops.cast(ops.logical_not(ops.isnan(y)), "float32")
        y = ops.where(w > 0, y, 0.0)
        p = p * w
        self.sums.assign_add(ops.stack([ops.sum(w, 0), ops.sum(y, 0), ops.sum(p, 0),
                                        ops.sum(y * y, 0), ops.sum(p * p, 0),
                                        ops.sum(y * p, 0)]))

    def result(self):
        n, sy, sp, syy, spp, syp = (self.sums[i] for i in range(6))
        safe = ops.maximum(n, 1.0)
        my, mp = sy / safe, sp / safe
        vy, vp = syy / safe - my * my, spp / safe - mp * mp
        cov = syp / safe - my * mp
        ccc = ops.divide_no_nan(2 * cov, vy + vp + ops.square(my - mp))
        scored = ops.cast(n >= 2, "float32")
        # no dimension rated twice: NaN, never 0.0 (which --monitor val_ccc would rank)
        return ops.where(ops.sum(scored) > 0,
                         ops.divide_no_nan(ops.sum(ccc * scored), ops.sum(scored)),
                         float("nan"))

    def reset_state(self):
        self.sums.assign(ops.zeros_like(self.sums))
