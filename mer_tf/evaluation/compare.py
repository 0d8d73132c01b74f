"""Two runs side by side on the utterances both tested: the paired comparison behind
`experiments.compare` and the "ΔUA vs the first row" column of `pairwise` and `ablation`."""

from __future__ import annotations

import csv
import io

from mer_tf.evaluation.dimensions import DIMENSIONS
from mer_tf.evaluation.stats import FIGURES, RESAMPLES, SEED, paired_comparison
from mer_tf.io import storage
from mer_tf.layout import CORPUS_KEY, RunLayout


def read_predictions(run_dir: str) -> tuple[dict, tuple]:
    """({utterance id: (label, predicted[, annotated [3], predicted [3]])} over every fold's
    predictions.csv (the dimensions where the run trained them), class names)."""
    run = RunLayout(run_dir)
    if not storage.exists(run.config):
        raise FileNotFoundError(f"{run_dir}: not a run folder (no {run.config})")
    classes = tuple(storage.read_json(run.config)["model"]["class_names"])
    found = {}
    for fold in run.folds():
        if not storage.exists(fold.predictions):
            continue
        for row in csv.DictReader(io.StringIO(storage.read_text(fold.predictions))):
            found[row["utterance_id"]] = (classes.index(row["label"]),
                                          classes.index(row["predicted"]))
            if "arousal" in row:  # --targets both
                found[row["utterance_id"]] += (
                    [float(row[f"{d}_annotated"] or "nan") for d in DIMENSIONS],
                    [float(row[d]) for d in DIMENSIONS])
    if not found:
        raise FileNotFoundError(f"{run_dir}: no fold has its predictions (is it finished?)")
    return found, classes


def _corpus_read(run_dir: str) -> tuple[str, str | None]:
    """(the data folder, the digest of its shards) a run recorded in its config.json."""
    config = storage.read_json(RunLayout(run_dir).config)
    return config["data"]["data_dir"], config.get(CORPUS_KEY)


def compare_runs(run_a: str, run_b: str, resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """B minus A on the test utterances both runs predicted (matched by utterance id)."""
    a, classes_a = read_predictions(run_a)
    b, classes_b = read_predictions(run_b)
    if classes_a != classes_b:
        raise ValueError(f"the runs have other classes: {list(classes_a)} and {list(classes_b)}")
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ValueError(f"{run_a} and {run_b} share no test utterance: nothing to compare "
                         "pairwise")
    disagree = [u for u in shared if a[u][0] != b[u][0]]
    if disagree:
        corpora = [_corpus_read(run) for run in (run_a, run_b)]
        if corpora[0][1] != corpora[1][1]:
            raise ValueError(
                f"the runs read different corpora ({run_a}: {corpora[0][0]}, shards' digest "
                f"{corpora[0][1]}; {run_b}: {corpora[1][0]}, digest {corpora[1][1]}), whose "
                f"utterance ids collide: {len(disagree)} shared ids carry other labels (e.g. "
                f"{disagree[0]}); a paired comparison needs the same test utterances")
        raise ValueError(f"the runs' labels differ for {len(disagree)} shared utterances "
                         f"(e.g. {disagree[0]}) though they read the same shards: prepared "
                         "with another label set?")
    labels = [a[u][0] for u in shared]
    result = paired_comparison(labels, [a[u][1] for u in shared], [b[u][1] for u in shared],
                               len(classes_a), resamples, seed)
    result.update(run_a=run_a, run_b=run_b, only_in_a=len(set(a) - set(b)),
                  only_in_b=len(set(b) - set(a)))
    if all(len(a[u]) > 2 and len(b[u]) > 2 for u in shared):  # both trained the dimensions
        from mer_tf.evaluation.dimensions import paired_dimension_comparison

        result["dimensions"] = paired_dimension_comparison(
            [a[u][2] for u in shared], [a[u][3] for u in shared], [b[u][3] for u in shared],
            resamples, seed)
    return result


def comparison_table(result: dict) -> str:
    from mer_tf.evaluation.summary import format_table

    rows = []
    named = [(result[key], name) for key, name in zip(FIGURES, ("WA", "UA", "macro F1"))]
    named += [(r, f"CCC {d}") for d, r in result.get("dimensions", {}).items()]
    for r, name in named:
        rows.append([name, f"{r['a']:.3f}", f"{r['b']:.3f}",
                     f"{r['delta']:+.3f} [{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}]",
                     f"{r['p_value']:.3f}"])
    m = result["mcnemar"]
    lines = [f"A: {result['run_a']}", f"B: {result['run_b']}",
             f"{result['utterances']} test utterances in common (only in A: "
             f"{result['only_in_a']}, only in B: {result['only_in_b']}); paired bootstrap, "
             f"{result['resamples']} resamples, seed {result['seed']}",
             format_table(["figure", "A", "B", "B - A [95% CI]", "p"], rows),
             f"McNemar (exact): A alone right on {m['only_a_right']}, B alone on "
             f"{m['only_b_right']}, p = {m['p_value']:.3f}"]
    return "\n".join(lines)


def delta_cell(reference_dir: str, run_dir: str, key: str = "ua") -> str:
    """`+0.021 [-0.030, +0.070]`: run minus reference on their shared test utterances."""
    result = compare_runs(reference_dir, run_dir)
    r = result[key]
    return f"{r['delta']:+.3f} [{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}]"
