"""The Keras 3 wav2vec2 (from a Hugging Face checkpoint) against the paper's TF-Hub
SavedModel path, at base size, on the same input, in one run.

    python -m benchmarks.speech_backbones [--size base|tiny] [--seconds 15.375]

Both are wav2vec2-base shapes with random weights (our stand-in builders; a real
checkpoint of either kind has the same shapes and cost). Reports, alternating the
variants so the shared machine's noise falls on both: forward and training-step
seconds per batch (Keras 3 with XLA off and on; the SavedModel cannot be
XLA-compiled from outside), the peak memory of each in its own process, and an epoch
of speech-only training fine-tuning end to end against one on cached features
(`--freeze speech --cache-features`), with what building the cache cost.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks import common

VARIANTS = ("tfhub", "keras3", "keras3_xla")


def hf_checkpoint(root: str, size: str) -> str:
    """A Hugging Face wav2vec2 checkpoint of base (or tiny) shape under `root`, built once
    (no TensorFlow needed: the Keras 3 benchmark uses it under JAX too)."""
    from mer_tf.testing.speech_presets import WAV2VEC2_BASE, save_hf_speech_checkpoint

    config = WAV2VEC2_BASE if size != "tiny" else {
        **WAV2VEC2_BASE, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 64, "conv_dim": [32] * 7, "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 4}
    hf = os.path.join(root, f"wav2vec2-{size}-hf")
    if not os.path.exists(os.path.join(hf, "model.safetensors")):
        save_hf_speech_checkpoint(hf, config)
    return hf


def backbones(root: str, size: str) -> dict:
    """{"tfhub": SavedModel, "hf": HF checkpoint} of wav2vec2-base (or tiny) shape."""
    import dataclasses

    from mer_tf.testing.backbones import build_atomically, paper_size_backbones
    from mer_tf.testing.wav2vec2_savedmodel import TINY, save_wav2vec2

    if size == "tiny":
        tfhub = os.path.join(root, "wav2vec2-tiny-1s")
        if not os.path.exists(os.path.join(tfhub, "saved_model.pb")):
            build_atomically(tfhub, lambda path: save_wav2vec2(
                path, dataclasses.replace(TINY, input_length=16000)))
    else:
        tfhub = paper_size_backbones(root)["speech"]
    return {"tfhub": tfhub, "hf": hf_checkpoint(root, size)}


def _model(variant: str, paths: dict, samples: int):
    """waveform, length -> mean of the last layer -> Dense(4), compiled for training."""
    import keras

    from mer_tf.models.layers import MaskedMeanPooling
    from mer_tf.models.speech.hf import HFSpeechBackbone
    from mer_tf.models.speech.tfhub import TFHubSpeechBackbone
    from mer_tf.training.fold import compile_model

    waveform = keras.Input((samples,), name="waveform")
    length = keras.Input((), dtype="int32", name="waveform_length")
    backbone = (TFHubSpeechBackbone(paths["tfhub"]) if variant == "tfhub"
                else HFSpeechBackbone(paths["hf"]))
    states, mask = backbone(waveform, length)  # one contract, whichever kind
    frames = states[:, -1]
    outputs = keras.layers.Dense(4, activation="softmax")(MaskedMeanPooling()(frames, mask))
    model = keras.Model({"waveform": waveform, "waveform_length": length}, outputs)
    compile_model(model, keras.optimizers.Adam(1e-5), jit_compile=variant == "keras3_xla")
    return model


def _timers(model, batch: int, samples: int):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    inputs = {"waveform": rng.normal(0, 0.1, (batch, samples)).astype("float32"),
              "waveform_length": np.full((batch,), samples, "int32")}
    labels = np.zeros((batch,), "int32")
    jit = bool(model.jit_compile)
    forward = tf.function(lambda x: model(x, training=False), jit_compile=jit)

    def timed(function):
        start = time.perf_counter()
        function()
        return time.perf_counter() - start

    run_forward = lambda: np.asarray(forward(inputs))  # noqa: E731
    run_step = lambda: model.train_on_batch(inputs, labels)  # noqa: E731
    run_forward(), run_step()  # trace, compile, warm up
    return lambda: timed(run_forward), lambda: timed(run_step)


def _child(variant: str, paths: str, batch: int, samples: int) -> None:
    """One variant in this process: a forward pass and a training step; peak memory."""
    model = _model(variant, json.loads(paths), samples)
    forward, step = _timers(model, batch, samples)
    print(json.dumps({"forward_seconds": forward(), "step_seconds": step(),
                      "peak_rss_mib": common.peak_rss_mib()}))


def measure(root: str, size: str, seconds: float, batch: int, repeats: int,
            epoch_utterances: int, memory_variants=VARIANTS, data_dir: str | None = None,
            variants=VARIANTS) -> dict:
    import keras

    paths = backbones(root, size)
    samples = int(round(seconds * 16000)) if size != "tiny" else 16000  # tiny SavedModel: 1 s
    timers = {}
    for variant in variants:
        forward, step = _timers(_model(variant, paths, samples), batch, samples)
        timers[f"{variant}_forward"], timers[f"{variant}_step"] = forward, step
    timings = common.alternate(timers, repeats)
    median = {k: round(common.median(v), 3) for k, v in timings.items()}
    keras.backend.clear_session()
    memory = {}
    for variant in memory_variants:
        result = subprocess.run([sys.executable, "-m", "benchmarks.speech_backbones", "--child",
                                 variant, json.dumps(paths), str(batch), str(samples)],
                                capture_output=True, text=True,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if result.returncode:
            raise RuntimeError(result.stderr[-3000:])
        memory[variant] = round(json.loads(result.stdout.strip().splitlines()[-1])
                                ["peak_rss_mib"], 1)
    return {
        "size": size, "input_seconds": samples / 16000, "batch": batch,
        "seconds_per_batch": median,
        "all_seconds": {k: [round(x, 3) for x in v] for k, v in timings.items()},
        "keras3_vs_tfhub_forward": _ratio(median, "tfhub_forward", "keras3_forward"),
        "keras3_vs_tfhub_step": _ratio(median, "tfhub_step", "keras3_step"),
        "xla_speedup_forward": _ratio(median, "keras3_forward", "keras3_xla_forward"),
        "xla_speedup_step": _ratio(median, "keras3_step", "keras3_xla_step"),
        "peak_rss_mib": memory,
        "epoch": cached_epoch(root, paths["hf"], epoch_utterances, batch, data_dir),
    }


def _ratio(median: dict, slower: str, faster: str):
    return round(median[slower] / median[faster], 2) if faster in median else None


def cached_epoch(root: str, hf: str, utterances: int, batch: int,
                 data_dir: str | None = None) -> dict:
    """Speech-only training epoch: fine-tuning the Keras 3 wav2vec2 end to end against the
    same model frozen on cached features (the trainer's own build_fold), on a synthetic
    corpus of `utterances` (or the prepared corpus in `data_dir`)."""
    import shutil

    from mer_tf.data.corpus import PreparedCorpus, Split

    assets = ({"data_dir": data_dir} if data_dir
              else common.bench_assets(root, utterances, mean_seconds=3.0))
    steps = PreparedCorpus.open(assets["data_dir"]).count(Split((1, 2, 3, 4))) // batch
    shutil.rmtree(os.path.join(assets["data_dir"], "feature_cache"), ignore_errors=True)
    runners, cache_seconds = {}, None
    for name, freeze in (("end_to_end", False), ("cached", True)):
        config = common.demo_model_config({**assets, "speech": hf}, ("speech",),
                                          speech={"freeze": freeze, "input_seconds": 3.0})
        start = time.perf_counter()
        _, model, dataset = common.build_training(config, assets["data_dir"], batch,
                                                  cached=("speech",) if freeze else ())
        if freeze:
            cache_seconds = time.perf_counter() - start
        dataset = dataset.repeat()
        common.time_fit(model, dataset, 1)  # trace and warm up
        runners[name] = lambda m=model, d=dataset: common.time_fit(m, d, steps)
    seconds = {k: common.median(v) for k, v in common.alternate(runners, 1).items()}
    return {"training_utterances": steps * batch, "input_seconds": 3.0,
            "epoch_seconds": {k: round(v, 3) for k, v in seconds.items()},
            "cache_build_seconds": round(cache_seconds, 1),
            "speedup_cached_vs_end_to_end": round(seconds["end_to_end"] / seconds["cached"], 1)}


def main(argv=None) -> dict:
    parser = common.parser(__doc__)
    parser.add_argument("--size", choices=("base", "tiny"), default="base")
    parser.add_argument("--seconds", type=float, default=15.375)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--epoch-utterances", type=int, default=40)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        variant, paths, batch, samples = args.child
        return _child(variant, paths, int(batch), int(samples))
    return common.report("speech_backbones", measure(
        common.work_dir(args), args.size, args.seconds, args.batch, args.repeats,
        args.epoch_utterances))


if __name__ == "__main__":
    main()
