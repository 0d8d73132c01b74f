"""Frozen towers with cached features against end-to-end fine-tuning.

    python -m benchmarks.features [--repeats 3] [--loso-epochs 3]

Epoch time of the full model when speech and text are fine-tuned end to end,
against the same model with both frozen and their outputs read from the
feature cache (the cache is built once, timed separately), alternating, medians.
Then the wall time of a whole 5-fold leave-one-session-out run with cached
features (`experiments.concat --protocol loso --freeze speech,text
--cache-features`), cache included.
"""

from __future__ import annotations

import os
import shutil
import time

import keras

from benchmarks import common
from mer_tf.training.fold import compile_model


def measure(assets, repeats: int, loso_epochs: int, batch_size: int = 16,
            loso_folds: str = "", modalities=("speech", "text", "mocap")) -> dict:
    from mer_tf.data.corpus import read_manifest

    manifest = read_manifest(assets["data_dir"])
    train = sum(manifest["sessions"][s]["utterances"] for s in ("1", "2", "3", "4"))
    steps = train // batch_size
    shutil.rmtree(os.path.join(assets["data_dir"], "feature_cache"), ignore_errors=True)
    runners = {}
    cache_seconds = None
    frozen = tuple(m for m in modalities if m in ("speech", "text"))
    for name, freeze in (("end_to_end", False), ("cached", True)):
        config = common.demo_model_config(assets, modalities, speech={"freeze": freeze},
                                          text={"freeze": freeze})
        start = time.perf_counter()
        _, model, dataset = common.build_training(
            config, assets["data_dir"], batch_size, cached=frozen if freeze else ())
        if freeze:
            cache_seconds = time.perf_counter() - start
        compile_model(model, keras.optimizers.Adam(1e-3))
        dataset = dataset.repeat()
        common.time_fit(model, dataset, 2)
        runners[name] = lambda m=model, d=dataset: common.time_fit(m, d, steps)
    seconds = common.alternate(runners, repeats)
    medians = {k: common.median(v) for k, v in seconds.items()}
    loso = _loso_seconds(assets, loso_epochs, batch_size, loso_folds, modalities)
    return {
        "modalities": list(modalities),
        "training_utterances_per_epoch": steps * batch_size,
        "epoch_seconds": {k: round(v, 2) for k, v in medians.items()},
        "all_epoch_seconds": {k: [round(x, 2) for x in v] for k, v in seconds.items()},
        "speedup_cached_vs_end_to_end": round(medians["end_to_end"] / medians["cached"], 2),
        "cache_build_seconds": round(cache_seconds, 2),
        "loso_5_folds_cached": loso,
    }


def _loso_seconds(assets, epochs: int, batch_size: int, folds: str, modalities) -> dict:
    shutil.rmtree(os.path.join(assets["data_dir"], "feature_cache"), ignore_errors=True)
    frozen = ",".join(m for m in modalities if m in ("speech", "text"))
    seconds = common.timed_run("features_benchmark", modalities, [
        "--data-dir", assets["data_dir"], "--speech-model", assets["speech"],
        "--text-preset", assets["text"], "--text-length", "32", "--mocap-frames", "96",
        "--protocol", "loso", "--freeze", frozen, "--cache-features",
        "--epochs", str(epochs), "--patience", str(epochs), "--batch-size",
        str(batch_size), "--learning-rate", "1e-3", "--no-export", "--quiet",
        *(["--folds", folds] if folds else [])])
    return {"epochs_per_fold": epochs, "folds": folds or "1,2,3,4,5",
            "seconds": round(seconds, 1)}


def main(argv=None) -> dict:
    parser = common.parser(__doc__)
    parser.add_argument("--loso-epochs", type=int, default=3)
    parser.add_argument("--loso-folds", default="", help="test sessions (default: all five)")
    args = parser.parse_args(argv)
    assets = common.bench_assets(common.work_dir(args), args.utterances)
    return common.report("features", measure(assets, args.repeats, args.loso_epochs,
                                             loso_folds=args.loso_folds))


if __name__ == "__main__":
    main()
