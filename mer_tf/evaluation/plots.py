"""Figures a run leaves: the confusion matrix, the training curves and, for arousal,
valence and dominance, prediction against annotation (matplotlib)."""

from __future__ import annotations

import io
import textwrap

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_figure(matrix, class_names, title: str = "Confusion matrix"):
    plt = _pyplot()
    matrix = np.asarray(matrix)
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros(matrix.shape, float), where=rows > 0)
    figure, axes = plt.subplots(figsize=(4.2, 3.8), dpi=100)
    image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(class_names)), class_names)
    axes.set_yticks(range(len(class_names)), class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    # Wrapped: a run's title (experiment, run folder, fold, UA, best epoch) is wider than
    # the figure, and centred over the axes it lost its start off the left edge.
    axes.set_title(textwrap.fill(title, 44), fontsize=9)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            axes.text(j, i, f"{matrix[i, j]}", ha="center", va="center",
                      color="white" if normalised[i, j] > 0.5 else "black", fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="recall")
    figure.tight_layout()
    return figure


def curves_figure(history: dict, best_epoch: int | None = None, title: str = ""):
    """Loss, accuracy and UA per epoch (counted from 1), training against validation, the
    best epoch (the checkpoint evaluated) marked."""
    plt = _pyplot()
    keys = [k for k in ("loss", "accuracy", "ua", "ccc") if k in history]
    figure, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), dpi=100, squeeze=False)
    for ax, key in zip(axes[0], keys):
        epochs = np.arange(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label="validation")
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=1,
                       label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend(fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def dimensions_figure(annotated, predicted, figures: dict, title: str = ""):
    """One scatter per dimension of [N, 3] annotations and predictions on [0, 1] (unrated
    utterances left out), the diagonal drawn and the CCC [interval] in each title."""
    plt = _pyplot()
    from mer_tf.evaluation.dimensions import DIMENSIONS as names

    figure, axes = plt.subplots(1, 3, figsize=(10.5, 3.6), dpi=100)
    for column, (ax, name) in enumerate(zip(axes, names)):
        y, p = np.asarray(annotated)[:, column], np.asarray(predicted)[:, column]
        keep = np.isfinite(y) & np.isfinite(p)
        ax.scatter(y[keep], p[keep], s=8, alpha=0.5)
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("annotated")
        ax.set_ylabel("predicted")
        f = figures.get(name) or {}
        if f.get("ccc") is not None:
            low, high = f["ci95"]["ccc"]
            ax.set_title(f"{name}: CCC {f['ccc']:.3f} [{low:.3f}, {high:.3f}]", fontsize=9)
        else:
            ax.set_title(f"{name}: not rated", fontsize=9)
    if title:
        figure.suptitle(textwrap.fill(title, 100), fontsize=10)
    figure.tight_layout()
    return figure


def figure_png(figure) -> bytes:
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
