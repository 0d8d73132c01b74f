"""What a run reports: its per-fold and mean figures, its table, its hparams entries."""

from __future__ import annotations

import dataclasses

import numpy as np

from mer_tf.evaluation.dimensions import DIMENSIONS


def trial_id(config, fold) -> str:
    """TensorBoard's hparams trial of one fold of one run: its run folder, so two runs of
    the same experiment and fold stay two trials (`concat/20261126-120000/session5`)."""
    run = config.run_dir.replace("\\", "/").rstrip("/")
    run = run[len("runs/"):] if run.startswith("runs/") else run
    return f"{run}/{fold.name}"


# one table across runs: towers a run lacks say "-"
HPARAM_DEFAULTS = {"speech_head": "-", "speech_layers": "-", "mocap_encoder": "-",
                   "mocap_features": "-", "mocap_scale": "-", "mocap_position": "-",
                   "mocap_block": "-", "mocap_pool": "-"}


def run_hparams(config, fold, builder=None) -> dict:
    """The hparams entry of a fold: the run's settings and each tower's own."""
    m, t = config.model, config.train
    hparams = {
        "experiment": config.experiment, "fold": fold.name, "modalities": "+".join(m.modalities),
        "optimizer": t.optimizer, "learning_rate": t.learning_rate, "batch_size": t.batch_size,
        **HPARAM_DEFAULTS,
        "modality_dropout": m.modality_dropout,
        "mixed_precision": t.mixed_precision, "jit_compile": t.jit_compile,
    }
    if builder is not None:
        for tower in builder.towers.values():
            hparams.update(tower.hparams())
        hparams["freeze"] = ",".join(n for n, t_ in builder.towers.items() if t_.frozen) or "-"
    else:
        hparams["freeze"] = ",".join(n for n in ("speech", "text")
                                     if n in m.modalities and getattr(m, n).freeze) or "-"
    return hparams


def pooled_predictions(run, results: list):
    """(labels, predicted[, (annotated, predicted) of the dimensions]) over every fold's
    predictions.csv, or None for one fold."""
    import csv
    import io

    from mer_tf.io import storage

    if len(results) < 2:
        return None
    labels, predicted, annotated, estimated = [], [], [], []
    dims = DIMENSIONS
    for result in results:
        path = run.fold(result.fold).predictions
        if not storage.exists(path):
            return None
        for row in csv.DictReader(io.StringIO(storage.read_text(path))):
            labels.append(row["label"])
            predicted.append(row["predicted"])
            if "arousal" in row:
                estimated.append([float(row[d]) for d in dims])
                annotated.append([float(row[f"{d}_annotated"] or "nan") for d in dims])
    if estimated and len(estimated) == len(labels):
        return labels, predicted, (annotated, estimated)
    return labels, predicted


def summarise(config, results: list, pooled=None) -> dict:
    """The run's summary: every fold, mean ± std over folds, the leakage in brief and,
    given `pooled` (labels, predicted names over all folds' test utterances), the figures
    of all test predictions together with their intervals (the figure many papers give)."""
    from mer_tf.evaluation.metrics import classification_metrics, sample_std

    keys = ("wa", "ua", "macro_f1")
    folds = [dataclasses.asdict(r) for r in results]
    summary = {
        "experiment": config.experiment,
        "modalities": list(config.model.modalities),
        "protocol": config.data.protocol,
        "validation": config.data.validation,
        "subset": config.data.subset,
        "text_overlap": config.data.text_overlap,
        "demo": config.demo,
        "folds": folds,
    }
    summary["failed_folds"] = {r.fold: r.failed for r in results if r.failed}
    for key in keys:
        values = [r.test[key] for r in results]
        summary[key] = float(np.mean(values))
        summary[f"{key}_std"] = sample_std(values)
    shared = sum(r.leakage.get("train_test", {}).get("transcripts", 0) for r in results)
    summary["leakage"] = {
        "test_utterances": sum(r.test["utterances"] for r in results),
        "test_utterances_sharing_a_transcript_with_training": shared,
        "scripted": sum(r.leakage.get("train_test", {}).get("scripted_transcripts", 0)
                        for r in results)}
    for dimension in DIMENSIONS:  # --targets both
        values = [r.test["dimensions"][dimension]["ccc"] for r in results
                  if r.test.get("dimensions", {}).get(dimension, {}).get("ccc") is not None]
        if values:
            summary[f"ccc_{dimension}"] = float(np.mean(values))
            summary[f"ccc_{dimension}_std"] = sample_std(values)
    if pooled is not None:
        names = list(config.model.class_names)
        labels, predicted = ([names.index(n) for n in column] for column in pooled[:2])
        metrics = classification_metrics(labels, predicted, names)
        summary["pooled"] = {k: metrics[k] for k in ("wa", "ua", "macro_f1", "ci95",
                                                     "bootstrap", "utterances",
                                                     "confusion_matrix", "per_class_recall")}
        if len(pooled) > 2:
            from mer_tf.evaluation.dimensions import dimension_metrics

            summary["pooled"]["dimensions"] = dimension_metrics(*pooled[2])
    return summary


