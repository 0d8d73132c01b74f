"""A reference for the motion-capture tower: movement statistics into a logistic regression.

What can a model reach from the frames as the pipeline delivers them? Each utterance
becomes a few numbers per marker group (stream): how far the markers move about their
mean pose (RMS displacement), how fast (mean speed, mean acceleration) and with what
rhythm (speed over displacement, which for an oscillation grows with its frequency;
the rate at which velocity changes sign), as logarithms, from the present frames only
(NaN markers and padding ignored). A scikit-learn logistic regression, standardised
on the training split alone, is fitted on each fold's training split, its inverse
regularisation chosen on the validation split, and scored on the test split.

If this reference succeeds where the tower fails, the loss is in the tower; if it
fails too, it is in preparation or normalisation.
"""

from __future__ import annotations

import warnings

import numpy as np

C_GRID = (0.01, 0.1, 1.0, 10.0)
EPSILON = 1e-3  # mm (or degrees): keeps the logarithm of a still marker finite
STATISTICS = ("displacement", "speed", "acceleration", "speed_over_displacement",
              "velocity_sign_changes")


def movement_statistics(frames: np.ndarray, mask: np.ndarray, streams) -> np.ndarray:
    """[len(streams) * 5] statistics of one utterance's frames [T, features] (NaN where a
    marker was missing) and frame mask [T], stream by stream in `streams` order."""
    frames = np.asarray(frames, np.float64)[np.asarray(mask, bool)]
    out, start = [], 0
    for _, dim in streams:
        x = frames[:, start:start + dim]
        start += dim
        present = ~np.isnan(x)
        counts = present.sum(axis=0)
        mean = np.where(counts > 0, np.nansum(x, axis=0) / np.maximum(counts, 1), 0.0)
        centred = np.where(present, x - mean, np.nan)
        velocity = np.diff(x, axis=0)  # NaN where either frame is missing
        acceleration = np.diff(velocity, axis=0)
        displacement = _nanmean(np.sqrt(_nanmean(centred**2, axis=0)))
        speed = _nanmean(np.abs(velocity))
        accel = _nanmean(np.abs(acceleration))
        turns = np.sign(velocity[1:]) * np.sign(velocity[:-1])
        changes = _nanmean(np.where(np.isnan(turns), np.nan, (turns < 0).astype(float)))
        out += [np.log(displacement + EPSILON), np.log(speed + EPSILON),
                np.log(accel + EPSILON), np.log((speed + EPSILON) / (displacement + EPSILON)),
                changes]
    return np.asarray(out, np.float64)


def _nanmean(values, axis=None):
    """np.nanmean that answers 0 (not a warning and NaN) where nothing is present."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nan_to_num(np.nanmean(np.asarray(values, np.float64), axis=axis))


def split_statistics(corpus, split, reader) -> tuple[np.ndarray, np.ndarray]:
    """(statistics [N, S], labels [N]) of a split, read by the pipeline's mocap reader."""
    from mer_tf.data.pipeline import make_dataset

    features, labels = [], []
    for inputs, batch_labels in make_dataset(corpus, split, [reader], 64,
                                             training=False).as_numpy_iterator():
        for frames, mask in zip(inputs["mocap"], inputs["mocap_mask"]):
            features.append(movement_statistics(frames, mask, reader.streams))
        labels.extend(batch_labels.tolist())
    width = len(reader.streams) * len(STATISTICS)
    return np.asarray(features, np.float64).reshape(-1, width), np.asarray(labels, np.int64)


def fit_fold(corpus, fold, reader, class_names, seed: int = 0) -> dict:
    """Trains on the fold's training split, picks C on its validation split, tests once."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mer_tf.evaluation.metrics import classification_metrics

    train = split_statistics(corpus, fold.train_split(), reader)
    validation = split_statistics(corpus, fold.validation_split(), reader)
    test = split_statistics(corpus, fold.test_split(), reader)
    best = None
    for c in C_GRID:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000,
                                                                   random_state=seed))
        model.fit(*train)
        scores = classification_metrics(validation[1], model.predict(validation[0]), class_names)
        if best is None or scores["ua"] > best[1]["ua"]:
            best = (model, scores, c)
    model, validation_scores, c = best
    test_scores = classification_metrics(test[1], model.predict(test[0]), class_names)
    return {"fold": fold.name, "C": c, "train_utterances": int(train[1].size),
            "validation": validation_scores, "test": test_scores}


def reference(corpus, folds, reader, class_names) -> dict:
    """Every fold's figures, and the mean and sample standard deviation of test UA."""
    from mer_tf.evaluation.metrics import sample_std

    rows = [fit_fold(corpus, fold, reader, class_names) for fold in folds]
    uas = [row["test"]["ua"] for row in rows]
    return {"statistics": [f"{stream}/{name}" for stream, _ in reader.streams
                           for name in STATISTICS],
            "folds": rows, "test_ua_mean": float(np.mean(uas)), "test_ua_std": sample_std(uas)}
