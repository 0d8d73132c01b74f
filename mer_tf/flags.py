"""The command-line flags every experiment shares, and which of them a user gave.

Flags that are not given leave the preset's value alone: `given_flags` tells them
apart from argparse's defaults, and `flag_overrides` turns them into nested config
overrides, as the presets are written.
"""

from __future__ import annotations

import argparse

from mer_tf.config import DEFAULT_SPEECH_HANDLE, DEFAULT_TEXT_PRESET
from mer_tf.presets import PRESETS
from mer_tf.training.config import (CLASS_WEIGHTS, OPTIMIZERS, PRECISIONS, PROTOCOLS,
                                    STRATEGIES, SUBSETS, TEXT_OVERLAP, VALIDATION_SPLITS,
                                    VERIFY_LEVELS)

# flag -> (config section, field path): what a flag given on the command line overrides.
# Flags not given leave the preset's value (or the dataclass default) alone.
FLAG_FIELDS = {
    "protocol": ("data", "protocol"), "validation": ("data", "validation"),
    "verify_data": ("data", "verify"), "subset": ("data", "subset"),
    "text_overlap": ("data", "text_overlap"), "deterministic": ("train", "deterministic"),
    "class_weight": ("train", "class_weight"),
    "speech_model": ("model", "speech.handle"), "speech_head": ("model", "speech.head"),
    "speech_layers": ("model", "speech.layers"),
    "speech_seconds": ("model", "speech.input_seconds"),
    "text_preset": ("model", "text.preset"), "text_length": ("model", "text.sequence_length"),
    "text_dropout": ("model", "text.dropout"), "mocap_encoder": ("model", "mocap.encoder"),
    "mocap_view": ("model", "mocap.view"), "mocap_frames": ("model", "mocap.max_frames"),
    "mocap_layers": ("model", "mocap.layers"), "mocap_width": ("model", "mocap.width"),
    "mocap_heads": ("model", "mocap.heads"), "modality_dropout": ("model", "modality_dropout"),
    "optimizer": ("train", "optimizer"), "learning_rate": ("train", "learning_rate"),
    "backbone_learning_rate": ("train", "backbone_learning_rate"),
    "backbone_warmup_epochs": ("train", "backbone_warmup_epochs"),
    "batch_size": ("train", "batch_size"), "epochs": ("train", "epochs"),
    "patience": ("train", "patience"), "monitor": ("train", "monitor"),
    "steps_per_epoch": ("train", "steps_per_epoch"), "seed": ("train", "seed"),
    "strategy": ("train", "strategy"), "tpu": ("train", "tpu"),
    "mixed_precision": ("train", "mixed_precision"), "jit_compile": ("train", "jit_compile"),
    "cache_features": ("train", "cache_features"),
}


