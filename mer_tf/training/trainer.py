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

import csv
import dataclasses
import io as pyio
import json
import logging
import sys
import time

import numpy as np

from mer_tf import io
from mer_tf.training.config import RunConfig

log = logging.getLogger("mer_tf.training")
BACKBONES_KEY = "backbones"  # config.json: what the loaded backbones turned out to be


@dataclasses.dataclass
class FoldResult:
    fold: str
    directory: str
    test: dict
    validation: dict
    best_epoch: int | None
    epochs_run: int
    train_utterances: int
    seconds: float
    describe: str
    failed: list = dataclasses.field(default_factory=list)  # why it learned nothing, if so


def _open_run_dir(config: RunConfig, overwrite: bool = False) -> None:
    path = io.join(config.run_dir, "config.json")
    if overwrite and io.exists(path):
        print(f"--overwrite: removing the run in {config.run_dir}", file=sys.stderr)
        io.rmtree(config.run_dir)
    if io.exists(path):
        previous = io.read_json(path)
        previous.pop(BACKBONES_KEY, None)  # facts of the loaded backbones, not settings
        if previous != json.loads(io.to_json(config.to_dict())):  # tuples are lists in JSON
            raise ValueError(f"{config.run_dir} holds a run with another configuration; "
                             "use a new --run-dir (same settings resume a killed run)")
        if not io.exists(io.join(config.run_dir, "metrics.json")):
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

    from mer_tf.data.pipeline import read_metadata
    from mer_tf.data.prepare import read_manifest
    from mer_tf.training.distribute import make_strategy, precision_policy
    from mer_tf.training.splits import make_folds

    _open_run_dir(config, overwrite)
    finished = io.join(config.run_dir, "metrics.json")
    if io.exists(finished):
        summary = io.read_json(finished)
        print(f"{config.run_dir} holds a finished run: reported, not trained again "
              "(--overwrite trains it afresh)", file=sys.stderr)
        if progress:
            print(summary_table(summary), file=sys.stderr)
        return summary
    manifest = read_manifest(config.data.data_dir)
    if tuple(manifest["classes"]) != tuple(config.model.class_names):
        raise ValueError(f"the data's classes {manifest['classes']} differ from the model's "
                         f"{list(config.model.class_names)}")
    strategy = make_strategy(config.train.strategy, config.train.tpu)
    keras.mixed_precision.set_global_policy(precision_policy(config.train.mixed_precision,
                                                             strategy))
    try:
        folds = make_folds(config.data, manifest,
                           lambda sessions: read_metadata(config.data.data_dir, manifest, sessions))
        results = []
        for fold in folds:
            directory = (config.run_dir if config.data.protocol == "session5"
                         else io.join(config.run_dir, fold.name))
            done = io.join(directory, "fold_metrics.json")
            if io.exists(done):  # finished by an earlier, interrupted run of this folder
                results.append(FoldResult(**io.read_json(done)))
                print(f"\n== {config.experiment}: {fold.name} finished already",
                      file=sys.stderr)
                continue
            if progress:
                print(f"\n== {config.experiment}: {fold.describe()}", file=sys.stderr)
            results.append(train_fold(config, fold, directory, manifest, strategy, progress))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    summary = _summarise(config, results)
    io.write_json_atomic(io.join(config.run_dir, "metrics.json"), summary)
    if progress:
        print(summary_table(summary), file=sys.stderr)
    return summary


