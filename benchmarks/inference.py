"""Latency and throughput of an exported SavedModel, served as TF Serving would.

    python -m benchmarks.inference [--calls 30]

One utterance of 4, 10 and 15 s of audio with its transcript and motion
capture: median and p95 latency of `serve`, and throughput for batches of 16.
Measured on the demo model (3 s audio input) and on the same towers with the
TF-Hub wav2vec2's fixed input length (246 000 samples): that model pads every
utterance to 15.4 s, so its latency does not depend on the utterance's length.
"""

from __future__ import annotations

import os
import time

import numpy as np

from benchmarks import common


def _export(assets, speech: str, path: str) -> str:
    """The demo model on `speech`, exported the way a run exports it."""
    from mer_tf.data.corpus import PreparedCorpus
    from mer_tf.models.fusion import ModelBuilder
    from mer_tf.serving.export import export_info, export_saved_model

    config = common.demo_model_config({**assets, "speech": speech})
    builder = ModelBuilder(config, PreparedCorpus.open(assets["data_dir"]).facts)
    export_saved_model(builder, builder.model(), export_info(config, builder, "benchmark"),
                       path)
    return path


def _inputs(seconds: float, batch: int, rng):
    import tensorflow as tf

    samples = int(seconds * 16000)
    frames = int(seconds * 30)
    return (tf.constant(rng.normal(0, 0.1, (batch, samples)).astype(np.float32)),
            tf.constant([samples] * batch, tf.int32),
            tf.constant(["well i really did not expect that at all today"] * batch),
            tf.constant(rng.normal(0, 1, (batch, frames, 189)).astype(np.float32)),
            tf.constant(np.ones((batch, frames), np.int32)))


def _latency(model, inputs, calls: int) -> dict:
    model.serve(*inputs)  # warm up
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        model.serve(*inputs)["probabilities"].numpy()
        times.append(time.perf_counter() - start)
    return {"median_ms": round(1000 * float(np.median(times)), 1),
            "p95_ms": round(1000 * float(np.percentile(times, 95)), 1)}


def measure(assets, calls: int, root: str, speech_models: dict) -> dict:
    """`speech_models`: variant name -> wav2vec2 SavedModel (they differ in input length)."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    rng = np.random.default_rng(0)
    out = {}
    for name, speech in speech_models.items():
        path = _export(assets, speech, os.path.join(root, f"export-{name}"))
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
        model = tf.saved_model.load(path)
        rows = {}
        for seconds in (4.0, 10.0, 15.0):
            single = _latency(model, _inputs(seconds, 1, rng), calls)
            batch = _inputs(seconds, 16, rng)
            model.serve(*batch)
            start = time.perf_counter()
            for _ in range(max(calls // 10, 2)):
                model.serve(*batch)["probabilities"].numpy()
            throughput = 16 * max(calls // 10, 2) / (time.perf_counter() - start)
            rows[f"{seconds:g}s"] = {**single,
                                     "batch16_utterances_per_second": round(throughput, 1)}
        out[name] = {"saved_model_mib": round(size / 2**20, 2), "latency": rows}
    return out


def main(argv=None) -> dict:
    parser = common.parser(__doc__)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args(argv)
    root = common.work_dir(args)
    assets = common.bench_assets(root, args.utterances)
    speech = {"demo_model_3s_input": assets["speech"],
              "tfhub_length_input": common.bench_assets(root, args.utterances,
                                                        input_seconds=15.375)["speech"]}
    return common.report("inference", measure(assets, args.calls, root, speech))


if __name__ == "__main__":
    main()
