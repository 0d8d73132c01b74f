"""Callbacks a run uses beside Keras' own (TensorBoard, TerminateOnNaN): the fold's
progress committed once per epoch (resume point, history, best checkpoint and early
stopping, safe against a kill at any moment), the validation confusion matrix as a
TensorBoard image, and the hparams dashboard entry."""

from __future__ import annotations

import sys

import keras
import numpy as np

from mer_tf import faults, storage


class FoldProgress(keras.callbacks.Callback):
    """A fold's training state, committed once per epoch so that a kill at any moment
    resumes to the history and best checkpoint an uninterrupted run would have.

    Each epoch end, in this order: the model's weights (with the optimizer's) go to
    `backup/epoch-N.weights.h5` (and, when `monitor` improved, `backup/best-N.weights.h5`);
    then `backup/commit-N.json` records them with their sha256, the history of every
    epoch so far, the best epoch and whether training stopped: that file is the commit.
    Only then are `history.csv`, `checkpoints/best.weights.h5` and `best.json` brought in
    line with it. A kill before the commit repeats the epoch; a kill after it is
    finished by the next start, which applies the commit again. The two newest commits
    are kept, so a damaged one (a truncated file, an empty JSON) falls back to the one
    before, with a note. Early stopping (`patience`) keeps its count across resumes.

    Keras' BackupAndRestore wrote its metadata in place after its weights, before the
    history and best checkpoint were written, and deleted itself at the end of `fit`:
    a kill after its write skipped an epoch that history and best never saw, and a kill
    during evaluation retrained every epoch. With several workers every one decides
    alike and restores from the same commit; `writer` (the chief) alone writes.
    """

    def __init__(self, fold, monitor: str = "val_loss", patience: int = 10,
                 writer: bool = True):
        super().__init__()
        self.fold = fold  # mer_tf.layout.FoldLayout
        self.writer = writer
        self.monitor = monitor
        self.mode = "min" if monitor.endswith("loss") else "max"
        self.patience = int(patience)
        self.state = {"epochs_done": 0, "history": [], "best": None, "stopped": False}
        self.notes: list[str] = []

    @property
    def best_epoch(self) -> int | None:
        best = self.state["best"]
        return None if best is None else best["epoch"]

    def restore(self) -> dict | None:
        """The newest intact commit, applied to the views and adopted; None if none."""
        commit, self.notes = latest_commit(self.fold)
        for note in self.notes:
            print(f"note: {note}", file=sys.stderr)
        if commit is not None:
            self.state = {k: commit[k] for k in ("epochs_done", "history", "best", "stopped")}
            if self.writer:
                apply_commit(self.fold, commit)
        return commit

    def on_train_begin(self, logs=None):
        commit = self.restore()
        if commit is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        load_weights(self.model, storage.join(self.fold.backup, commit["weights"]))
        self.model._initial_epoch = commit["epochs_done"]  # as Keras' BackupAndRestore does
        print(f"resumed from the backup: {commit['epochs_done']} epoch(s) done, continuing "
              f"with epoch {commit['epochs_done'] + 1}", file=sys.stderr)

    def _improved(self, value: float) -> bool:
        best = self.state["best"]
        if best is None:
            return True
        return value < best["value"] if self.mode == "min" else value > best["value"]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        n = epoch + 1  # epochs are counted from 1 wherever a person reads them
        row = {"epoch": n, **{k: float(v) for k, v in sorted(logs.items())}}
        history = [r for r in self.state["history"] if r["epoch"] < n] + [row]
        best = self.state["best"]
        value = logs.get(self.monitor)
        improved = value is not None and np.isfinite(value) and self._improved(float(value))
        if improved:
            best = {"epoch": n, "value": float(value), "monitor": self.monitor,
                    "weights": f"best-{n:04d}.weights.h5"}
        elif best is not None and n - best["epoch"] >= self.patience:
            self.model.stop_training = True
        stopped = bool(self.model.stop_training)  # patience, or TerminateOnNaN
        self.state = {"epochs_done": n, "history": history, "best": best, "stopped": stopped}
        if not self.writer:
            return
        backup = self.fold.backup
        storage.makedirs(backup)
        resume = f"epoch-{n:04d}.weights.h5"
        save_weights(self.model, storage.join(backup, resume))
        if improved:
            storage.copy(storage.join(backup, resume), storage.join(backup, best["weights"]))
        faults.point("epoch:backup-written")
        commit = {**self.state, "weights": resume, "sha256": _digests(backup, resume, best)}
        storage.write_json_atomic(storage.join(backup, f"commit-{n:04d}.json"), commit)
        faults.point("epoch:committed")
        apply_commit(self.fold, commit)
        faults.point("epoch:applied")
        _prune(backup)


