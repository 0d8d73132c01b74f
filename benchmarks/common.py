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
    import dataclasses

    from mer_tf.data import prepare as prep
    from mer_tf.data.synthetic import SyntheticConfig
    from mer_tf.models.text import save_tiny_bert_preset
    from mer_tf.models.wav2vec2_savedmodel import TINY, save_wav2vec2

    tag = f"u{utterances}-s{mean_seconds:g}-seed{seed}"
    release = os.path.join(work_dir, f"release-{tag}")
    data_dir = os.path.join(work_dir, f"data-{tag}")
    config = SyntheticConfig(seed=seed, utterances=utterances, mean_seconds=mean_seconds)
    prep.ensure_synthetic_release(release, config)
    if not os.path.exists(os.path.join(data_dir, "manifest.json")):
        prep.prepare(prep.PrepareConfig(source=release, out_dir=data_dir), progress=False)
    speech = os.path.join(work_dir, f"wav2vec2-tiny-{input_seconds:g}s")
    if not os.path.exists(os.path.join(speech, "saved_model.pb")):
        save_wav2vec2(speech, dataclasses.replace(TINY, input_length=int(input_seconds * 16000)))
    text = os.path.join(work_dir, "bert-tiny")
    if not os.path.exists(os.path.join(text, "config.json")):
        truth = json.load(open(os.path.join(release, "SYNTHETIC.json")))["utterances"]
        save_tiny_bert_preset(text, [u["transcript"] for u in truth])
    return {"release": release, "data_dir": data_dir, "speech": speech, "text": text}


def demo_model_config(assets: dict, modalities=("speech", "text", "mocap"), **model_overrides):
    """The demo-size model on `assets` (what `make demo` trains)."""
    import dataclasses

    from mer_tf.config import MocapConfig, ModelConfig, SpeechConfig, TextConfig

    config = ModelConfig(modalities=tuple(modalities),
                         speech=SpeechConfig(handle=assets["speech"]),
                         text=TextConfig(preset=assets["text"], sequence_length=32),
                         mocap=MocapConfig(max_frames=96))
    for key, value in model_overrides.items():
        if isinstance(value, dict):
            value = dataclasses.replace(getattr(config, key), **value)
        config = dataclasses.replace(config, **{key: value})
    return config


def build_training(config, data_dir: str, batch_size: int, cached=(), training: bool = True,
                   sessions=(1, 2, 3, 4)):
    """(builder, model, dataset) as the trainer makes them, for timing."""
    from mer_tf.data.pipeline import input_spec, make_dataset, mocap_input_shape
    from mer_tf.data.prepare import read_manifest
    from mer_tf.models.fusion import ModelBuilder
    from mer_tf.models.text import load_text_preprocessor
    from mer_tf.training.features import FeatureCache

    manifest = read_manifest(data_dir)
    frames, features = mocap_input_shape(config, manifest)
    builder = ModelBuilder(config, mocap_frames=frames, mocap_features=features)
    preprocessor = (load_text_preprocessor(config.text.preset, config.text.sequence_length)
                    if "text" in config.modalities and "text" not in cached else None)
    cache = None
    if cached:
        cache = FeatureCache(data_dir, manifest, builder, cached)
        cache.ensure(load_text_preprocessor(config.text.preset, config.text.sequence_length)
                     if "text" in cached else None, progress=False)
    spec = input_spec(config, builder, manifest, cached)
    dataset = make_dataset(data_dir, manifest, sessions, spec, batch_size, training=training,
                           text_preprocessor=preprocessor, feature_cache=cache,
                           drop_remainder=True)
    return builder, builder.model(cached=cached), dataset


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
    from mer_tf.models.wav2vec2_savedmodel import BASE, save_wav2vec2

    speech = os.path.join(work_dir, "wav2vec2-base-random")
    if not os.path.exists(os.path.join(speech, "saved_model.pb")):
        save_wav2vec2(speech, BASE)
    text = os.path.join(work_dir, "bert-base-random")
    if not os.path.exists(os.path.join(text, "config.json")):
        import keras_hub

        from mer_tf.models.text import SPECIAL_TOKENS

        vocabulary = list(SPECIAL_TOKENS) + [f"[unused{i}]" for i in range(30522 - 5)]
        keras_hub.models.BertBackbone(vocabulary_size=30522, num_layers=12, num_heads=12,
                                      hidden_dim=768, intermediate_dim=3072,
                                      max_sequence_length=512).save_to_preset(text)
        keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True).save_to_preset(text)
    return {"speech": speech, "text": text}


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