def _with_ci(block: dict, key: str) -> str:
    from mer_tf.evaluation.stats import format_interval

    return format_interval(block[key], block.get("ci95", {}).get(key))


def summary_table(summary: dict) -> str:
    header = ["fold", "test WA [95% CI]", "test UA [95% CI]", "test F1 [95% CI]", "val UA",
              "best epoch", "seconds"]
    rows = [[f["fold"] + (" (FAILED)" if f.get("failed") else ""), _with_ci(f["test"], "wa"),
             _with_ci(f["test"], "ua"), _with_ci(f["test"], "macro_f1"),
             f"{f['validation']['ua']:.3f}",
             "-" if f["best_epoch"] is None else str(f["best_epoch"]), f"{f['seconds']:.0f}"]
            for f in summary["folds"]]
    if len(rows) > 1:
        rows.append(["mean ± std", f"{summary['wa']:.3f} ± {summary['wa_std']:.3f}",
                     f"{summary['ua']:.3f} ± {summary['ua_std']:.3f}",
                     f"{summary['macro_f1']:.3f} ± {summary['macro_f1_std']:.3f}", "", "", ""])
    if "pooled" in summary:
        pooled = summary["pooled"]
        rows.append(["pooled", _with_ci(pooled, "wa"), _with_ci(pooled, "ua"),
                     _with_ci(pooled, "macro_f1"), "", "", ""])
    text = "\n" + f"{summary['experiment']} ({'+'.join(summary['modalities'])}, " \
        f"{summary['protocol']})\n" + format_table(header, rows)
    leakage = summary.get("leakage")
    if leakage:
        text += (f"\nleakage: {leakage['test_utterances_sharing_a_transcript_with_training']} of "
                 f"{leakage['test_utterances']} test utterances share a transcript with training "
                 f"({leakage['scripted']} scripted)")
    dims = DIMENSIONS
    if any(f["test"].get("dimensions") for f in summary["folds"]):
        rows = [[f["fold"], *[_ccc_cell(f["test"]["dimensions"].get(d)) for d in dims]]
                for f in summary["folds"] if f["test"].get("dimensions")]
        if len(rows) > 1:
            rows.append(["mean ± std", *[f"{summary[f'ccc_{d}']:.3f} ± "
                                         f"{summary[f'ccc_{d}_std']:.3f}" for d in dims]])
        if summary.get("pooled", {}).get("dimensions"):
            rows.append(["pooled", *[_ccc_cell(summary["pooled"]["dimensions"][d])
                                     for d in dims]])
        text += "\n" + format_table(["fold", *[f"test CCC {d} [95% CI]" for d in dims]], rows)
    for fold, reasons in summary.get("failed_folds", {}).items():
        text += f"\nFAILED {fold}: {'; '.join(reasons)}: not a result"
    return text


def _ccc_cell(figures: dict | None) -> str:
    from mer_tf.evaluation.stats import format_interval

    if not figures or figures.get("ccc") is None:
        return "-"
    return format_interval(figures["ccc"], figures["ci95"]["ccc"])


def seeds_summary(experiment: str, summaries: dict) -> dict:
    """Per seed the run's figures (fold means); mean ± sample sd over seeds and, with
    several folds, over every seed x fold."""
    from mer_tf.evaluation.metrics import sample_std

    keys = ("wa", "ua", "macro_f1")
    report = {"experiment": experiment, "averaging": "sample standard deviation (ddof=1)",
              "seeds": {str(seed): {k: s[k] for k in keys} for seed, s in summaries.items()}}
    report["over_seeds"] = {k: {"mean": float(np.mean([s[k] for s in summaries.values()])),
                                "sd": sample_std([s[k] for s in summaries.values()])}
                            for k in keys}
    folds = [f for s in summaries.values() for f in s["folds"]]
    if len(folds) > len(summaries):
        report["over_seeds_and_folds"] = {
            k: {"mean": float(np.mean([f["test"][k] for f in folds])),
                "sd": sample_std([f["test"][k] for f in folds]), "n": len(folds)} for k in keys}
    return report


def format_table(header, rows) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
