"""Preparation speed and memory on synthetic releases of growing size.

    python -m benchmarks.prepare --utterances 320 --sessions 1,2,5

Generates one synthetic release, then prepares the first 1, 2, … sessions of it,
each in a fresh process, and reports utterances per second and peak resident
memory. Time should grow linearly with the corpus, memory should stay flat
(each dialog is read once and released).
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


def _child(root: str, out: str, sessions: str) -> None:
    """Runs in a fresh process: times prepare() alone, after imports."""
    import tensorflow  # noqa: F401  (imported before the clock starts)

    from mer_tf.data import prepare as prep

    baseline = peak_rss_mib()
    start = time.perf_counter()
    manifest = prep.prepare(prep.PrepareConfig(
        source=root, out_dir=out, sessions=tuple(int(s) for s in sessions.split(","))),
        progress=False)
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak, "baseline_rss_mib": baseline,
                      "utterances": manifest["utterances"]}))


def main(argv=None) -> dict:
    from mer_tf.testing.synthetic_design import SyntheticConfig

    synthetic = SyntheticConfig()  # the release's defaults, as experiments.prepare has them
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utterances", type=int, default=synthetic.utterances,
                        help="labelled utterances over the release's sessions")
    parser.add_argument("--release-sessions", type=int, default=5,
                        help="sessions the release has (1 with --utterances 2000 "
                             "--mean-seconds 4.5 is one full-size IEMOCAP session)")
    parser.add_argument("--mean-seconds", type=float, default=synthetic.mean_seconds)
    parser.add_argument("--dialogs-per-session", type=int, default=synthetic.dialogs_per_session,
                        help="IEMOCAP has about 30 dialogs per session")
    parser.add_argument("--sessions", default="1,2,5",
                        help="comma-separated session counts to prepare")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--child", nargs=3, metavar=("ROOT", "OUT", "SESSIONS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(*args.child)

    from mer_tf.testing.synthetic import SyntheticConfig, generate

    work = args.work_dir or tempfile.mkdtemp(prefix="mer_tf_bench_prepare_")
    try:
        config = SyntheticConfig(utterances=args.utterances, sessions=args.release_sessions,
                                 mean_seconds=args.mean_seconds,
                                 dialogs_per_session=args.dialogs_per_session)
        root = os.path.join(work, "IEMOCAP_full_release")
        start = time.perf_counter()
        truth = generate(root, config)
        generation_seconds = time.perf_counter() - start
        release_bytes = sum(os.path.getsize(os.path.join(d, f))
                            for d, _, files in os.walk(root) for f in files)
        rows = []
        for count in [int(s) for s in args.sessions.split(",")]:
            if count > args.release_sessions:
                continue
            out = os.path.join(work, f"prepared_{count}")
            sessions = ",".join(str(s) for s in range(1, count + 1))
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.prepare", "--child", root, out, sessions],
                capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
            if child.returncode:
                raise RuntimeError(child.stderr[-3000:])
            measured = json.loads(child.stdout.strip().splitlines()[-1])
            labelled = sum(1 for t in truth if t.session <= count)
            rows.append({
                "sessions": count,
                "labelled_utterances_read": labelled,
                "utterances_written": measured["utterances"],
                "seconds": round(measured["seconds"], 2),
                "utterances_per_second": round(labelled / measured["seconds"], 1),
                "peak_rss_mib": round(measured["peak_rss_mib"], 1),
                "rss_growth_mib": round(measured["peak_rss_mib"] - measured["baseline_rss_mib"], 1),
            })
            shutil.rmtree(out)
        figures = {
            "release": {"utterances": len(truth), "sessions": args.release_sessions,
                        "mean_seconds": args.mean_seconds,
                        "bytes": release_bytes, "generation_seconds": round(generation_seconds, 2)},
            "runs": rows,
        }
        if len(rows) >= 2:
            first, last = rows[0], rows[-1]
            figures["time_ratio_largest_vs_smallest"] = round(last["seconds"] / first["seconds"], 2)
            figures["size_ratio_largest_vs_smallest"] = round(
                last["labelled_utterances_read"] / first["labelled_utterances_read"], 2)
            figures["peak_memory_ratio_largest_vs_smallest"] = round(
                last["peak_rss_mib"] / first["peak_rss_mib"], 2)
            figures["seconds_per_utterance_ratio_largest_vs_smallest"] = round(
                (last["seconds"] / last["labelled_utterances_read"])
                / (first["seconds"] / first["labelled_utterances_read"]), 2)
        return report("prepare", figures)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
