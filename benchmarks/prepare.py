"""Preparation speed and memory on synthetic releases of growing size.

    python -m benchmarks.prepare --utterances 320 --sessions 1,2,5

Generates one synthetic release, then prepares the first 1, 2, … sessions of it,
each in a fresh process, and reports utterances per second and peak resident
memory. Time should grow linearly with the corpus, memory should stay flat
(each dialog is read once and released). The largest is also prepared by as many
worker processes as there are usable cores (`workers`, alternating with one process),
and the release's largest MOCAP_rotated file parsed by numpy.loadtxt and by the
pyarrow parser preparation uses (`mocap_parse`, alternating).
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

from benchmarks.common import alternate, median, peak_rss_mib, report


def _child(root: str, out: str, sessions: str, workers: str, repeats: str) -> None:
    """Runs in a fresh process: times prepare() alone, after imports, with each worker
    count in turn (`repeats` rounds), each time into an empty folder."""
    import tensorflow  # noqa: F401  (imported before the clock starts)

    from mer_tf.data import prepare as prep

    baseline = peak_rss_mib()
    manifests = []

    def run(count: int) -> float:
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        manifests.append(prep.prepare(prep.PrepareConfig(
            source=root, out_dir=out, sessions=tuple(int(s) for s in sessions.split(",")),
            workers=count), progress=False))
        return time.perf_counter() - start

    seconds = alternate({count: lambda count=count: run(int(count))
                         for count in workers.split(",")}, int(repeats))
    peak = peak_rss_mib()  # this process's: the workers' own memory is not counted
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak, "baseline_rss_mib": baseline,
                      "utterances": manifests[0]["utterances"]}))


def mocap_parse(root: str, repeats: int) -> dict:
    """MB/s of numpy.loadtxt (the parser before) and pyarrow on the release's largest
    MOCAP_rotated file (frame, time and 165 values a row, NaN gaps), alternating."""
    from mer_tf.data import mocap_files

    paths = [os.path.join(d, f) for d, _, files in os.walk(root) for f in files
             if os.path.basename(d) == "MOCAP_rotated"]
    path = max(paths, key=os.path.getsize)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    parsers = {"loadtxt": lambda: mocap_files._parse_lines(text, path),
               "pyarrow": lambda: mocap_files.parse_mocap_text(text, path)}
    slow, fast = parsers["loadtxt"](), parsers["pyarrow"]()
    if fast.times.tobytes() != slow.times.tobytes() or \
            fast.values.tobytes() != slow.values.tobytes():
        raise RuntimeError(f"{path}: pyarrow's parse differs from numpy.loadtxt's")

    def timed(parse):
        start = time.perf_counter()
        parse()
        return time.perf_counter() - start

    seconds = alternate({name: lambda parse=parse: timed(parse)
                         for name, parse in parsers.items()}, repeats)
    size = len(text.encode("utf-8"))
    rate = {name: size / 1e6 / median(times) for name, times in seconds.items()}
    return {"file": os.path.relpath(path, root), "bytes": size, "rows": len(fast.times),
            "values_per_row": fast.dim, "repeats": repeats,
            "loadtxt_mb_per_s": round(rate["loadtxt"], 1),
            "pyarrow_mb_per_s": round(rate["pyarrow"], 1),
            "speedup": round(rate["pyarrow"] / rate["loadtxt"], 2)}


def main(argv=None) -> dict:
    from mer_tf.synthetic.design import SyntheticConfig

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
    parser.add_argument("--repeats", type=int, default=1,
                        help="alternating rounds of one process and the workers (median)")
    parser.add_argument("--parse-repeats", type=int, default=5,
                        help="alternating rounds of the two MOCAP parsers (median)")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS,
                        metavar=("ROOT", "OUT", "SESSIONS", "WORKERS", "REPEATS"))
    args = parser.parse_args(argv)
    if args.child:
        return _child(*args.child)

    from mer_tf.data.prepare import usable_cores
    from mer_tf.synthetic.release import SyntheticConfig, generate

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
        cores = usable_cores()
        counts = [int(s) for s in args.sessions.split(",") if int(s) <= args.release_sessions]
        rows, workers = [], None
        for count in counts:
            out = os.path.join(work, f"prepared_{count}")
            sessions = ",".join(str(s) for s in range(1, count + 1))
            compare = count == counts[-1] and cores > 1
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.prepare", "--child", root, out, sessions,
                 f"1,{cores}" if compare else "1", str(args.repeats)],
                capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
            if child.returncode:
                raise RuntimeError(child.stderr[-3000:])
            measured = json.loads(child.stdout.strip().splitlines()[-1])
            seconds = median(measured["seconds"]["1"])
            labelled = sum(1 for t in truth if t.session <= count)
            rows.append({
                "sessions": count,
                "labelled_utterances_read": labelled,
                "utterances_written": measured["utterances"],
                "seconds": round(seconds, 2),
                "utterances_per_second": round(labelled / seconds, 1),
                "peak_rss_mib": round(measured["peak_rss_mib"], 1),
                "rss_growth_mib": round(measured["peak_rss_mib"] - measured["baseline_rss_mib"], 1),
            })
            if compare:
                parallel = median(measured["seconds"][str(cores)])
                workers = {"sessions": count, "labelled_utterances_read": labelled,
                           "workers": cores, "repeats": args.repeats,
                           "one_process_seconds": round(seconds, 2),
                           "workers_seconds": round(parallel, 2),
                           "speedup": round(seconds / parallel, 2)}
            shutil.rmtree(out)
        figures = {
            "release": {"utterances": len(truth), "sessions": args.release_sessions,
                        "mean_seconds": args.mean_seconds,
                        "bytes": release_bytes, "generation_seconds": round(generation_seconds, 2)},
            "runs": rows,
            "workers": workers,  # None on one core
            "mocap_parse": mocap_parse(root, args.parse_repeats),
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