def train_fold(config: RunConfig, fold, directory: str, manifest: dict, strategy,
               progress: bool = True) -> FoldResult:
    import keras

    from mer_tf.data.pipeline import (input_spec, mocap_input_shape, mocap_only_spec,
                                      mocap_statistics)
    from mer_tf.models.fusion import ModelBuilder
    from mer_tf.models.text import load_text_preprocessor
    from mer_tf.training import callbacks as cb
    from mer_tf.training.distribute import check_batch_size, uses_tpu
    from mer_tf.training.features import FeatureCache
    from mer_tf.training.metrics import UnweightedAccuracy
    from mer_tf.training.optimizers import make_optimizer

    started = time.perf_counter()
    keras.utils.set_random_seed(config.train.seed)
    model_config, train_config, data_config = config.model, config.train, config.data
    check_batch_size(train_config.batch_size, strategy)
    data_dir = data_config.data_dir
    held_out = dict(exclude_speakers=fold.validation_speakers,
                    exclude_ids=fold.validation_ids or None)
    validation_filter = dict(only_speakers=fold.validation_speakers,
                             only_ids=fold.validation_ids if fold.validation_ids else None)

    frames, features = mocap_input_shape(model_config, manifest)
    stats = None
    if "mocap" in model_config.modalities:
        spec = mocap_only_spec(model_config, manifest)
        stats = mocap_statistics(data_dir, manifest, fold.train_sessions, spec, **held_out)
        io.makedirs(directory)
        io.write_json_atomic(io.join(directory, "mocap_statistics.json"),
                             {"mean": stats[0], "variance": stats[1],
                              "train_sessions": list(fold.train_sessions)})

    counts = split_counts(manifest, fold)
    if min(counts.values()) == 0:
        raise ValueError(f"{fold.name}: an empty split {counts}; check the prepared sessions")
    steps_per_epoch = train_config.steps_per_epoch or -(-counts["train"] // train_config.batch_size)
    with strategy.scope():
        builder = ModelBuilder(model_config, mocap_frames=frames, mocap_features=features,
                               mocap_stats=stats)
        cached = builder.cacheable() if train_config.cache_features else ()
        if train_config.cache_features and not cached:
            raise ValueError("--cache-features needs a frozen pretrained tower "
                             "(--freeze speech and/or text) in the model")
        model = builder.model(cached=cached)
        _record_backbones(config, builder)
        optimizer = make_optimizer(
            train_config, builder.backbone_variables(),
            warmup_steps=round(train_config.backbone_warmup_epochs * steps_per_epoch))
        model.compile(optimizer=optimizer,
                      loss=keras.losses.SparseCategoricalCrossentropy(),
                      # weighted: validation fillers weigh 0 (training data has no weights)
                      weighted_metrics=["accuracy",
                                        UnweightedAccuracy(model_config.num_classes)],
                      jit_compile=train_config.jit_compile)

    preprocessor = None
    if "text" in model_config.modalities:
        preprocessor = load_text_preprocessor(model_config.text.preset,
                                              model_config.text.sequence_length)
    feature_cache = None
    if cached:
        feature_cache = FeatureCache(data_dir, manifest, builder, cached)
        feature_cache.ensure(preprocessor, batch_size=max(train_config.batch_size, 16),
                             progress=progress)
    spec = input_spec(model_config, builder, manifest, cached)
    # Full batches only where a short one breaks: TPU and XLA need static shapes, and
    # with several replicas a short last batch leaves a replica an empty one.
    static = (uses_tpu(strategy) or train_config.jit_compile
              or strategy.num_replicas_in_sync > 1)
    common = dict(spec=spec, batch_size=train_config.batch_size, seed=train_config.seed,
                  text_preprocessor=preprocessor, feature_cache=feature_cache,
                  shuffle_buffer=data_config.shuffle_buffer)
    train_data = _make(data_dir, manifest, fold.train_sessions, training=True,
                       drop_remainder=static, num_examples=counts["train"], **held_out, **common)
    # Static shapes pad the last validation batch with fillers: they weigh 0, so they
    # never count in val_loss / val_ua, which pick the best epoch and stop training.
    validation_data = _make(data_dir, manifest, fold.train_sessions, training=False,
                            pad_final_batch=static, weight_fillers=static,
                            num_examples=counts["validation"], **validation_filter, **common)
    if train_config.steps_per_epoch:
        train_data = train_data.repeat()

    logs_dir = io.join(directory, "logs")
    io.makedirs(directory)
    cb.write_hparams(logs_dir, run_hparams(config, fold), trial_id=trial_id(config, fold))
    best = cb.BestCheckpoint(io.join(directory, "checkpoints"), train_config.monitor,
                             train_config.patience)
    callbacks = [
        keras.callbacks.BackupAndRestore(io.join(directory, "backup"), double_checkpoint=True),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.TensorBoard(logs_dir, write_graph=False, update_freq="epoch"),
        cb.ValidationConfusion(logs_dir, model_config.class_names),
        cb.EpochHistory(io.join(directory, "history.csv")),
        best,
    ]
    model.fit(train_data, validation_data=validation_data, epochs=train_config.epochs,
              steps_per_epoch=train_config.steps_per_epoch or None, callbacks=callbacks,
              shuffle=False,  # the tf.data pipeline shuffles, with the run's seed
              verbose=2 if progress else 0)
    history = read_history(io.join(directory, "history.csv"))
    if best.best_epoch is not None:
        cb.load_weights(model, best.weights_path)

    validation = evaluate(model, data_dir, manifest, fold.train_sessions, common,
                          counts["validation"], model_config.class_names, **validation_filter)
    test = evaluate(model, data_dir, manifest, fold.test_sessions, common, counts["test"],
                    model_config.class_names,
                    predictions_path=io.join(directory, "predictions.csv"))
    failed = failure_reasons(test, history, model_config.class_names)
    for reason in failed:
        log.error("%s: this fold learned nothing usable: %s", fold.name, reason)
    _write_fold_artefacts(directory, model_config.class_names, test, history)
    if train_config.export:
        from mer_tf.training.export import export_run_model

        export_run_model(builder, config, directory, preprocessor, manifest)
    result = FoldResult(
        fold=fold.name, directory=directory, test=test["metrics"],
        validation=validation["metrics"], best_epoch=best.best_epoch,
        epochs_run=len(history.get("loss", [])), train_utterances=counts["train"],
        seconds=round(time.perf_counter() - started, 1), describe=fold.describe(), failed=failed)
    io.write_json_atomic(io.join(directory, "fold_metrics.json"), dataclasses.asdict(result))
    return result


def _record_backbones(config: RunConfig, builder) -> None:
    """Adds to config.json what the backbones turned out to be (e.g. whether the speech
    SavedModel can switch its dropout on), which no flag says."""
    facts = builder.describe_backbones()
    if facts:
        path = io.join(config.run_dir, "config.json")
        io.write_json_atomic(path, {**io.read_json(path), BACKBONES_KEY: facts})


def failure_reasons(test: dict, history: dict, class_names) -> list[str]:
    """Why a fold's result must not be read as a result: it learned nothing usable."""
    reasons = []
    probabilities = test["probabilities"]
    if not np.isfinite(probabilities).all():
        reasons.append("the model's outputs are not finite (NaN or inf)")
    elif len(probabilities) > 1:
        predicted = np.unique(probabilities.argmax(axis=1))
        if len(predicted) == 1:
            reasons.append(f"every test utterance is predicted as one class "
                           f"({class_names[int(predicted[0])]})")
    validation = [v for v in history.get("val_loss", []) if np.isfinite(v)]
    if not validation:
        reasons.append("no epoch gave a finite validation loss")
    return reasons


def _make(data_dir, manifest, sessions, **kwargs):
    from mer_tf.data.pipeline import make_dataset

    return make_dataset(data_dir, manifest, sessions, **kwargs)


def split_counts(manifest, fold) -> dict:
    """Utterances in the fold's train, validation and test splits, from the manifest's counts."""
    sessions = manifest["sessions"]

    def total(chosen):
        return sum(sessions[str(s)]["utterances"] for s in chosen)

    validation = len(fold.validation_ids) + sum(
        sessions[str(s)]["speakers"].get(speaker, 0)
        for s in fold.train_sessions for speaker in fold.validation_speakers)
    return {"train": total(fold.train_sessions) - validation, "validation": validation,
            "test": total(fold.test_sessions)}


def evaluate(model, data_dir, manifest, sessions, common: dict, count: int, class_names,
             predictions_path: str | None = None, **filters) -> dict:
    """Predicts a split with Keras' own (distributed) predict, then scores it.

    Batches are padded to full size with filler examples (static shapes for TPU
    and XLA); a second, metadata-only pass over the same files in the same order
    supplies labels, ids and the flags that drop the fillers.
    """
    from mer_tf.training.metrics import classification_metrics

    inputs = _make(data_dir, manifest, sessions, training=False, pad_final_batch=True,
                   num_examples=count, **filters, **common)
    probabilities = np.asarray(model.predict(inputs, verbose=0), dtype=np.float32)
    bare = dict(common, spec=dataclasses.replace(common["spec"], modalities=(), cached=()),
                text_preprocessor=None, feature_cache=None)
    labels, ids, sessions_, speakers, valid = [], [], [], [], []
    for _, batch_labels, meta in _make(data_dir, manifest, sessions, training=False,
                                       pad_final_batch=True, num_examples=count,
                                       with_metadata=True, **filters, **bare):
        labels.extend(batch_labels.numpy().tolist())
        ids.extend(u.decode() for u in meta["utterance_id"].numpy())
        sessions_.extend(meta["session"].numpy().tolist())
        speakers.extend(s.decode() for s in meta["speaker"].numpy())
        valid.extend(meta["valid"].numpy().astype(bool).tolist())
    if len(valid) != len(probabilities):
        raise RuntimeError(f"predicted {len(probabilities)} examples, read {len(valid)}")
    keep = np.array(valid, bool)
    probabilities = probabilities[keep]
    labels = np.array(labels, int)[keep]
    ids = [u for u, k in zip(ids, keep) if k]
    sessions_ = [s for s, k in zip(sessions_, keep) if k]
    speakers = [s for s, k in zip(speakers, keep) if k]
    predicted = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, int)
    metrics = classification_metrics(labels, predicted, class_names)
    if predictions_path:
        buffer = pyio.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["utterance_id", "session", "speaker", "label", "predicted",
                         *[f"p_{c}" for c in class_names]])
        for i, uid in enumerate(ids):
            writer.writerow([uid, sessions_[i], speakers[i], class_names[labels[i]],
                             class_names[predicted[i]], *[f"{p:.7f}" for p in probabilities[i]]])
        io.write_text_atomic(predictions_path, buffer.getvalue())
    return {"metrics": metrics, "probabilities": probabilities, "labels": labels, "ids": ids}