def preset_defaults(section: str, path: str) -> str:
    """`paper: 256; demo: 96`: the value each preset gives a setting (the dataclass
    default where a preset leaves it), so --help shows the default that applies."""
    from mer_tf import presets
    from mer_tf.config import ModelConfig, to_dict
    from mer_tf.training.config import TrainConfig

    base = {"model": to_dict(ModelConfig()),
            "train": {f: getattr(TrainConfig(), f) for f in TrainConfig.__dataclass_fields__}}
    values = []
    for name in presets.PRESETS:
        settings = presets.merge(base, presets.preset(name))[section]
        for key in path.split("."):
            settings = settings[key]
        values.append(f"{name}: {settings:g}" if isinstance(settings, float)
                      else f"{name}: {settings}")
    return "; ".join(values)


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--data-dir", help="prepared data (python -m experiments.prepare); "
                                         "omitted: the built-in demo corpus and demo backbones")
    data.add_argument("--protocol", choices=PROTOCOLS, default="session5",
                      help="session5: train on sessions 1-4, test on 5 (the paper); "
                           "loso: leave one session out, 5 folds (default: %(default)s)")
    data.add_argument("--folds", default="",
                      help="loso only: comma-separated test sessions to run (default: all)")
    data.add_argument("--validation", choices=VALIDATION_SPLITS, default="speaker",
                      help="held-out validation for early stopping and model choice, never the "
                           "test set: one speaker of the training sessions, or a stratified "
                           "slice (default: %(default)s)")
    data.add_argument("--subset", choices=SUBSETS, default="all",
                      help="the dialogs of every split: all, improvised only (a common IEMOCAP "
                           "protocol: no scripted lines repeated across sessions) or scripted "
                           "only (default: %(default)s)")
    data.add_argument("--text-overlap", choices=TEXT_OVERLAP, default="keep",
                      help="drop: remove from training and validation every utterance whose "
                           "transcript (normalised) occurs in the fold's test split, a "
                           "transcript-disjoint protocol (default: %(default)s)")
    data.add_argument("--verify-data", choices=VERIFY_LEVELS, default="checksum",
                      help="before the first epoch, check the shards against the manifest: "
                           "checksum (sha256, record counts, each record's session), size "
                           "(sizes only: for huge gs:// corpora), or off (default: %(default)s)")
    runs = parser.add_argument_group("run")
    runs.add_argument("--run-dir", help="where the run goes (default: runs/EXPERIMENT/TIMESTAMP); "
                                        "an existing run with the same settings resumes")
    runs.add_argument("--preset", choices=tuple(PRESETS),
                      help="named settings the flags given then override (default: demo "
                           "without --data-dir, paper with it; see mer_tf/presets.py)")
    runs.add_argument("--runs-root", default="runs", help="parent of default run folders")
    runs.add_argument("--overwrite", action="store_true",
                      help="train again in a --run-dir that holds a run (without it, a "
                           "finished run is reported and an unfinished one resumes)")
    runs.add_argument("--no-export", action="store_true", help="skip the SavedModel export")
    runs.add_argument("--quiet", action="store_true", help="no progress output")
    runs.add_argument("--verbose", action="store_true",
                      help="keep TensorFlow's own log lines (or set MER_TF_VERBOSE=1)")

    model = parser.add_argument_group("model")
    model.add_argument("--speech-model",
                       help="a TF-Hub handle or SavedModel (wav2vec2, the paper's), a local "
                            "Hugging Face wav2vec2 / HuBERT / WavLM checkpoint directory "
                            "(config.json, model.safetensors) or a keras-hub Whisper preset "
                            f"(default: {DEFAULT_SPEECH_HANDLE})")
    model.add_argument("--speech-head", choices=("mean", "attention", "flatten"), default="mean",
                       help="pooling over the backbone's frames; flatten is the paper's "
                            "Flatten -> Dense(128) (default: %(default)s)")
    model.add_argument("--speech-layers", choices=("last", "weighted"), default="last",
                       help="the backbone's last layer, or a learned softmax-weighted sum of "
                            "every layer's states (SUPERB's recipe; Hugging Face and Whisper "
                            "backbones) (default: %(default)s)")
    model.add_argument("--speech-seconds", type=float,
                       help="audio per utterance for Hugging Face and Whisper backbones "
                            "(default 15.375); a TF-Hub SavedModel fixes its own length (the "
                            "paper's: 15.375 s, the demo's: 3 s), which config.json records "
                            "under backbones.speech.input_seconds")
    model.add_argument("--speech-feature-encoder", choices=("frozen", "trainable"),
                       default="frozen", help="fine-tuning a Hugging Face backbone: its "
                                              "convolutional feature encoder (default: "
                                              "%(default)s, the standard practice)")
    model.add_argument("--text-preset", help="keras-hub BERT preset name, local preset or "
                                             f"Hugging Face directory (default: {DEFAULT_TEXT_PRESET})")
    model.add_argument("--text-length", type=int,
                       help="tokens per transcript (" + preset_defaults("model", "text.sequence_length") + ")")
    model.add_argument("--text-dropout", type=float,
                       help="dropout around the text head's Dense(128) ("
                            + preset_defaults("model", "text.dropout") + ")")
    model.add_argument("--mocap-encoder", choices=("transformer", "cnn"), default="transformer",
                       help="cnn is the original notebooks' encoder (default: %(default)s)")
    model.add_argument("--mocap-view", choices=("frames", "chunks"), default="frames",
                       help="frames: real length at the prepared rate, masked; chunks: the "
                            "paper's 200 averaged chunks (default: %(default)s)")
    model.add_argument("--mocap-frames", type=int,
                       help="frames view: frames kept (" + preset_defaults("model", "mocap.max_frames")
                            + "; at 30 frames/s 96 is 3.2 s)")
    model.add_argument("--mocap-layers", type=int, default=2,
                       help="mocap transformer: encoder layers (default: %(default)s)")
    model.add_argument("--mocap-width", type=int, default=64,
                       help="mocap transformer: model width (default: %(default)s)")
    model.add_argument("--mocap-heads", type=int, default=4,
                       help="mocap transformer: attention heads (default: %(default)s)")
    model.add_argument("--modality-dropout", type=float,
                       help="training only: chance to drop a whole tower's vector before fusion "
                            "(" + preset_defaults("model", "modality_dropout") + ")")
    model.add_argument("--freeze", default="",
                       help="comma-separated pretrained towers to freeze: speech, text")

    train = parser.add_argument_group("training")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                       help="the paper's Adam, or SGD / RMSprop for the ablation "
                            "(default: %(default)s)")
    train.add_argument("--learning-rate", type=float,
                       help="heads and fusion (" + preset_defaults("train", "learning_rate") + ")")
    train.add_argument("--backbone-learning-rate", type=float,
                       help="pretrained backbones, BERT and wav2vec2 (paper: 1e-5; demo: 3e-3 "
                            "for its untrained stand-ins, 2e-5 once --speech-model or "
                            "--text-preset names another backbone)")
    train.add_argument("--backbone-warmup-epochs", type=float, default=1.0,
                       help="linear warm-up of the backbone rate, in epochs (0: none; "
                            "default: %(default)s)")
    train.add_argument("--batch-size", type=int,
                       help="global batch (" + preset_defaults("train", "batch_size") + ")")
    train.add_argument("--epochs", type=int,
                       help="at most (" + preset_defaults("train", "epochs") + ")")
    train.add_argument("--patience", type=int,
                       help="stop after this many epochs without a better validation figure "
                            "(" + preset_defaults("train", "patience") + ")")
    train.add_argument("--monitor", choices=("val_loss", "val_ua", "val_accuracy"),
                       default="val_loss", help="validation figure for early stopping and the "
                                                "best checkpoint (default: %(default)s)")
    train.add_argument("--steps-per-epoch", type=int, default=0,
                       help="cap the steps of an epoch (0: the whole training split)")
    train.add_argument("--cache-features", action="store_true",
                       help="with --freeze: compute frozen towers' outputs once into TFRecords")
    train.add_argument("--seed", type=int, default=0,
                       help="weights, dropout and data order (default: %(default)s)")
    train.add_argument("--seeds", metavar="0,1,2",
                       help="repeat the run once per seed (RUN_DIR/seedN each) and report mean "
                            "± sample sd over seeds (LOSO: also over seeds x folds)")
    train.add_argument("--deterministic", action="store_true",
                       help="TensorFlow's op determinism and every seed: two runs of one "
                            "command give the same weights and metrics (slower)")
    train.add_argument("--class-weight", choices=CLASS_WEIGHTS, default="none",
                       help="balanced: weigh the loss by the training split's class counts "
                            "(default: %(default)s)")

    hardware = parser.add_argument_group("hardware")
    hardware.add_argument("--strategy", choices=STRATEGIES, default="auto",
                          help="tf.distribute strategy; auto picks TPU, several GPUs, or one "
                               "device (default: %(default)s)")
    hardware.add_argument("--tpu", default="", help="TPU address (default: from the "
                                                    "environment, e.g. a Colab TPU runtime)")
    hardware.add_argument("--mixed-precision", nargs="?", const="auto", default="off",
                          choices=PRECISIONS,
                          help="float16 on GPU, bfloat16 on TPU/CPU when given without a value")
    hardware.add_argument("--jit-compile", action="store_true", help="compile steps with XLA")
    return parser


