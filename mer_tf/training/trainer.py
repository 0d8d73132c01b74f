"""The one training function every experiment goes through.

`run_experiment(config)` trains and evaluates every fold of the configured
protocol and leaves, in the run directory (names in `mer_tf.layout`): config.json;
per fold TensorBoard logs (loss, accuracy, UA per epoch, learning rate, the
validation confusion matrix image, the hparams entry), `backup/` while the fold is
unfinished (a killed run resumes from its last committed epoch),
`checkpoints/best.weights.h5` chosen on validation, `history.csv`,
`predictions.csv`, `confusion_matrix.png`, `curves.png`, the exported SavedModel
and, last, the fold's `metrics.json`; and, last of the run, `summary.json` with
every fold and, for LOSO, mean and standard deviation.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time

from mer_tf.config import MODALITIES, RunConfig
from mer_tf.evaluation.audit import (
    audit_fold,
    fixed_sentences_warning,
    leakage_line,
    shared_speakers_warning,
)
from mer_tf.evaluation.evaluate import FoldResult
from mer_tf.evaluation.summary import (
    pooled_predictions,
    run_hparams,
    summarise,
    summary_table,
    trial_id,
)
from mer_tf.io import faults, locking, storage
from mer_tf.layout import BACKBONES_KEY, FoldLayout, RunLayout
from mer_tf.training.run_folder import add_to_config, finished_summary, open_run_dir

log = logging.getLogger("mer_tf.training")
def run_experiment(config: RunConfig, progress: bool = True, overwrite: bool = False) -> dict:
    """Trains and evaluates every fold; returns (and writes) the run's summary.

    A run folder is never trained twice: a finished run (its summary.json written, last
    of all) is reported and left alone; an unfinished one completes what is missing:
    finished folds are kept, a fold whose training finished is evaluated and exported
    from its best checkpoint, the fold in progress resumes from its last commit; and
    `overwrite` starts afresh. The chief holds the folder's lock throughout.
    """
    from mer_tf.training import workers

    if not workers.is_chief():  # several workers: the others never write the run folder
        return _run(config, progress, overwrite)
    with locking.locked(config.run_dir, f"training {config.experiment}"):
        return _run(config, progress, overwrite)


def _run(config: RunConfig, progress: bool, overwrite: bool) -> dict:
    import keras

    from mer_tf.data.corpus import PreparedCorpus
    from mer_tf.training import workers
    from mer_tf.training.distribute import make_strategy, op_determinism, precision_policy
    from mer_tf.training.splits import SESSIONS, make_folds

    corpus = PreparedCorpus.open(config.data.data_dir)
    config = config.with_classes(corpus.classes)
    lacking = [m for m in config.model.modalities  # registered ones read what they need
               if m in MODALITIES and m not in corpus.modalities]
    if lacking:
        raise ValueError(f"{config.data.data_dir} has no {' or '.join(lacking)} (it holds "
                         f"{', '.join(corpus.modalities)}): train the towers it can feed, "
                         "e.g. python -m experiments.speech")
    if config.train.monitor == "val_ccc" and not config.model.predicts_dimensions:
        raise ValueError("--monitor val_ccc needs the dimensions' head (--targets both)")
    if config.model.targets == "dimensions":
        raise ValueError("--targets dimensions (arousal, valence and dominance without a "
                         "class head) is not built yet: train --targets both")
    if config.model.predicts_dimensions and not any(
            scale for scale in corpus.dimension_scales().values()):
        raise ValueError(f"{config.data.data_dir} has no arousal/valence/dominance ratings "
                         f"({corpus.manifest.get('corpus', 'iemocap')}): train --targets "
                         "classes")
    if workers.is_chief():
        open_run_dir(config, corpus, overwrite)
    # Every worker of a multi-worker run registers here, so what follows sees the folder
    # as the chief left it.
    strategy = make_strategy(config.train.strategy, config.train.tpu)
    run = RunLayout(config.run_dir)
    summary = finished_summary(config.run_dir)
    if summary is not None:
        print(f"{config.run_dir} holds a finished run: reported, not trained again "
              "(--overwrite trains it afresh)", file=sys.stderr)
        if progress:
            print(summary_table(summary), file=sys.stderr)
        return summary
    if config.train.cache_features and workers.task()[1] > 1:
        raise ValueError("--cache-features with several workers is not supported yet: build "
                         "the cache in one process first (the same flags without --strategy)")
    folds = make_folds(config.data, corpus)
    absent = sorted(set(SESSIONS) - set(corpus.sessions))
    if absent:
        print(f"note: {config.data.data_dir} holds no session {', '.join(map(str, absent))} "
              f"(see its manifest): {config.data.protocol} runs {len(folds)} fold(s) on "
              f"sessions {', '.join(map(str, corpus.sessions))}", file=sys.stderr)
    corpus.verify(config.data.verify, sessions={s for f in folds for s in
                                                (*f.train_sessions, *f.test_sessions)},
                  progress=progress)
    own = workers.own_folder(config.run_dir)  # where this worker writes
    mine = config if own == config.run_dir else dataclasses.replace(config, run_dir=own)
    if mine is not config:
        mine.save()
    keras.mixed_precision.set_global_policy(precision_policy(config.train.mixed_precision,
                                                             strategy))
    determinism = op_determinism(config.train.deterministic)
    determinism.__enter__()
    try:
        results = []
        for fold in folds:
            shared = run.fold(fold.name)
            if shared.is_finished():  # finished by an earlier, interrupted run of this folder
                results.append(FoldResult.from_dict(storage.read_json(shared.metrics)))
                storage.rmtree(shared.backup)  # a kill may have come before its removal
                print(f"\n== {config.experiment}: {fold.name} finished already",
                      file=sys.stderr)
                continue
            if progress:
                print(f"\n== {config.experiment}: {fold.describe()}", file=sys.stderr)
                block = audit_fold(corpus, fold)
                print(leakage_line(fold, block), file=sys.stderr)
                if "text" in config.model.modalities and fixed_sentences_warning(block):
                    print(fixed_sentences_warning(block), file=sys.stderr)
                if shared_speakers_warning(block):
                    print(shared_speakers_warning(block), file=sys.stderr)
            results.append(train_fold(mine, fold, RunLayout(own).fold(fold.name).root, corpus,
                                      strategy, progress, shared_directory=shared.root))
        faults.point("run:folds-done")
        summary = summarise(config, results, pooled_predictions(run, results))
        summary["sessions_missing"] = absent
        if workers.is_chief():
            storage.write_json_atomic(run.summary, summary)
    finally:
        determinism.__exit__(None, None, None)
        keras.mixed_precision.set_global_policy("float32")
        workers.remove_own_folder(own, config.run_dir)
    if progress:
        print(summary_table(summary), file=sys.stderr)
    return summary


def train_fold(config: RunConfig, fold, directory: str, corpus, strategy,
               progress: bool = True, shared_directory: str | None = None) -> FoldResult:
    """Builds, fits, evaluates and exports one fold; leaves its artefacts in `directory`.

    Training is skipped when the fold's last commit says it finished (a kill came during
    evaluation or export): the best checkpoint is evaluated and exported as it would have
    been. The backup is removed only once the fold's metrics.json, written last, is there.
    With several workers, `directory` is this worker's own (temporary, except on the
    chief) and `shared_directory` the run folder's: every worker resumes from its backup
    and loads its best checkpoint; only the chief writes them, and exports.
    """
    import keras

    from mer_tf.evaluation.calibration import calibrate
    from mer_tf.evaluation.evaluate import (
        evaluate,
        failure_reasons,
        write_fold_artefacts,
        write_predictions,
        write_reliability,
    )
    from mer_tf.training import callbacks as cb
    from mer_tf.training import workers
    from mer_tf.training.fold import build_fold, fit_fold, fold_datasets
    from mer_tf.training.progress import FoldProgress

    started = time.perf_counter()
    own, shared = FoldLayout(directory), FoldLayout(shared_directory or directory)
    chief = workers.is_chief()
    keras.utils.set_random_seed(config.train.seed)
    model_config, train_config = config.model, config.train
    built = build_fold(config, fold, corpus, strategy, directory, progress)
    _record_backbones(config, built.builder)
    tracker = FoldProgress(shared, train_config.monitor, train_config.patience,
                           writer=chief)
    commit = tracker.restore()  # before the datasets: training goes on at its epoch
    data = fold_datasets(config, fold, corpus, built, strategy, first_epoch=tracker.epochs_done)
    if data.class_weight and progress:
        print(f"{fold.name}: loss weights per class (--class-weight balanced): " + ", ".join(
            f"{model_config.class_names[c]} {w:.3f}" for c, w in data.class_weight.items()),
            file=sys.stderr)

    storage.makedirs(directory)
    if commit is not None and (commit["stopped"] or commit["epochs_done"] >= train_config.epochs):
        print(f"{fold.name}: training finished in an earlier run ({commit['epochs_done']} "
              "epochs); evaluating its best checkpoint", file=sys.stderr)
        if tracker.best_epoch is None:
            cb.load_weights(built.model, storage.join(shared.backup, commit["weights"]))
    else:
        cb.write_hparams(own.logs, run_hparams(config, fold, built.builder),
                         trial_id=trial_id(config, fold))
        callbacks = [
            cb.OutputNames(),  # first: the others read its names
            keras.callbacks.TerminateOnNaN(),
            cb.EpochTensorBoard(own.logs, write_graph=False, update_freq="epoch"),
            cb.ValidationConfusion(own.logs, model_config.class_names),
            tracker,  # last: its commit follows every other epoch-end write
        ]
        fit_fold(config, built, data, callbacks, progress)
    faults.point("fold:trained")
    history = history_columns(tracker.state["history"])
    workers.barrier(strategy)  # the chief's best checkpoint is written
    if tracker.best_epoch is not None:
        cb.load_weights(built.model, shared.best_weights)
    digest = workers.weights_sha256(built.model)
    index, count = workers.task()
    if count > 1:
        print(f"worker {index} of {count}: {fold.name} weights sha256 {digest}", file=sys.stderr)

    model = built.model
    scoring = dict(readers=built.readers, batch_size=train_config.batch_size,
                   class_names=model_config.class_names, feature_cache=built.feature_cache)
    validation = evaluate(model, corpus, fold.validation_split(), **scoring)
    test = evaluate(model, corpus, fold.test_split(), **scoring)
    calibration = calibrate(validation, test)  # T from validation; test only reported
    temperature = calibration["temperature"]
    write_predictions(own.predictions, test, model_config.class_names, temperature)
    failed = failure_reasons(test, history, model_config.class_names)
    for reason in failed:
        log.error("%s: this fold learned nothing usable: %s", fold.name, reason)
    write_fold_artefacts(own, model_config.class_names, test, history,
                         title=f"{trial_id(config, fold)} ({'+'.join(model_config.modalities)})",
                         best_epoch=tracker.best_epoch)
    write_reliability(own, test, temperature, title=trial_id(config, fold))
    print(f"{fold.name}: calibration {calibration['decision']}; test ECE "
          f"{calibration['test']['ece_before']:.3f} -> {calibration['test']['ece_after']:.3f}",
          file=sys.stderr)
    cb.write_test_results(own.logs, test["metrics"], model_config.class_names,
                          tracker.best_epoch, validation["metrics"],
                          storage.read_bytes(own.dimensions_png) if "dimensions" in test
                          else None)
    faults.point("fold:evaluated")
    if train_config.export and chief:
        from mer_tf.serving.export import export_run_model

        export_run_model(built.builder, config, directory, temperature=temperature)
        faults.point("fold:exported")
    class_weights = {model_config.class_names[c]: w for c, w in (data.class_weight or {}).items()}
    result = FoldResult(
        fold=fold.name, directory=shared.root, test=test["metrics"],
        validation=validation["metrics"], best_epoch=tracker.best_epoch,
        epochs_run=len(history.get("loss", [])), train_utterances=data.counts["train"],
        seconds=round(time.perf_counter() - started, 1), describe=fold.describe(), failed=failed,
        weights_sha256=digest, leakage=audit_fold(corpus, fold), class_weights=class_weights,
        calibration=calibration)
    storage.write_json_atomic(own.metrics, dataclasses.asdict(result))  # the fold is finished
    if chief:
        storage.rmtree(shared.backup)
    return result


def history_columns(rows: list[dict]) -> dict:
    """Committed history rows -> {metric: [per epoch]} (and "epoch")."""
    history = {}
    for row in rows:
        for key, value in row.items():
            if key != "epoch":
                history.setdefault(key, []).append(float(value))
    history["epoch"] = [int(r["epoch"]) for r in rows]
    return history


def _record_backbones(config: RunConfig, builder) -> None:
    """Adds to config.json what the backbones turned out to be (e.g. whether the speech
    SavedModel can switch its dropout on), which no flag says."""
    facts = builder.describe_backbones()
    if facts:
        add_to_config(config.run_dir, {BACKBONES_KEY: facts})
