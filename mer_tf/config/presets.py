"""Named settings as data (the paper's and the demo's), and the one way from a preset to
a run's config, with the policies that choose between them.

A preset is a nested dict of overrides of the config dataclasses' defaults
({"model": {...}, "train": {...}, "data": {...}}; tower settings nest one level
deeper, as in `ModelConfig`). `run_config` lays the preset, then the overrides (the
flags a user actually gave, a group command's variant) over the defaults; the commands,
the benchmarks and the tests all build their configs there. Nothing here opens a corpus.
"""

from __future__ import annotations

import copy
import time

from mer_tf.config.model import DEFAULT_SPEECH_MODEL, DEFAULT_TEXT_PRESET, ModelConfig
from mer_tf.config.run import DataConfig, RunConfig, TrainConfig
from mer_tf.config.settings import from_dict, to_dict

PRESETS = {
    # The paper: TF-Hub wav2vec2-base and BERT-base fine-tuned at 1e-5, batch 5, 100 epochs,
    # 128 tokens, dropout 0.5 around the text head, no modality dropout.
    "paper": {
        "model": {"speech": {"model": DEFAULT_SPEECH_MODEL},
                  "text": {"preset": DEFAULT_TEXT_PRESET, "sequence_length": 128, "dropout": 0.5},
                  "mocap": {"max_frames": 256, "learning_rate": 0.0},  # the run's, 1e-5
                  "modality_dropout": 0.0},
        "train": {"learning_rate": 1e-5, "backbone_learning_rate": 1e-5, "batch_size": 5,
                  "epochs": 100, "patience": 10},
    },
    # The demo's untrained tiny backbones (paths filled in by `mer_tf.synthetic.demo`).
    # Chosen on the validation split alone (speaker Ses04F; test figures never read) by
    # `python -m experiments.choose_demo_defaults`, whose table docs/results.md keeps: the best
    # validation UA was learning rate 3e-3 with modality dropout 0.3 and text dropout 0.1
    # (0.864; at 1e-3 the six dropout pairs gave 0.72-0.83, modality dropout 0 the lowest).
    # The backbones are untrained, so they take the heads' rate.
    "demo": {
        "model": {"text": {"sequence_length": 32, "dropout": 0.1}, "mocap": {"max_frames": 96},
                  "modality_dropout": 0.3},
        "train": {"learning_rate": 3e-3, "backbone_learning_rate": 3e-3, "batch_size": 16,
                  "epochs": 30, "patience": 10},
    },
}
# A pretrained backbone's rate where the heads' is the demo's 3e-3: fine-tuning BERT or
# wav2vec2 at 1e-3 already destroys it (measured: one class for everything), 2e-5 keeps it.
PRETRAINED_BACKBONE_LEARNING_RATE = 2e-5


def merge(base: dict, overrides: dict) -> dict:
    """`base` with `overrides` laid over it, nested dicts merged key by key."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return copy.deepcopy(PRESETS[name])


def settings_of(name: str, overrides: dict | None = None) -> dict:
    """Every setting of a preset: the dataclasses' defaults, the preset laid over them,
    then `overrides` ({"model": …, "train": …, "data": …})."""
    base = {"model": to_dict(ModelConfig()), "train": to_dict(TrainConfig()),
            "data": to_dict(DataConfig())}
    return merge(merge(base, preset(name)), overrides or {})


def default_run_dir(experiment: str, runs_root: str = "runs") -> str:
    """Where a run goes when no folder is named: RUNS_ROOT/EXPERIMENT/TIMESTAMP."""
    return "/".join((runs_root.rstrip("/"), experiment, time.strftime("%Y%m%d-%H%M%S")))


def run_config(experiment: str, overrides: dict | None = None, *, data_dir: str = "",
               preset_name: str | None = None, run_dir: str = "",
               demo_assets: dict | None = None) -> RunConfig:
    """The one way from a preset and overrides to a RunConfig.

    Policies: without `data_dir` the run is the demo: the "demo" preset unless one is
    named, the corpus and untrained backbones of `demo_assets` ({"data_dir", "speech",
    "text"}: `mer_tf.synthetic.demo.demo_assets()`), and, where the overrides name
    another backbone (a pretrained one), `PRETRAINED_BACKBONE_LEARNING_RATE` for the
    backbones unless the overrides set it. With `data_dir`, the paper's preset unless one
    is named. The class names are left empty: the corpus's, filled in when training opens
    it (`RunConfig.with_classes`), unless the overrides name them.
    """
    overrides = overrides or {}
    demo = not data_dir
    layers = [{"model": {"class_names": []}}]
    if demo:
        if not demo_assets:
            raise ValueError("a run without data_dir is the demo, and needs demo_assets "
                             "(mer_tf.synthetic.demo.demo_assets())")
        data_dir = demo_assets["data_dir"]
        layers.append({"model": {"speech": {"model": demo_assets["speech"]},
                                 "text": {"preset": demo_assets["text"]}}})
        model = overrides.get("model", {})
        names_a_backbone = "model" in model.get("speech", {}) or "preset" in model.get("text",
                                                                                      {})
        if names_a_backbone and "backbone_learning_rate" not in overrides.get("train", {}):
            layers.append({"train": {"backbone_learning_rate":
                                     PRETRAINED_BACKBONE_LEARNING_RATE}})
    layers.append(overrides)
    merged = {}
    for layer in layers:
        merged = merge(merged, layer)
    settings = settings_of(preset_name or ("demo" if demo else "paper"), merged)
    return RunConfig(experiment=experiment, run_dir=run_dir or default_run_dir(experiment),
                     model=from_dict(ModelConfig, settings["model"], "model."),
                     data=from_dict(DataConfig, {**settings["data"], "data_dir": data_dir},
                                    "data."),
                     train=from_dict(TrainConfig, settings["train"], "train."), demo=demo)