def _split(text: str) -> tuple:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def given_flags(parser: argparse.ArgumentParser, argv) -> dict:
    """The flags actually on the command line (not argparse's defaults)."""
    saved = {action.dest: action.default for action in parser._actions}
    try:
        for action in parser._actions:
            action.default = argparse.SUPPRESS
        return vars(parser.parse_args(argv))
    finally:
        for action in parser._actions:
            action.default = saved[action.dest]


def flag_overrides(given: dict) -> dict:
    """Given flags -> nested overrides {"model": {...}, "train": {...}, "data": {...}}."""
    overrides = {"model": {}, "train": {}, "data": {}}
    for flag, value in given.items():
        if flag not in FLAG_FIELDS:
            continue
        section, path = FLAG_FIELDS[flag]
        target = overrides[section]
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    if "folds" in given:
        overrides["data"]["folds"] = tuple(int(f) for f in _split(given["folds"]))
    freeze = set(_split(given.get("freeze", "")))
    unknown = freeze - {"speech", "text"}
    if unknown:
        raise SystemExit(f"--freeze takes speech and/or text, not {', '.join(sorted(unknown))}")
    for name in freeze:
        overrides["model"].setdefault(name, {})["freeze"] = True
    if "speech_feature_encoder" in given:
        overrides["model"].setdefault("speech", {})["freeze_feature_encoder"] = (
            given["speech_feature_encoder"] == "frozen")
    if given.get("no_export"):
        overrides["train"]["export"] = False
    return overrides
