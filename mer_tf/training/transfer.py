"""A trained run's model on another prepared corpus (or on its own test split): the
figures of a model carried across corpora, with the same honesty as a run's own.

- Classes are matched by name: the corpus's utterances of a class the model never
  learned are left out and counted; the model's classes the corpus lacks are said.
  No class in common is refused.
- `split="all"` scores every utterance of another corpus; on the corpus the run trained
  on it is refused (it would score training utterances). `split="test"` is the test
  split the run's protocol makes of the corpus; on the run's own corpus each fold's
  model scores its own test sessions, so the figures are the run's own.
- On another corpus the fold models' probabilities are averaged (each as its SavedModel
  serves them), as `experiments.predict` does.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mer_tf.io import storage
from mer_tf.layout import CORPUS_KEY, RunLayout

SPLITS = ("all", "test")


def match_classes(model_classes, corpus_classes) -> dict:
    """{"shared", "corpus_only", "model_only", "to_model": {corpus index: model index},
    "renamed": {corpus class: model class}}: classes are the same when their names are,
    or when the cross-corpus label set names them alike (IEMOCAP's exc and MELD's joy are
    happy; `renamed` lists such pairs, so a report says them)."""
    from mer_tf.data.labels import get_label_set

    common = get_label_set("cross4").mapping
    model_classes, corpus_classes = list(model_classes), list(corpus_classes)

    def counterpart(name):
        if name in model_classes:
            return name
        alike = [m for m in model_classes if common.get(m, m) == common.get(name, name)]
        return alike[0] if len(alike) == 1 else None

    pairs = {c: counterpart(c) for c in corpus_classes}
    shared = [c for c in corpus_classes if pairs[c] is not None]
    if not shared:
        raise ValueError(f"no class in common: the model knows {', '.join(model_classes)}; "
                         f"the corpus has {', '.join(corpus_classes)}")
    matched = {pairs[c] for c in shared}
    return {"shared": shared,
            "corpus_only": [c for c in corpus_classes if pairs[c] is None],
            "model_only": [m for m in model_classes if m not in matched],
            "to_model": {corpus_classes.index(c): model_classes.index(pairs[c])
                         for c in shared},
            "renamed": {c: pairs[c] for c in shared if pairs[c] != c}}


def evaluate_on(run_dir: str, data_dir: str, split: str = "all", fold: str | None = None,
                batch_size: int = 16) -> dict:
    """The run's model(s) on `data_dir`'s `split`; returns a JSON-ready report."""
    from mer_tf.data.corpus import PreparedCorpus, Split
    from mer_tf.evaluation.evaluate import predict_split
    from mer_tf.evaluation.metrics import classification_metrics
    from mer_tf.training.runs import load_run
    from mer_tf.training.splits import make_folds

    run = RunLayout(run_dir)
    stored = storage.read_json(run.config)
    corpus = PreparedCorpus.open(data_dir)
    official = [] if split in SPLITS else _official_part(corpus, split)
    own = stored.get(CORPUS_KEY) == corpus.digest()
    if own and split == "all":
        raise ValueError(f"{data_dir} is the corpus {run_dir} trained on: --split all would "
                         "score its training utterances; use --split test")
    folds = [fold] if fold else [name for name in run.fold_names()
                                 if run.fold(name).has_best_weights()]
    if not folds:
        raise FileNotFoundError(f"{run_dir}: no fold with a best checkpoint")
    loaded = {name: load_run(run_dir, name) for name in folds}
    first = next(iter(loaded.values()))
    classes = match_classes(first.label_names, corpus.classes)
    if official:
        if own:
            _check_held_out(first.config.data, corpus, official, split)
        parts = {split: (Split(corpus.sessions, only_ids=tuple(official)), list(loaded))}
    elif split == "all":
        parts = {"all": (Split(corpus.sessions), list(loaded))}
    else:
        made = {f.name: f for f in make_folds(
            dataclasses.replace(first.config.data, data_dir=data_dir), corpus)}
        if own:  # each fold's model on its own test sessions: never a session it trained on
            parts = {name: (made[name].test_split(), [name]) for name in loaded if name in made}
        else:
            tests = sorted({s for f in made.values() for s in f.test_sessions})
            parts = {"test": (Split(tuple(tests)), list(loaded))}
    labels, probabilities, ids, annotated, dimensions = [], [], [], [], []
    for part, (chosen, models) in parts.items():
        scored = [predict_split(loaded[m].model, corpus, chosen, loaded[m].builder.readers(),
                                batch_size) for m in models]
        averaged = np.mean([loaded[m].calibrated(s["probabilities"])
                            for m, s in zip(models, scored)], axis=0)
        labels.extend(scored[0]["labels"].tolist())
        probabilities.extend(averaged.tolist())
        ids.extend(scored[0]["ids"])
        if "dimensions" in scored[0]:  # --targets both: averaged over the folds alike
            annotated.extend(scored[0]["annotated"].tolist())
            dimensions.extend(np.mean([s["dimensions"] for s in scored], axis=0).tolist())
    labels = np.asarray(labels, int)
    keep = np.isin(labels, list(classes["to_model"]))
    excluded = {corpus.classes[c]: int((labels == c).sum()) for c in sorted(set(labels[~keep]))}
    mapped = np.array([classes["to_model"][c] for c in labels[keep]], int)
    probabilities = np.asarray(probabilities, np.float32).reshape(len(labels), -1)[keep]
    predicted = probabilities.argmax(axis=1) if len(mapped) else np.zeros(0, int)
    metrics = classification_metrics(mapped, predicted, first.label_names)
    report = {"run": run_dir, "data_dir": data_dir, "split": split, "own_corpus": own,
            "folds": folds, "averaged_over_folds": len(folds) > 1 and not (own and
                                                                           split == "test"),
            "classes": {k: v for k, v in classes.items() if k != "to_model"},
            "excluded": excluded, "metrics": metrics,
            "predictions": [{"utterance_id": u, "label": first.label_names[t],
                             "predicted": first.label_names[p]}
                            for u, t, p in zip(np.asarray(ids)[keep], mapped, predicted)]}
    if not own and len(mapped):
        report["against_own_test"] = _against_own_test(run, folds, first.label_names, mapped,
                                                        predicted)
    if dimensions:  # every utterance the corpus rated, whatever its class
        from mer_tf.evaluation.dimensions import dimension_metrics

        report["dimensions"] = dimension_metrics(annotated, dimensions)
    return report


def _official_part(corpus, name: str) -> list[str]:
    """The ids of the corpus's official split `name` (MSP-Podcast's Test2, say)."""
    ids = [r["utterance_id"] for r in corpus.index
           if (r.get("split") or "").lower() == name.lower()]
    if not ids:
        named = sorted({r.get("split") for r in corpus.index if r.get("split")})
        raise ValueError(f"--split is {', '.join(SPLITS)} or one of the corpus's own splits "
                         f"({', '.join(named) or 'it has none'}), not {name!r}")
    return ids


def _check_held_out(data_config, corpus, ids, name) -> None:
    """Refuses an official split of the run's own corpus that any fold trained or
    validated on."""
    from mer_tf.training.splits import make_folds

    used = set()
    for fold in make_folds(data_config, corpus):
        used |= {r["utterance_id"] for r in corpus.rows(fold.train_split())}
        used |= {r["utterance_id"] for r in corpus.rows(fold.validation_split())}
    overlap = used & set(ids)
    if overlap:
        raise ValueError(f"--split {name}: {len(overlap)} of its {len(ids)} utterances are "
                         "training or validation utterances of the run; it is no test")


def _against_own_test(run, folds, class_names, labels, predicted) -> dict:
    """This corpus's figures minus the run's own test figures (its folds' predictions.csv,
    pooled), with an unpaired bootstrap interval: the drop across corpora."""
    import csv
    import io

    from mer_tf.evaluation.stats import unpaired_difference

    own_labels, own_predicted = [], []
    for name in folds:
        path = run.fold(name).predictions
        if not storage.exists(path):
            return {}
        for row in csv.DictReader(io.StringIO(storage.read_text(path))):
            own_labels.append(class_names.index(row["label"]))
            own_predicted.append(class_names.index(row["predicted"]))
    difference = unpaired_difference(own_labels, own_predicted, labels, predicted,
                                     len(class_names))
    return {"own_test_utterances": len(own_labels), **difference}


def report_text(report: dict) -> str:
    """The report as a person reads it: figures with intervals, recall, what was left out."""
    from mer_tf.evaluation.stats import format_interval
    from mer_tf.evaluation.summary import format_table

    m = report["metrics"]
    rows = [[name.upper() if name != "macro_f1" else "macro F1",
             format_interval(m[name], m["ci95"][name])] for name in ("wa", "ua", "macro_f1")]
    rows += [[f"recall {c}", "-" if r is None else f"{r:.3f}"]
             for c, r in m["per_class_recall"].items()]
    lines = [f"{report['run']} on {report['data_dir']} ({report['split']}: "
             f"{m['utterances']} utterances"
             + (", the fold models averaged" if report["averaged_over_folds"] else "") + ")",
             format_table(["", "figure [95% CI]"], rows)]
    drop = report.get("against_own_test")
    if drop:
        lines.append(f"minus the run's own test figures ({drop['own_test_utterances']} "
                     "utterances; unpaired bootstrap): " + ", ".join(
                         f"{name} {d['delta']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]"
                         for name, d in ((n.upper() if n != "macro_f1" else "macro F1",
                                          drop[n]) for n in ("wa", "ua", "macro_f1"))))
    for name, f in report.get("dimensions", {}).items():
        if isinstance(f, dict):
            lines.append(f"{name}: " + ("not rated in this corpus" if f["ccc"] is None else
                                        f"CCC {format_interval(f['ccc'], f['ci95']['ccc'])}, "
                                        f"r {f['pearson']:.3f}, MAE {f['mae']:.3f} "
                                        f"({f['utterances']} rated)"))
    if report["classes"].get("renamed"):
        lines.append("matched by the cross-corpus names: " + ", ".join(
            f"{c} = {m}" for c, m in report["classes"]["renamed"].items()))
    if report["excluded"]:
        lines.append("left out (classes the model never learned): " + ", ".join(
            f"{c} {n}" for c, n in report["excluded"].items()))
    if report["classes"]["model_only"]:
        lines.append("the corpus has no " + ", ".join(report["classes"]["model_only"])
                     + " (the model may still predict them)")
    header = " ".join(f"{c:>6}" for c in m["per_class_recall"])
    lines.append("confusion (rows: annotated, columns: predicted)\n       " + header)
    for name, row in zip(m["per_class_recall"], m["confusion_matrix"]):
        lines.append(f"{name:>6} " + " ".join(f"{v:>6}" for v in row))
    return "\n".join(lines)
