"""The one training function every experiment goes through.

`run_experiment(config)` trains and evaluates every fold of the configured
protocol and leaves, in the run directory: config.json; per fold TensorBoard
logs (loss, accuracy, UA per epoch, learning rate, the validation confusion
matrix image, the hparams entry), `backup/` for BackupAndRestore (a killed run
resumes from its last epoch), `checkpoints/best.weights.h5` chosen on
validation, `history.csv`, `predictions.csv`, `metrics.json`,
`confusion_matrix.png`, `curves.png` and the exported SavedModel; and at the
top a metrics.json with every fold and, for LOSO, mean and standard deviation.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time

from mer_tf import storage
from mer_tf.training.config import RunConfig
from mer_tf.training.evaluation import FoldResult
from mer_tf.training.summary import run_hparams, summarise, summary_table, trial_id

log = logging.getLogger("mer_tf.training")
BACKBONES_KEY = "backbones"  # config.json: what the loaded backbones turned out to be


def _open_run_dir(config: RunConfig, overwrite: bool = False) -> None:
    path = storage.join(config.run_dir, "config.json")
    if overwrite and storage.exists(path):
        print(f"--overwrite: removing the run in {config.run_dir}", file=sys.stderr)
        storage.rmtree(config.run_dir)
    if storage.exists(path):
        previous = storage.read_json(path)
        previous.pop(BACKBONES_KEY, None)  # facts of the loaded backbones, not settings
        # Read back through the dataclasses: settings added since that run was written
        # take their defaults, so an older run folder still resumes.
        previous = json.loads(storage.to_json(RunConfig.from_dict(previous).to_dict()))
        if previous != json.loads(storage.to_json(config.to_dict())):  # tuples are lists in JSON
            raise ValueError(f"{config.run_dir} holds a run with another configuration; "
                             "use a new --run-dir (same settings resume a killed run)")
        if not storage.exists(storage.join(config.run_dir, "metrics.json")):
            print(f"resuming the run in {config.run_dir}", file=sys.stderr)
        return
    config.save()


def run_experiment(config: RunConfig, progress: bool = True, overwrite: bool = False) -> dict:
    """Trains and evaluates every fold; returns (and writes) the run's metrics.

    A run folder is never trained twice: a finished run (its metrics.json written) is
    reported and left alone, an unfinished one resumes (finished folds are kept, the
    fold in progress continues from its last backup), and `overwrite` starts afresh.
    """
    import keras

    from mer_tf.data.corpus import PreparedCorpus
    from mer_tf.training import workers
    from mer_tf.training.distribute import make_strategy, precision_policy
    from mer_tf.training.splits import make_folds

    if workers.is_chief():  # several workers: the others never write the run folder
        _open_run_dir(config, overwrite)
    # Every worker of a multi-worker run registers here, so what follows sees the folder
    # as the chief left it.
    strategy = make_strategy(config.train.strategy, config.train.tpu)
    finished = storage.join(config.run_dir, "metrics.json")
    if storage.exists(finished):
        summary = storage.read_json(finished)
        print(f"{config.run_dir} holds a finished run: reported, not trained again "
              "(--overwrite trains it afresh)", file=sys.stderr)
        if progress:
            print(summary_table(summary), file=sys.stderr)
        return summary
    if config.train.cache_features and workers.task()[1] > 1:
        raise ValueError("--cache-features with several workers is not supported yet: build "
                         "the cache in one process first (the same flags without --strategy)")
    corpus = PreparedCorpus.open(config.data.data_dir)
    if corpus.classes != tuple(config.model.class_names):
        raise ValueError(f"the data's classes {list(corpus.classes)} differ from the model's "
                         f"{list(config.model.class_names)}")
    own = workers.own_folder(config.run_dir)  # where this worker writes
    mine = config if own == config.run_dir else dataclasses.replace(config, run_dir=own)
    if mine is not config:
        mine.save()
    keras.mixed_precision.set_global_policy(precision_policy(config.train.mixed_precision,
                                                             strategy))
    try:
        folds = make_folds(config.data, corpus)
        results = []
        for fold in folds:
            def folder(root):
                return root if config.data.protocol == "session5" else storage.join(root,
                                                                                    fold.name)

            done = storage.join(folder(config.run_dir), "fold_metrics.json")
            if storage.exists(done):  # finished by an earlier, interrupted run of this folder
                results.append(FoldResult(**storage.read_json(done)))
                print(f"\n== {config.experiment}: {fold.name} finished already",
                      file=sys.stderr)
                continue
            if progress:
                print(f"\n== {config.experiment}: {fold.describe()}", file=sys.stderr)
            results.append(train_fold(mine, fold, folder(own), corpus, strategy, progress,
                                      shared_directory=folder(config.run_dir)))
        summary = summarise(config, results)
        storage.write_json_atomic(storage.join(own, "metrics.json"), summary)
    finally:
        keras.mixed_precision.set_global_policy("float32")
        workers.remove_own_folder(own, config.run_dir)
    if progress:
        print(summary_table(summary), file=sys.stderr)
    return summary


def train_fold(config: RunConfig, fold, directory: str, corpus, strategy,
               progress: bool = True, shared_directory: str | None = None) -> FoldResult:
    """Builds, fits, evaluates and exports one fold; leaves its artefacts in `directory`.

    With several workers, `directory` is this worker's own (temporary, except on the
    chief) and `shared_directory` the run folder's: every worker resumes from its backup
    and loads its best checkpoint; only the chief writes them, and exports.
    """
    import keras

    from mer_tf.training import callbacks as cb
    from mer_tf.training import workers
    from mer_tf.training.evaluation import (evaluate, failure_reasons, read_history,
                                            write_fold_artefacts)
    from mer_tf.training.fold import build_fold, fit_fold, fold_datasets

    started = time.perf_counter()
    shared = shared_directory or directory
    chief = workers.is_chief()
    keras.utils.set_random_seed(config.train.seed)
    model_config, train_config = config.model, config.train
    built = build_fold(config, fold, corpus, strategy, directory, progress)
    _record_backbones(config, built.builder)
    data = fold_datasets(config, fold, corpus, built, strategy)

    logs_dir = storage.join(directory, "logs")
    storage.makedirs(directory)
    cb.write_hparams(logs_dir, run_hparams(config, fold, built.builder),
                     trial_id=trial_id(config, fold))
    best = cb.BestCheckpoint(storage.join(shared, "checkpoints"), train_config.monitor,
                             train_config.patience, writer=chief)
    callbacks = [
        cb.SharedBackupAndRestore(storage.join(shared, "backup"), writer=chief,
                                  double_checkpoint=True),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.TensorBoard(logs_dir, write_graph=False, update_freq="epoch"),
        cb.ValidationConfusion(logs_dir, model_config.class_names),
        cb.EpochHistory(storage.join(directory, "history.csv")),
        best,
    ]
    fit_fold(config, built, data, callbacks, progress)
    history = read_history(storage.join(directory, "history.csv"))
    workers.barrier(strategy)  # the chief's best checkpoint is written
    if best.best_epoch is not None:
        cb.load_weights(built.model, best.weights_path)
    digest = workers.weights_sha256(built.model)
    index, count = workers.task()
    if count > 1:
        print(f"worker {index} of {count}: {fold.name} weights sha256 {digest}", file=sys.stderr)

    model = built.model
    scoring = dict(readers=built.readers, batch_size=train_config.batch_size,
                   class_names=model_config.class_names, feature_cache=built.feature_cache)
    validation = evaluate(model, corpus, fold.validation_split(), **scoring)
    test = evaluate(model, corpus, fold.test_split(), **scoring,
                    predictions_path=storage.join(directory, "predictions.csv"))
    failed = failure_reasons(test, history, model_config.class_names)
    for reason in failed:
        log.error("%s: this fold learned nothing usable: %s", fold.name, reason)
    write_fold_artefacts(directory, model_config.class_names, test, history)
    if train_config.export and chief:
        from mer_tf.training.export import export_run_model

        export_run_model(built.builder, config, directory)
    result = FoldResult(
        fold=fold.name, directory=shared, test=test["metrics"],
        validation=validation["metrics"], best_epoch=best.best_epoch,
        epochs_run=len(history.get("loss", [])), train_utterances=data.counts["train"],
        seconds=round(time.perf_counter() - started, 1), describe=fold.describe(), failed=failed,
        weights_sha256=digest)
    storage.write_json_atomic(storage.join(directory, "fold_metrics.json"),
                              dataclasses.asdict(result))
    return result


def _record_backbones(config: RunConfig, builder) -> None:
    """Adds to config.json what the backbones turned out to be (e.g. whether the speech
    SavedModel can switch its dropout on), which no flag says."""
    facts = builder.describe_backbones()
    if facts:
        path = storage.join(config.run_dir, "config.json")
        storage.write_json_atomic(path, {**storage.read_json(path), BACKBONES_KEY: facts})
