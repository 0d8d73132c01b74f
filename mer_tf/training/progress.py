"""A fold's training state, committed once per epoch (`FoldProgress`): what lets any kill
resume to the same history, best checkpoint and, with `--deterministic`, the same bits."""

from __future__ import annotations

import random
import sys

import keras
import numpy as np

from mer_tf.io import faults, storage
from mer_tf.layout import COMMIT, best_weights_name, commit_name, epoch_weights_name
from mer_tf.training.callbacks import load_weights, save_weights


class FoldProgress(keras.callbacks.Callback):
    """A fold's training state, committed once per epoch so that a kill at any moment
    resumes to the history and best checkpoint an uninterrupted run would have.

    Each epoch end, in this order: the model's weights (with the optimizer's) go to
    `backup/epoch-N.weights.h5` (and, when `monitor` improved, `backup/best-N.weights.h5`);
    then `backup/commit-N.json` records them with their sha256, the history of every
    epoch so far, the best epoch, whether training stopped and the random state the next
    epoch draws from (`random_state`): that file is the commit.
    Only then are `history.csv`, `checkpoints/best.weights.h5` and `best.json` brought in
    line with it. A kill before the commit repeats the epoch; a kill after it is
    finished by the next start, which applies the commit again. The two newest commits
    are kept, so a damaged one (a truncated file, an empty JSON) falls back to the one
    before, with a note. Early stopping (`patience`) keeps its count across resumes.

    Not Keras' BackupAndRestore: it writes its metadata in place after its weights, before
    the history and best checkpoint, and deletes itself at the end of `fit`, so a kill
    after its write skips an epoch that history and best never saw, and a kill during
    evaluation retrains every epoch. With several workers every one decides
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
        self.commit: dict | None = None  # the commit adopted by `restore`
        self._restored = False

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
        self.commit, self._restored = commit, True
        return commit

    @property
    def epochs_done(self) -> int:
        """Epochs the adopted commit holds (0 before any): where training goes on."""
        return self.state["epochs_done"]

    def on_train_begin(self, logs=None):
        # The trainer restores before it makes the datasets, whose first epoch this decides.
        commit = self.commit if self._restored else self.restore()
        if commit is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        load_weights(self.model, storage.join(self.fold.backup, commit["weights"]))
        set_random_state(self.model, commit["random"])
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
                    "weights": best_weights_name(n)}
        elif best is not None and n - best["epoch"] >= self.patience:
            self.model.stop_training = True
        stopped = bool(self.model.stop_training)  # patience, or TerminateOnNaN
        self.state = {"epochs_done": n, "history": history, "best": best, "stopped": stopped}
        if not self.writer:
            return
        backup = self.fold.backup
        storage.makedirs(backup)
        resume = epoch_weights_name(n)
        save_weights(self.model, storage.join(backup, resume))
        if improved:
            storage.copy(storage.join(backup, resume), storage.join(backup, best["weights"]))
        faults.point("epoch:backup-written")
        commit = {**self.state, "weights": resume, "sha256": _digests(backup, resume, best),
                  "random": random_state(self.model)}
        storage.write_json_atomic(storage.join(backup, commit_name(n)), commit)
        faults.point("epoch:committed")
        apply_commit(self.fold, commit)
        faults.point("epoch:applied")
        _prune(backup)


def _seed_states(model) -> list:
    """The model's variables its weights file does not hold: the states of its layers'
    `SeedGenerator`s (dropout, modality dropout), in the model's own order."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def random_state(model) -> dict:
    """Everything the next epoch's randomness depends on that the weights file lacks: the
    Keras seed generators' states (every dropout of the model draws from one), numpy's
    and Python's global generators. The shuffle needs nothing: each epoch's order is a
    function of the run's seed and the epoch (`mer_tf.data.pipeline.epoch_seed`). Not
    here: TensorFlow's stateful random kernels, whose position no API reads; nothing
    of mer_tf draws from them (a speech SavedModel whose `__call__` takes `training`
    does: its dropout continues the same schedule on a resume, not the same bits)."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    python = random.getstate()
    return {
        "keras_seed_generators": [np.asarray(v).tolist() for v in _seed_states(model)],
        "numpy": {"kind": kind, "keys": keys.tolist(), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(gauss)},
        "python": [python[0], list(python[1]), python[2]],
    }


def set_random_state(model, state: dict) -> None:
    """Puts back what `random_state` took (the same model, built the same way)."""
    variables = _seed_states(model)
    saved = state["keras_seed_generators"]
    if len(saved) != len(variables):
        raise ValueError(f"the commit holds {len(saved)} seed generator states, the model "
                         f"has {len(variables)}: it was built differently")
    for variable, value in zip(variables, saved):
        variable.assign(np.asarray(value, dtype=variable.dtype))
    numpy = state["numpy"]
    np.random.set_state((numpy["kind"], np.asarray(numpy["keys"], np.uint32),
                         numpy["position"], numpy["has_gauss"], numpy["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _digests(backup: str, resume: str, best: dict | None) -> dict:
    names = {resume} | ({best["weights"]} if best else set())
    return {name: storage.sha256_of(storage.join(backup, name)) for name in sorted(names)}


def _commits(backup: str) -> list[str]:
    if not storage.isdir(backup):
        return []
    return sorted((n for n in storage.listdir(backup) if COMMIT.match(n)), reverse=True)


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
