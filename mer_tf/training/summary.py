"""What a run reports: its per-fold and mean figures, its table, its hparams entries."""

from __future__ import annotations

import dataclasses

import numpy as np


def trial_id(config, fold) -> str:
    """TensorBoard's hparams trial of one fold of one run: its run folder, so two runs of
    the same experiment and fold stay two trials (`concat/20261126-120000/session5`)."""
    run = config.run_dir.replace("\\", "/").rstrip("/")
    run = run[len("runs/"):] if run.startswith("runs/") else run
    return f"{run}/{fold.name}"


# one table across runs: towers a run lacks say "-"
HPARAM_DEFAULTS = {"speech_head": "-", "speech_layers": "-", "mocap_encoder": "-"}


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


def summarise(config, results: list) -> dict:
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
