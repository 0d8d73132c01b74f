"""Evaluating a trained model on a split, honestly: every real utterance once, fillers
dropped, metrics over the label set; and the checks that say a fold learned nothing."""

from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np

from mer_tf.io import storage


def predict_split(model, corpus, split, readers, batch_size: int, feature_cache=None) -> dict:
    """Predicts a split with Keras' own (distributed) predict: {"probabilities", "labels",
    "ids", "sessions", "speakers"}, one row per real utterance; for a model with a
    "dimensions" output also "dimensions" ([N, 3] predicted) and "annotated" ([N, 3] on
    [0, 1], NaN where not rated).

    Batches are padded to full size with filler examples (static shapes for TPU
    and XLA); a second, metadata-only pass over the same files in the same order
    supplies labels, ids and the flags that drop the fillers.
    """
    count = corpus.count(split)
    common = dict(training=False, pad_final_batch=True, num_examples=count)
    inputs = corpus.dataset(split, readers, batch_size, feature_cache=feature_cache, **common)
    outputs = model.predict(inputs, verbose=0)
    dimensions = None
    if isinstance(outputs, dict):
        dimensions = np.asarray(outputs["dimensions"], dtype=np.float32)
        outputs = outputs["classes"]
        common["dimensions"] = corpus.dimension_scales()
    probabilities = np.asarray(outputs, dtype=np.float32)
    labels, ids, sessions, speakers, valid, annotated = [], [], [], [], [], []
    for _, batch_labels, meta in corpus.dataset(split, (), batch_size, with_metadata=True,
                                                **common):
        if dimensions is not None:
            annotated.extend(batch_labels["dimensions"].numpy().tolist())
            batch_labels = batch_labels["classes"]
        labels.extend(batch_labels.numpy().tolist())
        ids.extend(u.decode() for u in meta["utterance_id"].numpy())
        sessions.extend(meta["session"].numpy().tolist())
        speakers.extend(s.decode() for s in meta["speaker"].numpy())
        valid.extend(meta["valid"].numpy().astype(bool).tolist())
    if len(valid) != len(probabilities):
        raise RuntimeError(f"predicted {len(probabilities)} examples, read {len(valid)}")
    keep = np.array(valid, bool)
    if corpus.manifest.get("combined"):  # the records keep their own corpus's session
        session_of = {r["utterance_id"]: r["session"] for r in corpus.index}
        sessions = [session_of.get(u, s) for u, s in zip(ids, sessions)]
    result = {"probabilities": probabilities[keep], "labels": np.array(labels, int)[keep],
              "ids": [u for u, k in zip(ids, keep) if k],
              "sessions": [s for s, k in zip(sessions, keep) if k],
              "speakers": [s for s, k in zip(speakers, keep) if k]}
    if dimensions is not None:
        result["dimensions"] = dimensions[keep]
        result["annotated"] = np.asarray(annotated, np.float32).reshape(-1, 3)[keep]
    return result


def evaluate(model, corpus, split, readers, batch_size: int, class_names,
             feature_cache=None) -> dict:
    """`predict_split`, then scored over the label set (`metrics`)."""
    from mer_tf.evaluation.metrics import classification_metrics

    result = predict_split(model, corpus, split, readers, batch_size, feature_cache)
    probabilities = result["probabilities"]
    predicted = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, int)
    metrics = classification_metrics(result["labels"], predicted, class_names)
    if "dimensions" in result:  # CCC, r and MAE per dimension, with intervals
        from mer_tf.evaluation.dimensions import dimension_metrics

        metrics["dimensions"] = dimension_metrics(result["annotated"], result["dimensions"])
    return {"metrics": metrics, **result}


def write_predictions(path: str, result: dict, class_names, temperature: float = 1.0) -> None:
    """predictions.csv of an `evaluate` result, its probabilities scaled by `temperature`
    as the exported model serves them (the predicted class is the same)."""
    from mer_tf.evaluation.calibration import scale

    probabilities = result["probabilities"]
    served = scale(probabilities, temperature) if len(probabilities) else probabilities
    predicted = probabilities.argmax(axis=1) if len(probabilities) else []
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    from mer_tf.evaluation.dimensions import DIMENSIONS

    dims = DIMENSIONS if "dimensions" in result else ()
    writer.writerow(["utterance_id", "session", "speaker", "label", "predicted",
                     *[f"p_{c}" for c in class_names],
                     *[f"{d}{what}" for what in ("", "_annotated") for d in dims]])
    for i, uid in enumerate(result["ids"]):
        extra = []
        if dims:  # on [0, 1]; an unrated dimension's annotation is empty
            extra = [f"{v:.7f}" for v in result["dimensions"][i]] + [
                "" if np.isnan(v) else f"{v:.7f}" for v in result["annotated"][i]]
        writer.writerow([uid, result["sessions"][i], result["speakers"][i],
                         class_names[result["labels"][i]], class_names[predicted[i]],
                         *[f"{p:.7f}" for p in served[i]], *extra])
    storage.write_text_atomic(path, buffer.getvalue())


def write_reliability(fold, test: dict, temperature: float, title: str = "") -> None:
    """The fold's reliability diagram (test split, before and after temperature scaling)."""
    from mer_tf.evaluation.calibration import reliability_figure
    from mer_tf.evaluation.plots import figure_png

    figure = reliability_figure(test, temperature, f"{title}\nreliability on the test split")
    storage.write_bytes_atomic(fold.reliability_png, figure_png(figure))


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


def write_fold_artefacts(fold, class_names, test, history, title: str = "",
                         best_epoch: int | None = None) -> None:
    """The fold's plots (its metrics.json is written by the trainer, last): the test
    confusion matrix titled with the run, fold and figures, and the curves with the best
    epoch marked."""
    from mer_tf.evaluation.plots import (
        confusion_figure,
        curves_figure,
        dimensions_figure,
        figure_png,
    )

    m = test["metrics"]
    heading = (f"{title}\ntest: UA {m['ua']:.3f}, WA {m['wa']:.3f}, {m['utterances']} utterances"
               f"{f', best epoch {best_epoch}' if best_epoch else ''}")
    png = figure_png(confusion_figure(m["confusion_matrix"], class_names, heading))
    storage.write_bytes_atomic(fold.confusion_png, png)
    storage.write_bytes_atomic(fold.curves_png,
                               figure_png(curves_figure(history, best_epoch, title)))
    if "dimensions" in test:
        storage.write_bytes_atomic(fold.dimensions_png, figure_png(dimensions_figure(
            test["annotated"], test["dimensions"], m["dimensions"], f"{title}: test")))


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
    weights_sha256: str = ""  # the evaluated weights (the same on every worker)
    leakage: dict = dataclasses.field(default_factory=dict)  # mer_tf.evaluation.audit
    class_weights: dict = dataclasses.field(default_factory=dict)  # --class-weight balanced
    calibration: dict = dataclasses.field(default_factory=dict)  # mer_tf.evaluation.calibration

    @classmethod
    def from_dict(cls, data: dict) -> "FoldResult":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
