"""Building the feature cache against the frozen backbone's forward pass alone, in seconds of
audio per second, on utterances of mixed length.

    python -m benchmarks.extraction [--shapes wav2vec2-base,wavlm-large] [--utterances 40]

For each backbone shape (random weights in Hugging Face's layout: speed does not depend on
them) and one synthetic prepared corpus (lengths 0.5x to 1.5x of `--mean-seconds`),
alternating, medians:

- `forward`: the backbone alone on each utterance at its own length, arrays in memory,
  batch 1, warm: the backbone's speed, what the cache should reach;
- `cache`: `FeatureCache.ensure` from scratch (read the shards, run the backbone, write the
  cache), what `--freeze speech --cache-features` pays once;
- `padded` (once, on 4 utterances): the same backbone on a batch padded to the input
  length, as the cache ran before it cut batches to their longest utterance.

The cache also traces its function once (`trace_seconds`, a one-off whatever the corpus
size); `cache_vs_forward_after_trace` leaves it out.
"""

from __future__ import annotations

import os
import shutil
import time

from benchmarks import common

SHAPES = ("wav2vec2-base", "wavlm-large")


def checkpoint(root: str, shape: str) -> str:
    """A random-weight Hugging Face checkpoint of `shape` under `root`, built once."""
    from benchmarks.speech_backbones import hf_checkpoint

    if shape in ("tiny", "wav2vec2-base"):  # the speech_backbones benchmark's own
        return hf_checkpoint(root, "tiny" if shape == "tiny" else "base")
    from mer_tf.testing.speech_presets import WAVLM_LARGE, save_hf_speech_checkpoint

    path = os.path.join(root, f"{shape}-hf")
    if not os.path.exists(os.path.join(path, "model.safetensors")):
        save_hf_speech_checkpoint(path, {"wavlm-large": WAVLM_LARGE}[shape])
    return path


def _utterances(corpus, builder) -> list:
    """Every utterance's waveform at its own length, in memory."""
    from mer_tf.data.corpus import Split
    from mer_tf.data.pipeline import make_dataset

    waveforms = []
    for inputs, _ in make_dataset(corpus, Split(()), builder.readers(), 64, training=False,
                                  files=corpus.shard_paths()):
        for waveform, length in zip(inputs["waveform"].numpy(),
                                    inputs["waveform_length"].numpy()):
            waveforms.append(waveform[:length])
    return waveforms


def measure_shape(root: str, data_dir: str, shape: str, batch: int, repeats: int,
                  input_seconds: float) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from mer_tf.config import ModelConfig, SpeechConfig
    from mer_tf.data.corpus import PreparedCorpus
    from mer_tf.models.fusion import ModelBuilder
    from mer_tf.training.feature_cache import FeatureCache

    corpus = PreparedCorpus.open(data_dir)
    config = ModelConfig(modalities=("speech",), speech=SpeechConfig(
        model=checkpoint(root, shape), freeze=True, layers="weighted",
        input_seconds=input_seconds))
    builder = ModelBuilder(config, corpus.facts)
    tower = builder.towers["speech"]
    waveforms = _utterances(corpus, builder)
    audio_seconds = sum(len(w) for w in waveforms) / 16000
    features = tf.function(
        lambda w, n: tower.features({"waveform": w, "waveform_length": n}),
        input_signature=[tf.TensorSpec([None, None]), tf.TensorSpec([None], tf.int32)])

    def forward():
        start = time.perf_counter()
        for waveform in waveforms:
            np.asarray(features(waveform[None], np.array([len(waveform)], "int32"))
                       ["speech_features"])
        return time.perf_counter() - start

    def cache():
        shutil.rmtree(os.path.join(data_dir, "feature_cache"), ignore_errors=True)
        start = time.perf_counter()
        FeatureCache(corpus, builder, ("speech",)).ensure(batch_size=batch, progress=False)
        return time.perf_counter() - start

    first = (waveforms[0][None], np.array([len(waveforms[0])], "int32"))
    start = time.perf_counter()
    features(*first)  # traced once, as the cache traces its function once
    traced = time.perf_counter() - start
    start = time.perf_counter()
    features(*first)
    trace_seconds = traced - (time.perf_counter() - start)
    seconds = {k: common.median(v) for k, v in
               common.alternate({"forward": forward, "cache": cache}, repeats).items()}
    padded_model = builder.feature_model(("speech",))
    first = waveforms[:min(batch, 4)]
    padded = np.zeros((len(first), tower.input_length), "float32")
    for row, waveform in enumerate(first):
        padded[row, :len(waveform)] = waveform[:tower.input_length]
    lengths = np.array([min(len(w), tower.input_length) for w in first], "int32")
    inputs = {"waveform": padded, "waveform_length": lengths}
    padded_model.predict_on_batch(inputs)  # trace
    start = time.perf_counter()
    padded_model.predict_on_batch(inputs)
    padded_seconds = time.perf_counter() - start
    keras.backend.clear_session()
    rate = {"forward": audio_seconds / seconds["forward"],
            "cache": audio_seconds / seconds["cache"],
            "padded": lengths.sum() / 16000 / padded_seconds}
    return {
        "utterances": len(waveforms), "audio_seconds": round(audio_seconds, 1),
        "shortest_seconds": round(min(len(w) for w in waveforms) / 16000, 2),
        "longest_seconds": round(max(len(w) for w in waveforms) / 16000, 2),
        "input_seconds": input_seconds, "batch": batch,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "audio_seconds_per_second": {k: round(v, 2) for k, v in rate.items()},
        "cache_vs_forward": round(rate["cache"] / rate["forward"], 2),
        # the one-off part of the cache's time, the same for any corpus size
        "trace_seconds": round(trace_seconds, 2),
        "cache_vs_forward_after_trace": round(
            seconds["forward"] / (seconds["cache"] - trace_seconds), 2),
        "cache_vs_padded": round(rate["cache"] / rate["padded"], 2),
    }


def measure(root: str, shapes, utterances: int, mean_seconds: float, batch: int,
            repeats: int, input_seconds: float) -> dict:
    assets = common.bench_assets(root, utterances, mean_seconds=mean_seconds)
    return {shape: measure_shape(root, assets["data_dir"], shape, batch, repeats,
                                 input_seconds) for shape in shapes}


def main(argv=None) -> dict:
    parser = common.parser(__doc__)
    parser.set_defaults(utterances=40, repeats=2)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--mean-seconds", type=float, default=4.5, help="IEMOCAP's is ~4.5 s")
    parser.add_argument("--input-seconds", type=float, default=15.375)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args(argv)
    return common.report("extraction", measure(
        common.work_dir(args), args.shapes.split(","), args.utterances, args.mean_seconds,
        args.batch, args.repeats, args.input_seconds))


if __name__ == "__main__":
    main()
