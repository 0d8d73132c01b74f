"""Peak memory of a training run does not grow with the corpus (streaming).

    python -m benchmarks.memory [--utterances 1600]

Trains the full model for one epoch (paper-size inputs: 246 000-sample audio,
128 tokens, 256 motion-capture frames; small towers) on one, two and four
training sessions of a synthetic corpus (IEMOCAP-like 4.5 s utterances), each in
a fresh process, and reports the peak resident memory of each run. Memory grows
until the shuffle buffer (512 serialized utterances) is full, then stays flat. Beside it,
what the original notebooks' approach needs for the same corpus: every waveform held as
float64, padded to 246 000 samples.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks import common


def _child(data_dir: str, speech: str, text: str, sessions: str, modalities: str) -> None:
    """One epoch in this process on `sessions`; prints seconds and peak RSS."""
    import keras
    import keras_hub

    from mer_tf.training.fold import compile_model

    # Paper-size text and mocap inputs (128 tokens where the preset allows it).
    limit = keras_hub.models.BertBackbone.from_preset(text).max_sequence_length
    config = common.demo_model_config({"speech": speech, "text": text}, modalities.split("+"),
                                      text={"sequence_length": min(128, limit)},
                                      mocap={"max_frames": 256})
    _, model, dataset = common.build_training(config, data_dir, 8,
                                              sessions=tuple(int(s) for s in sessions))
    compile_model(model, keras.optimizers.Adam(1e-5))
    baseline = common.peak_rss_mib()
    start = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mib": common.peak_rss_mib(),
                      "before_training_mib": baseline}))


def measure(assets: dict, session_sets=("1", "12", "1234"),
            modalities=("speech", "text", "mocap")) -> dict:
    """Trains one epoch on growing sets of sessions of one corpus, each in a fresh process."""
    from mer_tf.data.corpus import read_manifest

    manifest = read_manifest(assets["data_dir"])
    rows = []
    for sessions in session_sets:
        train = sum(manifest["sessions"][s]["utterances"] for s in sessions)
        result = subprocess.run([sys.executable, "-m", "benchmarks.memory", "--child",
                                 assets["data_dir"], assets["speech"], assets["text"], sessions,
                                 "+".join(modalities)],
                                capture_output=True, text=True,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if result.returncode:
            raise RuntimeError(result.stderr[-3000:])
        measured = json.loads(result.stdout.strip().splitlines()[-1])
        rows.append({"training_sessions": sessions, "training_utterances": train,
                     "peak_rss_mib": round(measured["peak_rss_mib"], 1),
                     "growth_during_training_mib": round(
                         measured["peak_rss_mib"] - measured["before_training_mib"], 1),
                     "epoch_seconds": round(measured["seconds"], 1),
                     "paper_in_memory_audio_mib": round(train * 246000 * 8 / 2**20, 1)})
    return {"modalities": list(modalities), "runs": rows,
            "corpus_ratio": round(rows[-1]["training_utterances"] / rows[0]["training_utterances"],
                                  2),
            "peak_memory_ratio": round(rows[-1]["peak_rss_mib"] / rows[0]["peak_rss_mib"], 2),
            "paper_3838_utterances_in_memory_gib": round(3838 * 246000 * 8 / 2**30, 2)}


def main(argv=None) -> dict:
    parser = common.parser(__doc__)
    parser.add_argument("--mean-seconds", type=float, default=4.5)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(*args.child)
    assets = common.bench_assets(common.work_dir(args), args.utterances,
                                 mean_seconds=args.mean_seconds, input_seconds=15.375)
    return common.report("memory", measure(assets))


if __name__ == "__main__":
    main()
