"""Evaluation metrics: accuracy (WA), unweighted accuracy (UA, mean per-class
recall), macro F1 and the confusion matrix, from scikit-learn; and a streaming
Keras metric for UA so validation UA is logged every epoch without a second pass."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def classification_metrics(labels, predictions, class_names) -> dict:
    from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix,
                                 f1_score, recall_score)

    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    classes = list(range(len(class_names)))
    present = sorted(set(labels.tolist()))
    recall = recall_score(labels, predictions, labels=classes, average=None, zero_division=0)
    return {
        "wa": float(accuracy_score(labels, predictions)),
        # Mean recall over the classes present in the labels (sklearn's balanced accuracy).
        "ua": float(balanced_accuracy_score(labels, predictions)) if present else 0.0,
        "macro_f1": float(f1_score(labels, predictions, labels=present, average="macro",
                                   zero_division=0)),
        "per_class_recall": {name: float(r) for name, r in zip(class_names, recall)},
        "support": {name: int((labels == i).sum()) for i, name in enumerate(class_names)},
        "confusion_matrix": confusion_matrix(labels, predictions, labels=classes).tolist(),
        "utterances": int(labels.size),
    }


@keras.saving.register_keras_serializable(package="mer_tf")
class UnweightedAccuracy(keras.metrics.Metric):
    """Streaming UA: mean recall over classes seen, from an accumulated confusion matrix."""

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
        if weights is not None:
            true_hot = true_hot * ops.cast(ops.expand_dims(weights, -1), true_hot.dtype)
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