def read_history(path: str) -> dict:
    """history.csv (appended across resumes) -> {metric: [per epoch]}, last write wins."""
    if not io.exists(path):
        return {}
    rows = {}
    for row in csv.DictReader(pyio.StringIO(io.read_text(path))):
        rows[int(row["epoch"])] = row
    history = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            if key != "epoch" and value not in ("", None):
                history.setdefault(key, []).append(float(value))
    history["epoch"] = sorted(rows)
    return history


def _write_fold_artefacts(directory, class_names, test, history) -> None:
    from mer_tf.training.plots import confusion_figure, curves_figure, figure_png

    io.write_json_atomic(io.join(directory, "metrics.json"), test["metrics"])
    png = figure_png(confusion_figure(test["metrics"]["confusion_matrix"], class_names,
                                      "test"))
    io.write_bytes_atomic(io.join(directory, "confusion_matrix.png"), png)
    io.write_bytes_atomic(io.join(directory, "curves.png"), figure_png(curves_figure(history)))


def trial_id(config: RunConfig, fold) -> str:
    """TensorBoard's hparams trial of one fold of one run: its run folder, so two runs of
    the same experiment and fold stay two trials (`concat/20261126-120000/session5`)."""
    run = config.run_dir.replace("\\", "/").rstrip("/")
    run = run[len("runs/"):] if run.startswith("runs/") else run
    return f"{run}/{fold.name}"


