"""Runs every benchmark, each in a fresh process, and writes benchmarks/results.json.

    python -m benchmarks.run_all [--out benchmarks/results.json] [--tiny] [--only A,B --merge]

`make bench` calls this. The default sizes take about 45 minutes on two CPU
cores; `--tiny` is the smoke-test size the test suite uses. Prints the benchmark page's
table at the end (`python -m benchmarks.report` prints it again from the file).
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

from benchmarks.common import machine, versions

BENCHMARKS = {
    "prepare": (["--utterances", "320", "--sessions", "1,2,5"],
                ["--utterances", "40", "--sessions", "1,5"]),
    "corpus_scale": (["--sizes", "2000,10000,50000"], ["--sizes", "200,400"]),
    "pipeline": (["--utterances", "320", "--batches", "15", "--repeats", "3"],
                 ["--utterances", "40", "--batches", "2", "--repeats", "1",
                  "--subsets", "speech+text+mocap"]),
    "train_step": (["--utterances", "320", "--steps", "10", "--repeats", "3"],
                   ["--utterances", "40", "--steps", "2", "--repeats", "1"]),
    "features": (["--utterances", "320", "--repeats", "3", "--loso-epochs", "3"],
                 ["--utterances", "40", "--repeats", "1", "--loso-epochs", "1",
                  "--loso-folds", "5"]),
    "inference": (["--utterances", "320", "--calls", "30"],
                  ["--utterances", "40", "--calls", "3"]),
    "memory": (["--utterances", "1600"], ["--utterances", "40", "--mean-seconds", "1.5"]),
    "model_size": (["--sizes", "demo,paper"], ["--sizes", "demo", "--utterances", "40"]),
    "recording": (["--minutes", "1,10,60"],
                  ["--minutes", "0.25,1", "--modes", "turns", "--utterances", "40"]),
    "speech_backbones": (["--size", "base", "--batch", "1", "--repeats", "3"],
                         ["--size", "tiny", "--repeats", "1", "--epoch-utterances", "20"]),
    "extraction": (["--repeats", "2"],
                   ["--shapes", "tiny", "--utterances", "40", "--repeats", "1"]),
    "laptop_recipe": ([], ["--speech-shape", "tiny", "--utterances", "40", "--epochs", "1"]),
}


def _run(chosen, tiny: bool, work: str, started: float) -> dict:
    """Runs each chosen benchmark in its own process; returns their JSON objects by name."""
    results = {}
    for name in chosen:
        flags = BENCHMARKS[name][1 if tiny else 0]
        if name not in ("prepare", "corpus_scale"):
            flags = [*flags, "--work-dir", work]
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            target = handle.name
        print(f"[{time.perf_counter() - started:6.0f}s] benchmarks.{name} {' '.join(flags)}",
              file=sys.stderr, flush=True)
        env = {**os.environ, "MER_TF_BENCH_JSON": target, "TF_CPP_MIN_LOG_LEVEL": "2"}
        completed = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *flags],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True)
        if completed.returncode:
            raise RuntimeError(f"benchmarks.{name} failed:\n{completed.stderr[-4000:]}")
        with open(target) as f:
            results[name] = json.load(f)
        os.unlink(target)
    return results


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results.json")
    parser.add_argument("--tiny", action="store_true", help="smoke-test sizes")
    parser.add_argument("--only", default="", help="comma-separated benchmarks to run")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--merge", action="store_true",
                        help="keep the other benchmarks' results already in --out (each "
                             "result carries its own date, machine and command)")
    args = parser.parse_args(argv)
    work = args.work_dir or tempfile.mkdtemp(prefix="mer_tf_bench_")
    chosen = [b for b in BENCHMARKS if not args.only or b in args.only.split(",")]
    started = time.perf_counter()
    try:
        results = _run(chosen, args.tiny, work, started)
    finally:
        if not args.work_dir:  # several GiB of corpora and backbones made for this run
            shutil.rmtree(work, ignore_errors=True)
    summary = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "versions": versions(),
               "tiny": args.tiny, "seconds": round(time.perf_counter() - started, 1),
               "results": results}
    if args.merge and os.path.exists(args.out):
        with open(args.out) as f:
            earlier = json.load(f)
        summary = {**earlier, "results": {**earlier["results"], **results},
                   "merged": sorted({*earlier.get("merged", []), *results})}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".tmp", "w") as f:
        json.dump(summary, f, indent=2)
    os.replace(args.out + ".tmp", args.out)
    from benchmarks.report import markdown

    print(markdown(summary))
    return summary


if __name__ == "__main__":
    main()
