"""Whole recordings: speed and peak memory of `predict --recording` for 1, 10 and 60 minutes.

    python -m benchmarks.recording [--minutes 1,10,60] [--modes turns,vad]

A synthetic conversation (two speakers, sentences of 1.5-4 s between pauses of 1-2.5 s,
stereo at 44.1 kHz, so every block is also downmixed and resampled) of each length,
predicted by the demo-shaped model (3 s speech input, modality dropout 0.3; random
weights: speed does not depend on them) in a fresh process each: with its turns from a
TSV (speech + text, turns longer than 3 s in windows), and without (voice activity
detection, then speech alone). Reported: seconds of audio per second of wall time and
the process's peak resident memory, and each length's peak over the 1-minute one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from benchmarks import common


def _child(model: str, wav: str, turns: str) -> None:
    """Predicts the recording in this process; prints seconds, rows and peak RSS."""
    from mer_tf.serving.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer(model)
    loaded = common.peak_rss_mib()
    start = time.perf_counter()
    rows = recognizer.predict_recording(wav, turns or None)
    print(json.dumps({"seconds": time.perf_counter() - start, "rows": len(rows),
                      "peak_rss_mib": common.peak_rss_mib(), "after_loading_mib": loaded}))


def export_model(assets: dict, path: str) -> str:
    """The demo model (random weights) exported as a run exports it."""
    from mer_tf.data.corpus import PreparedCorpus
    from mer_tf.models.fusion import ModelBuilder
    from mer_tf.serving.export import export_info, export_saved_model

    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    config = common.demo_model_config(assets)
    builder = ModelBuilder(config, PreparedCorpus.open(assets["data_dir"]).facts)
    export_saved_model(builder, builder.model(), export_info(config, builder, "benchmark"),
                       path)
    return path


def conversation(root: str, minutes: float) -> tuple[str, str, int]:
    """(wav, tsv, turns) of a `minutes`-long conversation under `root` (reused)."""
    from mer_tf.synthetic.conversation import make_conversation, write_tsv

    wav = os.path.join(root, f"conversation-{minutes:g}min.wav")
    tsv = wav[:-4] + ".tsv"
    if not os.path.exists(tsv):
        turns = make_conversation(wav, minutes * 60, rate=44100, channels=2)
        write_tsv(turns, tsv)
    return wav, tsv, sum(1 for _ in open(tsv)) - 1


def measure(model: str, root: str, minutes=(1, 10, 60), modes=("turns", "vad")) -> dict:
    out = {}
    for mode in modes:
        rows = {}
        for length in minutes:
            wav, tsv, turns = conversation(root, length)
            result = subprocess.run([sys.executable, "-m", "benchmarks.recording", "--child",
                                     model, wav, tsv if mode == "turns" else ""],
                                    capture_output=True, text=True, env={
                                        **os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
            if result.returncode:
                raise RuntimeError(f"recording child failed:\n{result.stderr[-3000:]}")
            child = json.loads(result.stdout.strip().splitlines()[-1])
            rows[f"{length:g}min"] = {
                "turns_planted": turns, "rows": child["rows"],
                "audio_seconds_per_second": round(length * 60 / child["seconds"], 1),
                "seconds": round(child["seconds"], 1),
                "peak_rss_mib": round(child["peak_rss_mib"], 1),
                "after_loading_mib": round(child["after_loading_mib"], 1)}
        first = rows[f"{minutes[0]:g}min"]["peak_rss_mib"]
        for row in rows.values():
            row["peak_over_shortest"] = round(row["peak_rss_mib"] / first, 3)
        out[mode] = rows
    return out


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child(*argv[1:4])
        return {}
    parser = common.parser(__doc__)
    parser.add_argument("--minutes", default="1,10,60")
    parser.add_argument("--modes", default="turns,vad")
    args = parser.parse_args(argv)
    root = common.work_dir(args)
    assets = common.bench_assets(root, args.utterances)
    model = export_model(assets, os.path.join(root, "export-recording"))
    minutes = tuple(float(m) for m in args.minutes.split(","))
    return common.report("recording", measure(model, root, minutes,
                                              tuple(args.modes.split(","))))


if __name__ == "__main__":
    main()