def run_hparams(config: RunConfig, fold) -> dict:
    m, t = config.model, config.train
    return {
        "experiment": config.experiment, "fold": fold.name, "modalities": "+".join(m.modalities),
        "optimizer": t.optimizer, "learning_rate": t.learning_rate, "batch_size": t.batch_size,
        "speech_head": m.speech.head if "speech" in m.modalities else "-",
        "mocap_encoder": m.mocap.encoder if "mocap" in m.modalities else "-",
        "freeze": ",".join(n for n in ("speech", "text") if getattr(m, n).freeze) or "-",
        "modality_dropout": m.modality_dropout,
        "mixed_precision": t.mixed_precision, "jit_compile": t.jit_compile,
    }


def _summarise(config: RunConfig, results: list) -> dict:
    from mer_tf.training.metrics import sample_std

    keys = ("wa", "ua", "macro_f1")
    folds = [dataclasses.asdict(r) for r in results]
    summary = {
        "experiment": config.experiment,
        "modalities": list(config.model.modalities),
        "protocol": config.data.protocol,
        "validation": config.data.validation,
        "demo": config.demo,
        "folds": folds,
    }
    summary["failed_folds"] = {r.fold: r.failed for r in results if r.failed}
    for key in keys:
        values = [r.test[key] for r in results]
        summary[key] = float(np.mean(values))
        summary[f"{key}_std"] = sample_std(values)
    return summary


def summary_table(summary: dict) -> str:
    header = ["fold", "test WA", "test UA", "test F1", "val UA", "best epoch", "seconds"]
    rows = [[f["fold"] + (" (FAILED)" if f.get("failed") else ""), f"{f['test']['wa']:.3f}", f"{f['test']['ua']:.3f}",
             f"{f['test']['macro_f1']:.3f}", f"{f['validation']['ua']:.3f}",
             "-" if f["best_epoch"] is None else str(f["best_epoch"] + 1), f"{f['seconds']:.0f}"]
            for f in summary["folds"]]
    if len(rows) > 1:
        rows.append(["mean ± std", f"{summary['wa']:.3f} ± {summary['wa_std']:.3f}",
                     f"{summary['ua']:.3f} ± {summary['ua_std']:.3f}",
                     f"{summary['macro_f1']:.3f} ± {summary['macro_f1_std']:.3f}", "", "", ""])
    text = "\n" + f"{summary['experiment']} ({'+'.join(summary['modalities'])}, " \
        f"{summary['protocol']})\n" + format_table(header, rows)
    for fold, reasons in summary.get("failed_folds", {}).items():
        text += f"\nFAILED {fold}: {'; '.join(reasons)}: not a result"
    return text


def format_table(header, rows) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
