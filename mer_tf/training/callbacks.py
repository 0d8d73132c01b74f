"""Callbacks a run uses beside Keras' own (TensorBoard, BackupAndRestore,
TerminateOnNaN): the resume-safe best checkpoint with early stopping, the
per-epoch history file, the validation confusion matrix as a TensorBoard image,
and the hparams dashboard entry."""

from __future__ import annotations

import keras
import numpy as np

from mer_tf import storage


class BestCheckpoint(keras.callbacks.Callback):
    """Keeps the weights of the best epoch on `monitor` and stops after `patience`
    epochs without improvement.

    Keras' ModelCheckpoint and EarlyStopping forget their best value when a
    killed run resumes through BackupAndRestore; this callback keeps it in
    `best.json` beside the weights, so a resumed run neither overwrites a better
    checkpoint nor restarts its patience.
    """

    def __init__(self, directory: str, monitor: str = "val_loss", patience: int = 10,
                 writer: bool = True):
        super().__init__()
        self.directory = directory
        self.writer = writer  # several workers: all decide alike, the chief alone writes
        self.monitor = monitor
        self.mode = "min" if monitor.endswith("loss") else "max"
        self.patience = int(patience)
        self.weights_path = storage.join(directory, "best.weights.h5")
        self.state_path = storage.join(directory, "best.json")
        if writer:
            storage.makedirs(directory)
        self.state = storage.read_json(self.state_path) if storage.exists(self.state_path) else None

    def _improved(self, value: float) -> bool:
        if self.state is None:
            return True
        best = self.state["value"]
        return value < best if self.mode == "min" else value > best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not np.isfinite(value):
            return
        if self._improved(float(value)):
            self.state = {"epoch": int(epoch), "value": float(value), "monitor": self.monitor}
            if self.writer:
                save_weights(self.model, self.weights_path)
                storage.write_json_atomic(self.state_path, self.state)
        elif epoch - self.state["epoch"] >= self.patience:
            self.model.stop_training = True

    @property
    def best_epoch(self) -> int | None:
        return None if self.state is None else self.state["epoch"]


class SharedBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore for several workers: every worker restores from the one
    backup folder (the weights are the same on all of them), the chief alone writes and
    removes it. (Keras' own lets every worker write the same files, which fails.)"""

    def __init__(self, backup_dir: str, writer: bool = True, **kwargs):
        super().__init__(backup_dir, **kwargs)
        self.writer = writer

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        epoch = getattr(self.model, "_initial_epoch", 0) or 0
        if epoch:
            import sys

            print(f"resumed from the backup: {epoch} epoch(s) done, continuing with epoch "
                  f"{epoch + 1}", file=sys.stderr)

    def _save_model(self):
        if self.writer:
            super()._save_model()

    def on_train_end(self, logs=None):
        if self.writer:
            super().on_train_end(logs)


class EpochHistory(keras.callbacks.Callback):
    """Appends each epoch's logs to a CSV file, rewritten atomically on any filesystem.

    Keras' CSVLogger fails on gs:// and other tf.io.gfile paths (its GFile has no
    `closed`). A resumed run rewrites the epochs it repeats, so the file lists
    every epoch once.
    """

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        import csv
        import io

        rows = []
        if storage.exists(self.path):
            rows = [r for r in csv.DictReader(io.StringIO(storage.read_text(self.path)))
                    if int(r["epoch"]) < epoch]
        row = {"epoch": epoch, **{k: float(v) for k, v in sorted((logs or {}).items())}}
        rows.append(row)
        fields = ["epoch"] + sorted({k for r in rows for k in r if k != "epoch"})
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        storage.write_text_atomic(self.path, buffer.getvalue())


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

        from mer_tf.training.plots import confusion_figure, figure_png

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
            tf.summary.image("confusion_matrix", image, step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()


def write_hparams(log_dir: str, hparams: dict, trial_id: str) -> None:
    """The run's entry in TensorBoard's hparams dashboard (its metrics are the
    epoch scalars Keras' TensorBoard callback writes under train/ and validation/)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        hp.hparams(hparams, trial_id=trial_id)
    writer.close()


def write_hparams_config(log_dir: str, hparams: dict) -> None:
    """Declares the hparams and metrics once for a group of runs (pairwise, ablation)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    declared = []
    for name, value in sorted(hparams.items()):
        declared.append(hp.HParam(name))
    metrics = [hp.Metric(tag, group=group, display_name=f"{tag.replace('epoch_', '')} ({group})")
               for group in ("train", "validation")
               for tag in ("epoch_loss", "epoch_accuracy", "epoch_ua")]
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        hp.hparams_config(hparams=declared, metrics=metrics)
    writer.close()
