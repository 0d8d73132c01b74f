"""Callbacks a run uses beside Keras' own (TerminateOnNaN) and `FoldProgress`
(`mer_tf.training.progress`): TensorBoard with epochs from 1, the validation confusion
matrix as a TensorBoard image, the hparams dashboard entry with the test figures, and
weights files written atomically on any filesystem."""

from __future__ import annotations

import keras
import numpy as np

from mer_tf.io import storage


def save_weights(model, path: str) -> None:
    """Writes `.weights.h5` atomically (temporary name, then rename); works on gs://."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as local:
        copy = os.path.join(local, "weights.weights.h5")
        model.save_weights(copy)  # h5py writes local files only
        with open(copy, "rb") as f:
            storage.write_bytes_atomic(path, f.read())


def load_weights(model, path: str) -> None:
    """Loads `.weights.h5` from any filesystem (copied locally first when remote)."""
    if not storage.is_remote(path):
        model.load_weights(path)
        return
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as local:
        copy = os.path.join(local, "weights.weights.h5")
        with open(copy, "wb") as f:
            f.write(storage.read_bytes(path))
        model.load_weights(copy)


class OutputNames(keras.callbacks.Callback):
    """A model with a "dimensions" output logs `classes_ua`, `dimensions_ccc`, …: each also
    under the name a classes-only model logs (`ua`, `accuracy`) and `ccc`, so `--monitor`,
    the curves and the committed history read one set of names whatever the targets."""

    ALIASES = (("classes_", ""), ("dimensions_ccc", "ccc"))

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for key in list(logs):
            for prefix in ("", "val_"):
                for long, short in self.ALIASES:
                    if key.startswith(prefix + long) and not key.endswith("_loss"):
                        logs.setdefault(prefix + short + key[len(prefix + long):], logs[key])


class ValidationConfusion(keras.callbacks.Callback):
    """Logs the validation confusion matrix (from the streaming UA metric) as an image.

    After each epoch's validation pass the metric still holds the validation
    counts, so no second pass over the data is needed.
    """

    def __init__(self, log_dir: str, class_names):
        super().__init__()
        self.log_dir = storage.join(log_dir, "validation")
        self.class_names = list(class_names)
        self._writer = None

    def _metric(self):
        for metric in self.model.metrics:
            for inner in getattr(metric, "metrics", [metric]):
                if getattr(inner, "name", "") == "ua" and hasattr(inner, "confusion"):
                    return inner
        return None

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        from mer_tf.evaluation.plots import confusion_figure, figure_png

        metric = self._metric()
        if metric is None or "val_loss" not in (logs or {}):
            return
        matrix = np.rint(keras.ops.convert_to_numpy(metric.confusion)).astype(int)
        png = figure_png(confusion_figure(matrix, self.class_names,
                                          f"validation, epoch {epoch + 1}"))
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            image = tf.expand_dims(tf.io.decode_png(png, channels=4), 0)
            tf.summary.image("confusion_matrix", image, step=epoch + 1)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard with epochs counted from 1, as history.csv and best.json count
    them (Keras' own steps start at 0)."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch + 1, logs)


def write_test_results(log_dir: str, metrics: dict, class_names, best_epoch: int | None,
                       validation: dict | None = None,
                       dimensions_png: bytes | None = None) -> None:
    """The fold's test WA, UA and macro F1 and its best checkpoint's validation ones into
    its hparams entry (scalars at the best epoch), with the test confusion matrix of the
    best checkpoint and the validation one: TensorBoard's own confusion image and epoch
    scalars are the last epoch's, which early stopping leaves `patience` epochs past it."""
    import tensorflow as tf

    from mer_tf.evaluation.plots import confusion_figure, figure_png

    step = best_epoch or 0
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        for key in FIGURES:
            tf.summary.scalar(f"test_{key}", metrics[key], step=step)
            if validation is not None:
                tf.summary.scalar(f"best_validation_{key}", validation[key], step=step)
        images = {"test_confusion_matrix": (metrics["confusion_matrix"], "test")}
        if validation is not None:
            images["best_epoch_validation_confusion_matrix"] = (validation["confusion_matrix"],
                                                                "validation")
        for tag, (matrix, split) in images.items():
            png = figure_png(confusion_figure(matrix, class_names,
                                              f"{split}, best epoch {best_epoch}"))
            tf.summary.image(tag, tf.expand_dims(tf.io.decode_png(png, channels=4), 0),
                             step=step)
        for name, f in metrics.get("dimensions", {}).items():  # --targets both
            if isinstance(f, dict) and f.get("ccc") is not None:
                tf.summary.scalar(f"test_ccc_{name}", f["ccc"], step=step)
        if dimensions_png is not None:
            tf.summary.image("test_dimensions", tf.expand_dims(
                tf.io.decode_png(dimensions_png, channels=4), 0), step=step)
    writer.close()


FIGURES = ("ua", "wa", "macro_f1")


def hparams_metrics():
    """The hparams dashboard's columns, in order: the test figures and the best epoch's
    validation ones first (the figures a run is judged by), then the epoch scalars."""
    from tensorboard.plugins.hparams import api as hp

    metrics = [hp.Metric(f"test_{key}", display_name=f"test {key.replace('_', ' ')}")
               for key in FIGURES]
    metrics += [hp.Metric(f"best_validation_{key}",
                          display_name=f"validation {key.replace('_', ' ')} (best epoch)")
                for key in FIGURES]
    metrics += [hp.Metric(tag, group=group, display_name=f"{tag.replace('epoch_', '')} "
                                                         f"({group}, last epoch)")
                for group in ("train", "validation")
                for tag in ("epoch_loss", "epoch_accuracy", "epoch_ua")]
    return metrics


def write_hparams(log_dir: str, hparams: dict, trial_id: str) -> None:
    """The run's entry in TensorBoard's hparams dashboard, with the dashboard's columns
    declared (`hparams_metrics`): inferred, they put the last epoch's figures first and
    left the test figures unchecked."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        hp.hparams_config(hparams=[hp.HParam(name) for name in sorted(hparams)],
                          metrics=hparams_metrics())
        hp.hparams(hparams, trial_id=trial_id)
    writer.close()


def write_hparams_config(log_dir: str, hparams: dict) -> None:
    """Declares the hparams and metrics once for a group of runs (pairwise, ablation)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        hp.hparams_config(hparams=[hp.HParam(name) for name in sorted(hparams)],
                          metrics=hparams_metrics())
    writer.close()
