"""Where everything of a run lives: one home for the names of a run folder and its folds.

    run = RunLayout("runs/concat/20261203-120000")
    run.config, run.summary                  # config.json, summary.json (written last)
    fold = run.fold("session5")              # session5: the run folder itself; LOSO: fold3/
    fold.metrics, fold.best_weights, fold.saved_model, fold.backup …
    run.folds()                              # the fold layouts that exist, in fold order

A fold's `metrics.json` is written last of the fold (after its export) and a run's
`summary.json` last of the run, so each says "finished" and nothing else does.
"""

from __future__ import annotations

import dataclasses
import re

from mer_tf.io import storage

SESSION5 = "session5"
OFFICIAL = "official"  # the corpus's own train/development/test split: one fold
SINGLE_FOLD = (SESSION5, OFFICIAL)  # protocols whose one fold is the run folder itself
LOSO_FOLD = re.compile(r"^fold\d+$")
SAVED_MODEL_FILE = "saved_model.pb"  # TensorFlow's; a SavedModel folder is complete with it
INFO_FILE = "mer_tf.json"  # beside it: what serving needs to know (towers, labels, lengths)
COMMIT = re.compile(r"^commit-\d{4}\.json$")


BACKBONES_KEY = "backbones"  # config.json: what the loaded backbones turned out to be
CORPUS_KEY = "corpus"  # config.json: a digest of the prepared shards the run read

def fold_name(test_session: int) -> str:
    """A LOSO fold's folder, named after its test session."""
    return f"fold{test_session}"


def epoch_weights_name(epoch: int) -> str:  # in backup/: the weights to resume from
    return f"epoch-{epoch:04d}.weights.h5"


def best_weights_name(epoch: int) -> str:  # in backup/: the best epoch's weights so far
    return f"best-{epoch:04d}.weights.h5"


def commit_name(epoch: int) -> str:  # in backup/: the epoch's commit, written after them
    return f"commit-{epoch:04d}.json"


@dataclasses.dataclass(frozen=True)
class FoldLayout:
    """The files of one fold (under session5, in the run folder itself)."""

    root: str

    def _path(self, *parts: str) -> str:
        return storage.join(self.root, *parts)

    @property
    def metrics(self) -> str:  # the fold's results; written last: the fold is finished
        return self._path("metrics.json")

    @property
    def history(self) -> str:
        return self._path("history.csv")

    @property
    def predictions(self) -> str:
        return self._path("predictions.csv")

    @property
    def confusion_png(self) -> str:
        return self._path("confusion_matrix.png")

    @property
    def curves_png(self) -> str:
        return self._path("curves.png")

    @property
    def dimensions_png(self) -> str:  # --targets both: prediction against annotation
        return self._path("dimensions.png")

    @property
    def reliability_png(self) -> str:  # calibration on the test split, before and after
        return self._path("reliability.png")

    @property
    def logs(self) -> str:
        return self._path("logs")

    @property
    def backup(self) -> str:  # resume points, kept until the fold is finished
        return self._path("backup")

    @property
    def checkpoints(self) -> str:
        return self._path("checkpoints")

    @property
    def best_weights(self) -> str:
        return self._path("checkpoints", "best.weights.h5")

    @property
    def best_state(self) -> str:
        return self._path("checkpoints", "best.json")

    @property
    def saved_model(self) -> str:
        return self._path("saved_model")

    def statistics(self, modality: str) -> str:  # a tower's training-split statistics
        return self._path(f"{modality}_statistics.json")

    def is_finished(self) -> bool:
        return storage.exists(self.metrics)

    def has_best_weights(self) -> bool:
        return storage.exists(self.best_weights)

    def has_saved_model(self) -> bool:
        return storage.exists(storage.join(self.saved_model, SAVED_MODEL_FILE))


@dataclasses.dataclass(frozen=True)
class RunLayout:
    """The files of a run folder, and its folds."""

    root: str

    @property
    def config(self) -> str:
        return storage.join(self.root, "config.json")

    @property
    def summary(self) -> str:  # the run's figures over its folds; written last
        return storage.join(self.root, "summary.json")

    @property
    def group_summary(self) -> str:  # a group folder (pairwise, ablation): its runs' table
        return storage.join(self.root, "summary.json")

    @property
    def group_table(self) -> str:
        return storage.join(self.root, "summary.md")

    @property
    def lock(self) -> str:
        return storage.join(self.root, ".lock")

    @property
    def seeds_summary(self) -> str:  # --seeds: every seed's figures and their spread
        return storage.join(self.root, "seeds.json")

    def seed(self, seed: int) -> "RunLayout":  # --seeds: one run folder per seed
        return RunLayout(storage.join(self.root, f"seed{seed}"))

    def fold(self, name: str) -> FoldLayout:
        return FoldLayout(self.root if name in SINGLE_FOLD else storage.join(self.root, name))

    def fold_names(self) -> list[str]:
        """The folds this run folder holds, in order: `session5` (the folder itself) or
        LOSO's `foldN` folders as they are on disk, so a run of any folds is found."""
        if storage.exists(self.config):
            protocol = storage.read_json(self.config).get("data", {}).get("protocol")
            if protocol in SINGLE_FOLD:
                return [protocol]
        if not storage.isdir(self.root):
            return []
        loso = [n for n in storage.listdir(self.root) if LOSO_FOLD.match(n)
                and storage.isdir(storage.join(self.root, n))]
        return sorted(loso, key=lambda n: int(n[4:]))

    def runs_inside(self) -> list[str]:
        """Names of the run folders directly inside this one (an experiment's folder such as
        `runs/concat` holds one per timestamp), oldest first: timestamps sort in time."""
        if not storage.isdir(self.root):
            return []
        return sorted(n for n in storage.listdir(self.root)
                      if storage.exists(RunLayout(storage.join(self.root, n)).config))

    def saved_models(self, fold: str | None = None) -> list[str]:
        """The SavedModel of a session5 run, of the named LOSO fold, or of every LOSO fold
        that exported one; a FileNotFoundError saying what the folder is otherwise (an
        experiment's folder names its runs and the latest)."""
        folds = [self.fold(fold)] if fold else self.folds()
        found = [layout.saved_model for layout in folds if layout.has_saved_model()]
        if found:
            return found
        inside = [] if folds else self.runs_inside()
        if inside:  # an experiment's folder (runs/concat), not one of its runs
            listed = ", ".join(inside[-3:]) + (f" and {len(inside) - 3} more"
                                               if len(inside) > 3 else "")
            latest = storage.join(self.root, inside[-1])
            raise FileNotFoundError(
                f"{self.root} is an experiment's folder, not a run: it holds {len(inside)} "
                f"run(s) ({listed}); the latest is {latest}: --run {latest}")
        looked = ", ".join(f.saved_model for f in folds) or f"{self.root} holds no fold"
        raise FileNotFoundError(f"no exported SavedModel under {self.root} (looked for "
                                f"{looked}); was the run made with --no-export, or is it "
                                "unfinished?")

    def folds(self) -> list[FoldLayout]:
        return [self.fold(name) for name in self.fold_names()]

    def is_finished(self) -> bool:
        return storage.exists(self.summary)