def _digests(backup: str, resume: str, best: dict | None) -> dict:
    names = {resume} | ({best["weights"]} if best else set())
    return {name: storage.sha256_of(storage.join(backup, name)) for name in sorted(names)}


def _commits(backup: str) -> list[str]:
    if not storage.isdir(backup):
        return []
    return sorted((n for n in storage.listdir(backup)
                   if n.startswith("commit-") and n.endswith(".json")), reverse=True)


def latest_commit(fold) -> tuple[dict | None, list[str]]:
    """(the newest commit whose files are intact, notes on the damaged ones skipped)."""
    notes = []
    for name in _commits(fold.backup):
        path = storage.join(fold.backup, name)
        try:
            commit = storage.read_json(path)
            for key in ("epochs_done", "history", "best", "stopped", "weights", "sha256"):
                if key not in commit:
                    raise ValueError(f"no {key!r}")
            for file, digest in commit["sha256"].items():
                target = storage.join(fold.backup, file)
                if not storage.exists(target):
                    raise ValueError(f"{file} is missing")
                if storage.sha256_of(target) != digest:
                    raise ValueError(f"{file} does not match its checksum")
        except ValueError as error:  # JSONDecodeError is a ValueError
            notes.append(f"{path} is damaged ({error}); falling back to the commit before it")
            continue
        return commit, notes
    if notes:
        notes.append(f"no intact commit in {fold.backup}: the fold starts afresh")
    return None, notes


def apply_commit(fold, commit: dict) -> None:
    """Brings history.csv and the best checkpoint in line with a commit (idempotent)."""
    import csv
    import io

    best = commit["best"]
    if best is not None:
        state = {k: best[k] for k in ("epoch", "value", "monitor")}
        current = storage.read_json(fold.best_state) if storage.exists(fold.best_state) else None
        if current != state or not storage.exists(fold.best_weights):
            storage.makedirs(fold.checkpoints)
            storage.copy(storage.join(fold.backup, best["weights"]), fold.best_weights)
            storage.write_json_atomic(fold.best_state, state)
    rows = commit["history"]
    fields = ["epoch"] + sorted({k for r in rows for k in r if k != "epoch"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    storage.write_text_atomic(fold.history, buffer.getvalue())


def _prune(backup: str, keep: int = 2) -> None:
    """Keeps the newest `keep` commits and the weights they name; removes the rest."""
    commits = _commits(backup)
    needed = set(commits[:keep])
    for name in commits[:keep]:
        try:
            needed |= set(storage.read_json(storage.join(backup, name))["sha256"])
        except (ValueError, KeyError):
            pass
    for name in storage.listdir(backup):
        if name not in needed:
            storage.remove(storage.join(backup, name))


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
                       validation_matrix=None) -> None:
    """The fold's test WA, UA and macro F1 into its hparams entry (scalars beside it, at
    the best epoch), with the test confusion matrix of the best checkpoint and, when given,
    the validation one: TensorBoard's own confusion image is the last epoch's."""
    import tensorflow as tf

    from mer_tf.training.plots import confusion_figure, figure_png

    step = best_epoch or 0
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        for key in ("wa", "ua", "macro_f1"):
            tf.summary.scalar(f"test_{key}", metrics[key], step=step)
        images = {"test_confusion_matrix": (metrics["confusion_matrix"], "test")}
        if validation_matrix is not None:
            images["best_epoch_validation_confusion_matrix"] = (validation_matrix, "validation")
        for tag, (matrix, split) in images.items():
            png = figure_png(confusion_figure(matrix, class_names,
                                              f"{split}, best epoch {best_epoch}"))
            tf.summary.image(tag, tf.expand_dims(tf.io.decode_png(png, channels=4), 0),
                             step=step)
    writer.close()


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
    metrics += [hp.Metric(f"test_{key}", display_name=f"test {key.replace('_', ' ')}")
                for key in ("wa", "ua", "macro_f1")]
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        hp.hparams_config(hparams=declared, metrics=metrics)
    writer.close()
