"""The laptop recipe timed whole: frozen base-size speech and text backbones, their features
cached once, then 5-fold leave-one-session-out training on the cache, on this machine's CPU.

    python -m benchmarks.laptop_recipe [--utterances 500] [--mean-seconds 4.5] [--epochs 20]

Backbones: wav2vec2-base (Hugging Face layout, every layer, `--speech-layers weighted`)
and BERT-base (keras-hub), random weights: speed does not depend on them. Corpus:
synthetic, `--utterances` of 0.5x to 1.5x `--mean-seconds` (over 30 minutes of audio by
default). The same speech+text command runs twice (`--freeze speech,text
--cache-features --protocol loso --no-export`, a fixed number of epochs): the first
builds the cache and trains, the second finds the cache and only trains, so the cache
costs their difference; a third run of one epoch a fold separates the folds' fixed cost
(building models, first traces) from their epochs. Then what IEMOCAP's four-class set
would take on this machine: the cache grows with the audio, the epochs with the
utterances, the fixed cost not at all.
"""

from __future__ import annotations

import json
import os
import shutil

from benchmarks import common

IEMOCAP_FOUR_CLASS = {"utterances": 5531, "audio_hours": 7.0}  # sessions 1-5, hap+exc merged


def _run(assets: dict, hf: str, epochs: int, batch: int, folds: str, text_length: int) -> float:
    return common.timed_run("laptop_recipe_benchmark", ("speech", "text"), [
        "--data-dir", assets["data_dir"], "--speech-model", hf, "--text-preset",
        assets["text"], "--speech-layers", "weighted", "--protocol", "loso", "--freeze",
        "speech,text", "--cache-features", "--epochs", str(epochs), "--patience",
        str(epochs), "--batch-size", str(batch), "--learning-rate", "1e-3",
        "--text-length", str(text_length), "--no-export", "--quiet",
        *(["--folds", folds] if folds else [])])


def _cache_files(data_dir: str) -> dict:
    """{cache file: modification time} under the corpus's feature cache."""
    import glob

    return {path: os.stat(path).st_mtime_ns for path in
            glob.glob(os.path.join(data_dir, "feature_cache", "*", "*.tfrecord"))}


def measure(root: str, utterances: int, mean_seconds: float, epochs: int, batch: int,
            shape: str = "wav2vec2-base", assets: dict | None = None, folds: str = "",
            text_length: int = 128) -> dict:
    """`assets` (data_dir, release, text) instead of the synthetic corpus and BERT-base, and
    `shape` "tiny", `folds` a few test sessions, a shorter `text_length`: the test size."""
    from benchmarks.extraction import checkpoint
    from mer_tf.data.corpus import read_manifest
    from mer_tf.testing.backbones import bert_base_random

    if assets is None:
        assets = common.bench_assets(root, utterances, mean_seconds=mean_seconds)
        assets["text"] = bert_base_random(root)
    hf = checkpoint(root, shape)
    manifest = read_manifest(assets["data_dir"])
    index = json.load(open(os.path.join(assets["data_dir"], manifest["index"]["file"])))
    prepared = {row["utterance_id"] for row in index["utterances"]}
    truth = json.load(open(os.path.join(assets["release"], "SYNTHETIC.json")))["utterances"]
    audio_seconds = sum(u["end"] - u["start"] for u in truth if u["utterance_id"] in prepared)
    shutil.rmtree(os.path.join(assets["data_dir"], "feature_cache"), ignore_errors=True)
    first = _run(assets, hf, epochs, batch, folds, text_length)  # builds the cache, then trains
    written = _cache_files(assets["data_dir"])
    second = _run(assets, hf, epochs, batch, folds, text_length)  # reads the cache, trains
    if not written or _cache_files(assets["data_dir"]) != written:
        raise RuntimeError("the second run did not read the first run's cache as it was: "
                           "the difference of the two would not be the cache's cost")
    cache = first - second
    # A fold's fixed cost (building the model with its backbones, TensorFlow's first
    # traces) does not grow with the corpus; its epochs do: one more run of one epoch a
    # fold tells them apart.
    one_epoch = _run(assets, hf, 1, batch, folds, text_length) if epochs > 1 else second
    per_epoch = max(second - one_epoch, 0.0) / max(epochs - 1, 1)
    fixed = max(one_epoch - per_epoch, 0.0)
    scale_audio = IEMOCAP_FOUR_CLASS["audio_hours"] * 3600 / audio_seconds
    scale_utterances = IEMOCAP_FOUR_CLASS["utterances"] / manifest["utterances"]
    return {
        "utterances": manifest["utterances"], "audio_minutes": round(audio_seconds / 60, 1),
        "epochs_per_fold": epochs, "batch": batch, "folds": folds or "1,2,3,4,5",
        "text_length": text_length,
        "seconds": {"cache_and_loso": round(first, 1), "loso_on_cache": round(second, 1),
                    "cache": round(cache, 1), "loso_one_epoch_a_fold": round(one_epoch, 1),
                    "loso_fixed": round(fixed, 1), "loso_per_epoch": round(per_epoch, 2)},
        "cache_audio_seconds_per_second": round(audio_seconds / cache, 2),
        "iemocap_four_class_estimate_minutes": {
            "cache": round(cache * scale_audio / 60, 2),
            "loso_on_cache": round((fixed + epochs * per_epoch * scale_utterances) / 60, 2)},
    }


def main(argv=None) -> dict:
    parser = common.parser(__doc__)
    parser.set_defaults(utterances=500)  # about 84 % fall in the four classes: > 30 min
    parser.add_argument("--mean-seconds", type=float, default=4.5, help="IEMOCAP's is ~4.5 s")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--speech-shape", choices=("wav2vec2-base", "tiny"),
                        default="wav2vec2-base")
    args = parser.parse_args(argv)
    return common.report("laptop_recipe", measure(common.work_dir(args), args.utterances,
                                                  args.mean_seconds, args.epochs, args.batch,
                                                  args.speech_shape))


if __name__ == "__main__":
    main()
