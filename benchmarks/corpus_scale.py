"""Preparation at MSP-Podcast's scale: time per utterance and peak memory as the corpus
grows (2 000 to 50 000 short segments in MSP-Podcast's layout).

    python -m benchmarks.corpus_scale --sizes 2000,10000,50000

Writes the largest release once (`mer_tf.synthetic.msp_podcast.write_clips`: 0.25 s
segments, 50 to a podcast); each smaller size is a release of its own whose Audios/ and
Transcripts/ are links to the largest's and whose label file lists its first N segments.
Each size is prepared in a fresh process with one worker (the figure is preparation's
own cost, not the cores'), timed from the index to the manifest. Time per utterance and
peak resident memory should stay flat: the index holds a few hundred bytes an utterance,
and each shard's examples are written as they are read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks.common import peak_rss_mib, report


def _child(source: str, out: str) -> None:
    import tensorflow  # noqa: F401  (imported before the clock starts)

    from mer_tf.data import prepare as prep

    baseline = peak_rss_mib()
    start = time.perf_counter()
    manifest = prep.prepare(prep.PrepareConfig(source=source, out_dir=out,
                                               corpus="msp-podcast", workers=1),
                            progress=False)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_rss_mib(),
                      "baseline_rss_mib": baseline, "utterances": manifest["utterances"]}))


def _release_of(largest: str, size: int, work: str) -> str:
    """A release listing the first `size` segments of the largest one."""
    root = os.path.join(work, f"release_{size}")
    os.makedirs(os.path.join(root, "Labels"), exist_ok=True)
    for folder in ("Audios", "Transcripts"):
        if not os.path.exists(os.path.join(root, folder)):
            os.symlink(os.path.join(largest, folder), os.path.join(root, folder))
    with open(os.path.join(largest, "Labels", "labels_consensus.csv")) as f:
        lines = f.read().splitlines()
    with open(os.path.join(root, "Labels", "labels_consensus.csv"), "w") as f:
        f.write("\n".join(lines[:size + 1]) + "\n")
    return root


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,10000,50000",
                        help="comma-separated segment counts, smallest first")
    parser.add_argument("--seconds", type=float, default=0.25, help="each segment's length")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS, metavar=("SOURCE", "OUT"))
    args = parser.parse_args(argv)
    if args.child:
        return _child(*args.child)

    from mer_tf.synthetic.msp_podcast import write_clips

    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.work_dir or tempfile.mkdtemp(prefix="mer_tf_bench_scale_")
    try:
        largest = os.path.join(work, "largest")
        start = time.perf_counter()
        write_clips(largest, max(sizes), args.seconds)
        written = time.perf_counter() - start
        rows = []
        for size in sizes:
            out = os.path.join(work, f"prepared_{size}")
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.corpus_scale", "--child",
                 _release_of(largest, size, work), out],
                capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
            if child.returncode:
                raise RuntimeError(child.stderr[-3000:])
            measured = json.loads(child.stdout.strip().splitlines()[-1])
            rows.append({"segments": size, "utterances_written": measured["utterances"],
                         "seconds": round(measured["seconds"], 2),
                         "ms_per_utterance": round(1000 * measured["seconds"] / size, 3),
                         "peak_rss_mib": round(measured["peak_rss_mib"], 1),
                         "rss_growth_mib": round(measured["peak_rss_mib"]
                                                 - measured["baseline_rss_mib"], 1)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            shutil.rmtree(out)
        first, last = rows[0], rows[-1]
        figures = {"segment_seconds": args.seconds, "release_write_seconds": round(written, 1),
                   "runs": rows,
                   "time_per_utterance_ratio_largest_vs_smallest": round(
                       last["ms_per_utterance"] / first["ms_per_utterance"], 2),
                   "peak_memory_ratio_largest_vs_smallest": round(
                       last["peak_rss_mib"] / first["peak_rss_mib"], 2),
                   "size_ratio": round(last["segments"] / first["segments"], 1)}
        return report("corpus_scale", figures)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
