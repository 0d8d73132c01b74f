"""Helpers behind notebooks/colab_quickstart.ipynb: each notebook cell is one call.

They work anywhere (the notebook's test runs them on CPU); on Colab they mount
Google Drive when a Drive path is given and pick the strategy and precision
that suit the runtime (TPU, GPU or CPU).
"""

from __future__ import annotations

import os
import time

import numpy as np

from mer_tf.frames import PCM16_SCALE
from mer_tf.io import storage


def describe_runtime() -> dict:
    """What accelerator this runtime has, printed and returned."""
    import tensorflow as tf

    from mer_tf.training.distribute import tpu_address

    tpu = tpu_address()
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    kind = "tpu" if tpu else ("gpu" if gpus else "cpu")
    info = {"accelerator": kind, "tpu": tpu, "gpus": gpus, "cpus": os.cpu_count(),
            "tensorflow": tf.__version__}
    detail = {"tpu": f"TPU at {tpu}", "gpu": f"{len(gpus)} GPU(s)",
              "cpu": f"CPU only ({os.cpu_count()} cores)"}[kind]
    print(f"runtime: {detail}; TensorFlow {tf.__version__}")
    return info


def runtime_flags(runtime: dict, batch_size: int = 0) -> list[str]:
    """Experiment flags that suit the runtime: TPUStrategy with bfloat16 on TPU (and a
    batch divisible by its 8 cores), float16 with XLA on GPU, defaults on CPU."""
    if runtime["accelerator"] == "tpu":
        return ["--strategy", "tpu", "--mixed-precision", "bfloat16",
                "--batch-size", str(batch_size or 32)]
    flags = ["--batch-size", str(batch_size)] if batch_size else []
    if runtime["accelerator"] == "gpu":
        flags += ["--mixed-precision", "float16", "--jit-compile"]
    return flags


def mount_drive_if_needed(path: str) -> None:
    if path.startswith("/content/drive") and not os.path.exists("/content/drive/MyDrive"):
        from google.colab import drive  # only on Colab

        drive.mount("/content/drive")


def prepare_data(iemocap_path: str = "", data_dir: str = "") -> str:
    """Prepares IEMOCAP from a local, Drive or gs:// path, or the demo corpus when
    no path is given; returns the prepared data folder."""
    if not iemocap_path:
        from mer_tf.synthetic.demo import ensure_demo_data

        return ensure_demo_data()
    mount_drive_if_needed(iemocap_path)
    from experiments import prepare

    out = data_dir or "data/iemocap"
    code = prepare.main(["--iemocap", iemocap_path, "--out", out])
    if code:
        raise RuntimeError(f"preparation failed (exit {code}); see the message above")
    return out


def train(experiment: str, args: list) -> dict:
    """Runs `python -m experiments.<experiment> ARGS` in this kernel and returns the run's
    summary; a run whose fold learned nothing usable (exit status 3 on the command line)
    is reported in its table, not raised, so the notebook goes on to show it."""
    import importlib

    from mer_tf.commands.experiment import FAILED_EXIT_CODE

    module = importlib.import_module(f"experiments.{experiment}")
    try:
        return module.main(args)
    except SystemExit as exit_:
        if exit_.code != FAILED_EXIT_CODE:
            raise
        run_dir = args[args.index("--run-dir") + 1]
        from mer_tf.layout import RunLayout

        return storage.read_json(RunLayout(run_dir).summary)


def new_run_dir(runs_dir: str, experiment: str) -> str:
    return storage.join(runs_dir, experiment, time.strftime("%Y%m%d-%H%M%S"))


def show_results(run_dir: str) -> dict:
    """Prints the test metrics and shows the confusion matrix and curves."""
    from mer_tf.layout import RunLayout

    run = RunLayout(run_dir)
    metrics = storage.read_json(run.summary)
    for fold in metrics["folds"]:
        test = fold["test"]
        print(f"{fold['fold']}: WA {test['wa']:.3f}  UA {test['ua']:.3f}  "
              f"macro F1 {test['macro_f1']:.3f}  ({test['utterances']} test utterances)")
    try:
        from IPython.display import Image, display

        fold = run.fold(metrics["folds"][0]["fold"])
        for path in (fold.confusion_png, fold.curves_png):
            display(Image(data=storage.read_bytes(path)))
    except ImportError:
        pass
    return metrics


def exported_model(run_dir: str) -> str:
    from mer_tf.layout import RunLayout

    path = RunLayout(run_dir).saved_models()[0]
    size = sum(storage.size(f) for f in storage.glob(storage.join(path, "variables", "*")))
    print(f"SavedModel: {path} (variables: {size / 2**20:.1f} MiB)")
    return path


def first_test_utterance(data_dir: str, recognizer) -> dict:
    """The first Session 5 utterance of the prepared data, as the recognizer's inputs."""
    import tensorflow as tf

    from mer_tf.data.corpus import read_manifest
    from mer_tf.data.iemocap import MOCAP_STREAMS
    from mer_tf.data.mocap_files import missing_as_nan
    from mer_tf.data.schema import decode_example

    manifest = read_manifest(data_dir)
    shard = next(s["file"] for s in manifest["shards"] if s["session"] == 5)
    raw = next(iter(tf.data.TFRecordDataset(storage.join(data_dir, shard)))).numpy()
    record = decode_example(raw)
    item = {"utterance_id": record["utterance_id"], "label": record["label_name"],
            "waveform": record["audio"].astype(np.float32) / PCM16_SCALE,
            "transcript": record["text"]}
    if recognizer.info["mocap_view"] == "chunks":
        item["mocap"] = record["mocap/chunks/values"]
        item["mocap_mask"] = record["mocap/chunks/present"].astype(np.int32)
    else:
        item["mocap"] = np.concatenate(
            [missing_as_nan(record[f"mocap/{s}/values"], record[f"mocap/{s}/present"])
             for s in MOCAP_STREAMS], axis=1)
    return item


def predict_one(run_dir: str, data_dir: str):
    """Loads the exported model and predicts one held-out utterance."""
    from mer_tf.serving.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer.from_run(run_dir)
    item = first_test_utterance(data_dir, recognizer)
    inputs = {k: item[k] for k in ("waveform", "transcript", "mocap", "mocap_mask") if k in item}
    prediction = recognizer.predict(**inputs)
    print(f"utterance {item['utterance_id']}: \"{item['transcript']}\" (annotated {item['label']})")
    print(f"predicted emotion: {prediction.label}")
    for name, p in sorted(prediction.probabilities.items(), key=lambda kv: -kv[1]):
        print(f"  {name:>5}  {p:.3f}")
    for note in prediction.notes:
        print(f"  note: {note}")
    return prediction
