"""What every benchmark reports beside its figures: machine, versions, command."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "gpu": _gpu_names(),
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _gpu_names() -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        return []


def versions() -> dict:
    out = {}
    for name in ("tensorflow", "keras", "keras_hub", "numpy"):
        try:
            module = __import__(name)
            out[name] = getattr(module, "__version__", "?")
        except ImportError:
            out[name] = None
    return out


def report(name: str, figures: dict, **extra) -> dict:
    """Prints and returns the benchmark's JSON object."""
    result = {
        "benchmark": name,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join([os.path.basename(sys.executable), "-m", f"benchmarks.{name}",
                             *sys.argv[1:]]),
        "machine": machine(),
        "versions": versions(),
        **extra,
        "figures": figures,
    }
    print(json.dumps(result, indent=2, sort_keys=False))
    out = os.environ.get("MER_TF_BENCH_JSON")
    if out:  # run_all collects results through this file
        with open(out, "w") as f:
            json.dump(result, f, indent=2)
    return result


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM).

    Not `ru_maxrss`: Linux carries it across fork and exec, so a child would
    report its parent's peak.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values):
    return statistics.median(values)


def bench_assets(work_dir: str, utterances: int = 320, mean_seconds: float = 2.0,
                 input_seconds: float = 3.0, seed: int = 0) -> dict:
    """A prepared synthetic corpus and small backbones under `work_dir` (reused when there).

    Returns paths: release, data_dir, speech (SavedModel), text (keras-hub preset).
    """
    from mer_tf.data import prepare as prep
    from mer_tf.synthetic.release import SyntheticConfig, ensure_release
    from mer_tf.testing.backbones import tiny_backbones

    tag = f"u{utterances}-s{mean_seconds:g}-seed{seed}"
    release = os.path.join(work_dir, f"release-{tag}")
    data_dir = os.path.join(work_dir, f"data-{tag}")
    config = SyntheticConfig(seed=seed, utterances=utterances, mean_seconds=mean_seconds)
    ensure_release(release, config)
    if not os.path.exists(os.path.join(data_dir, "manifest.json")):
        prep.prepare(prep.PrepareConfig(source=release, out_dir=data_dir), progress=False)
    truth = json.load(open(os.path.join(release, "SYNTHETIC.json")))["utterances"]
    backbones = tiny_backbones(os.path.join(work_dir, "backbones"),
                               [u["transcript"] for u in truth], input_seconds)
    return {"release": release, "data_dir": data_dir, **backbones}


def demo_model_config(assets: dict, modalities=("speech", "text", "mocap"), **model_overrides):
    """The `demo` preset's model (what `make demo` trains) on `assets`' backbones;
    `model_overrides` nest like the preset (`speech={"head": "flatten"}`)."""
    from mer_tf.config import ModelConfig, from_dict, presets

    backbones = {"speech": {"model": assets["speech"]}}
    if "text" in assets:
        backbones["text"] = {"preset": assets["text"]}
    model = presets.merge({"modalities": list(modalities), **backbones}, model_overrides)
    return from_dict(ModelConfig, presets.settings_of("demo", {"model": model})["model"])


def build_training(config, data_dir: str, batch_size: int, cached=(), training: bool = True,
                   sessions=(1, 2, 3, 4)):
    """(builder, model, dataset) made by the trainer's own `build_fold`: training-split
    statistics, feature cache, readers and all; training on `sessions`, nothing held out."""
    import tempfile

    import tensorflow as tf

    from mer_tf.config import presets, to_dict
    from mer_tf.data.corpus import PreparedCorpus
    from mer_tf.training.fold import build_fold
    from mer_tf.training.splits import Fold

    corpus = PreparedCorpus.open(data_dir)
    run = presets.run_config(
        "benchmark", {"model": to_dict(config),
                      "train": {"batch_size": batch_size, "cache_features": bool(cached)}},
        data_dir=data_dir, preset_name="demo", run_dir=tempfile.gettempdir()
    ).with_classes(corpus.classes)
    fold = Fold("benchmark", tuple(sessions), (5,))
    built = build_fold(run, fold, corpus, tf.distribute.get_strategy(), progress=False)
    if tuple(built.cached) != tuple(cached):
        raise ValueError(f"asked to cache {cached}, the model caches {built.cached}")
    dataset = corpus.dataset(fold.train_split(), built.readers, batch_size, training=training,
                             feature_cache=built.feature_cache, drop_remainder=True)
    return built.builder, built.model, dataset


def time_fit(model, dataset, steps: int) -> float:
    """Seconds for `steps` training steps (the model is compiled and warmed up before)."""
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return time.perf_counter() - start


def alternate(functions: dict, repeats: int) -> dict:
    """Runs each function once per round, in turn, `repeats` rounds; returns all timings.

    Alternating A and B spreads the shared machine's noise over both.
    """
    timings = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            timings[name].append(function())
    return timings


def paper_size_assets(work_dir: str) -> dict:
    """wav2vec2-base and BERT-base shapes with random weights (for GPU measurements)."""
    from mer_tf.testing.backbones import paper_size_backbones

    return paper_size_backbones(work_dir)


def accelerator() -> str:
    import tensorflow as tf

    return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"


def parser(description: str):
    import argparse

    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default=None, help="reuse corpora and backbones from here")
    p.add_argument("--utterances", type=int, default=320)
    p.add_argument("--repeats", type=int, default=3, help="alternating rounds (median reported)")
    return p


def work_dir(args) -> str:
    import tempfile

    path = args.work_dir or os.path.join(tempfile.gettempdir(), "mer_tf_bench")
    os.makedirs(path, exist_ok=True)
    return path


def timed_run(experiment: str, modalities, argv: list) -> float:
    """Seconds of one `run_single` run in a scratch run folder (removed after). A run
    that fails because it learned nothing still took its time: that is what is timed."""
    import shutil
    import tempfile

    from mer_tf.commands.experiment import FAILED_EXIT_CODE, run_single

    run_dir = tempfile.mkdtemp(prefix=f"mer_tf_bench_{experiment}_")
    start = time.perf_counter()
    try:
        run_single(experiment, tuple(modalities), "", [*argv, "--run-dir", run_dir])
    except SystemExit as error:
        if error.code != FAILED_EXIT_CODE:
            raise
    seconds = time.perf_counter() - start
    shutil.rmtree(run_dir, ignore_errors=True)
    return seconds
