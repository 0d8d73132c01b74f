"""Command-line flags shared by every experiment, turned into one RunConfig.

The experiments in `experiments/` are a few lines each: they name their
modalities and call `run_single` or `run_group` from here.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

from mer_tf.config import (DEFAULT_SPEECH_HANDLE, DEFAULT_TEXT_PRESET, MODALITIES, MocapConfig,
                           ModelConfig, SpeechConfig, TextConfig)
from mer_tf.training.config import (OPTIMIZERS, PRECISIONS, PROTOCOLS, STRATEGIES,
                                    VALIDATION_SPLITS, DataConfig, RunConfig, TrainConfig)

PAPER_TRAINING = {"learning_rate": 1e-5, "backbone_learning_rate": 1e-5, "batch_size": 5,
                  "epochs": 100, "patience": 10}
# A pretrained backbone's rate where the heads' is the demo's 3e-3: fine-tuning BERT or
# wav2vec2 at 1e-3 already destroys it (measured: one class for everything), 2e-5 keeps it.
PRETRAINED_BACKBONE_LEARNING_RATE = 2e-5
FAILED_EXIT_CODE = 3  # a run finished, but a fold learned nothing usable


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
    runs = parser.add_argument_group("run")
    runs.add_argument("--run-dir", help="where the run goes (default: runs/EXPERIMENT/TIMESTAMP); "
                                        "an existing run with the same settings resumes")
    runs.add_argument("--runs-root", default="runs", help="parent of default run folders")
    runs.add_argument("--overwrite", action="store_true",
                      help="train again in a --run-dir that holds a run (without it, a "
                           "finished run is reported and an unfinished one resumes)")
    runs.add_argument("--no-export", action="store_true", help="skip the SavedModel export")
    runs.add_argument("--quiet", action="store_true", help="no progress output")

    model = parser.add_argument_group("model")
    model.add_argument("--speech-model", help="wav2vec2 TF-Hub handle or local SavedModel "
                                              f"(default: {DEFAULT_SPEECH_HANDLE})")
    model.add_argument("--speech-head", choices=("mean", "attention", "flatten"), default="mean",
                       help="pooling over wav2vec2 frames; flatten is the paper's "
                            "Flatten -> Dense(128) (default: %(default)s)")
    model.add_argument("--text-preset", help="keras-hub BERT preset name, local preset or "
                                             f"Hugging Face directory (default: {DEFAULT_TEXT_PRESET})")
    model.add_argument("--text-length", type=int, help="tokens per transcript (paper: 128)")
    model.add_argument("--text-dropout", type=float,
                       help="dropout around the text head's Dense(128) (paper: 0.5; demo: 0.1)")
    model.add_argument("--mocap-encoder", choices=("transformer", "cnn"), default="transformer",
                       help="cnn is the original notebooks' encoder (default: %(default)s)")
    model.add_argument("--mocap-view", choices=("frames", "chunks"), default="frames",
                       help="frames: real length at the prepared rate, masked; chunks: the "
                            "paper's 200 averaged chunks (default: %(default)s)")
    model.add_argument("--mocap-frames", type=int, help="frames view: frames kept (default 256)")
    model.add_argument("--mocap-layers", type=int, default=2)
    model.add_argument("--mocap-width", type=int, default=64)
    model.add_argument("--mocap-heads", type=int, default=4)
    model.add_argument("--modality-dropout", type=float,
                       help="training only: chance to drop a whole tower's vector before fusion "
                            "(paper: 0; demo: 0.3)")
    model.add_argument("--freeze", default="",
                       help="comma-separated pretrained towers to freeze: speech, text")

    train = parser.add_argument_group("training")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    train.add_argument("--learning-rate", type=float,
                       help="heads and fusion (paper: 1e-5; demo: 3e-3)")
    train.add_argument("--backbone-learning-rate", type=float,
                       help="pretrained backbones, BERT and wav2vec2 (paper: 1e-5; demo: 3e-3 "
                            "for its untrained stand-ins, 2e-5 once --speech-model or "
                            "--text-preset names another backbone)")
    train.add_argument("--backbone-warmup-epochs", type=float, default=1.0,
                       help="linear warm-up of the backbone rate, in epochs (0: none; "
                            "default: %(default)s)")
    train.add_argument("--batch-size", type=int, help="paper: 5; demo: 16")
    train.add_argument("--epochs", type=int, help="paper: 100; demo: 30")
    train.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    train.add_argument("--monitor", choices=("val_loss", "val_ua", "val_accuracy"),
                       default="val_loss", help="validation figure for early stopping and the "
                                                "best checkpoint (default: %(default)s)")
    train.add_argument("--steps-per-epoch", type=int, default=0,
                       help="cap the steps of an epoch (0: the whole training split)")
    train.add_argument("--cache-features", action="store_true",
                       help="with --freeze: compute frozen towers' outputs once into TFRecords")
    train.add_argument("--seed", type=int, default=0)

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


def make_run_config(args, experiment: str, modalities, run_dir: str | None = None,
                    **train_overrides) -> RunConfig:
    """RunConfig from parsed flags; without --data-dir, the demo corpus and backbones."""
    from mer_tf import demo

    demo_mode = not args.data_dir
    progress = not args.quiet
    if demo_mode:
        data_dir = demo.ensure_demo_data(progress=progress)
        backbones = demo.ensure_demo_backbones()
        defaults = {**demo.DEMO_TRAINING, "speech": backbones["speech"],
                    "text": backbones["text"], **demo.DEMO_MODEL}
        if args.speech_model or args.text_preset:  # not only the demo's untrained stand-ins
            defaults["backbone_learning_rate"] = PRETRAINED_BACKBONE_LEARNING_RATE
    else:
        data_dir = args.data_dir
        defaults = {**PAPER_TRAINING, "speech": DEFAULT_SPEECH_HANDLE,
                    "text": DEFAULT_TEXT_PRESET, "text_length": 128, "mocap_frames": 256,
                    "modality_dropout": 0.0, "text_dropout": 0.5}
    from mer_tf.data.prepare import read_manifest

    manifest = read_manifest(data_dir)
    freeze = set(_split(args.freeze))
    unknown = freeze - {"speech", "text"}
    if unknown:
        raise SystemExit(f"--freeze takes speech and/or text, not {', '.join(sorted(unknown))}")
    pick = lambda value, key: defaults[key] if value is None else value  # noqa: E731
    model = ModelConfig(
        modalities=tuple(modalities), class_names=tuple(manifest["classes"]),
        speech=SpeechConfig(handle=pick(args.speech_model, "speech"), head=args.speech_head,
                            freeze="speech" in freeze),
        text=TextConfig(preset=pick(args.text_preset, "text"),
                        sequence_length=pick(args.text_length, "text_length"),
                        freeze="text" in freeze,
                        dropout=pick(args.text_dropout, "text_dropout")),
        mocap=MocapConfig(encoder=args.mocap_encoder, view=args.mocap_view,
                          max_frames=pick(args.mocap_frames, "mocap_frames"),
                          layers=args.mocap_layers, width=args.mocap_width,
                          heads=args.mocap_heads),
        modality_dropout=pick(args.modality_dropout, "modality_dropout"))
    train = TrainConfig(
        optimizer=args.optimizer, learning_rate=pick(args.learning_rate, "learning_rate"),
        backbone_learning_rate=pick(args.backbone_learning_rate, "backbone_learning_rate"),
        backbone_warmup_epochs=args.backbone_warmup_epochs,
        batch_size=pick(args.batch_size, "batch_size"), epochs=pick(args.epochs, "epochs"),
        patience=pick(args.patience, "patience"), monitor=args.monitor, seed=args.seed,
        strategy=args.strategy, tpu=args.tpu, mixed_precision=args.mixed_precision,
        jit_compile=args.jit_compile, cache_features=args.cache_features,
        steps_per_epoch=args.steps_per_epoch, export=not args.no_export)
    if train_overrides:
        train = dataclasses.replace(train, **train_overrides)
    data = DataConfig(data_dir=data_dir, protocol=args.protocol,
                      folds=tuple(int(f) for f in _split(args.folds)),
                      validation=args.validation)
    if run_dir is None:
        run_dir = args.run_dir or os.path.join(args.runs_root, experiment,
                                               time.strftime("%Y%m%d-%H%M%S"))
    config = RunConfig(experiment=experiment, run_dir=run_dir, model=model, data=data,
                       train=train, demo=demo_mode)
    if demo_mode and progress:
        print(demo.BANNER.format(utterances=manifest["utterances"], data_dir=data_dir,
                                 experiment=experiment), file=sys.stderr)
    return config


def quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_single(experiment: str, modalities, description: str, argv=None) -> dict:
    """Entry point of speech/text/mocap/concat: one model, one run."""
    quiet_tensorflow()
    parser = build_parser(f"python -m experiments.{experiment}", description)
    args = parser.parse_args(argv)
    from mer_tf.training.trainer import run_experiment

    config = make_run_config(args, experiment, modalities)
    summary = run_experiment(config, progress=not args.quiet, overwrite=args.overwrite)
    print(f"\nrun folder: {config.run_dir}", file=sys.stderr)
    _exit_if_failed({experiment: summary})
    return summary


def _exit_if_failed(summaries: dict) -> None:
    """A run whose fold learned nothing usable exits non-zero, after writing everything."""
    failed = {name: s["failed_folds"] for name, s in summaries.items() if s.get("failed_folds")}
    if failed:
        for name, folds in failed.items():
            for fold, reasons in folds.items():
                print(f"FAILED {name} {fold}: {'; '.join(reasons)}", file=sys.stderr)
        raise SystemExit(FAILED_EXIT_CODE)


def run_group(experiment: str, variants: dict, description: str, argv=None,
              extra_arguments=None) -> dict:
    """Entry point of pairwise/ablation: several runs side by side, then one table.

    `variants(args)` returns {name: (modalities, train overrides)}.
    """
    quiet_tensorflow()
    parser = build_parser(f"python -m experiments.{experiment}", description)
    if extra_arguments:
        extra_arguments(parser)
    args = parser.parse_args(argv)
    from mer_tf import io
    from mer_tf.training.callbacks import write_hparams_config
    from mer_tf.training.splits import Fold
    from mer_tf.training.trainer import format_table, run_experiment, run_hparams

    group_dir = args.run_dir or os.path.join(args.runs_root, experiment,
                                             time.strftime("%Y%m%d-%H%M%S"))
    rows, summaries = [], {}
    for name, (modalities, overrides) in variants(args).items():
        config = make_run_config(args, experiment, modalities, run_dir=io.join(group_dir, name),
                                 **overrides)
        if not summaries:
            write_hparams_config(group_dir, run_hparams(config, Fold("-", (), ())))
        summary = run_experiment(config, progress=not args.quiet, overwrite=args.overwrite)
        summaries[name] = summary
        rows.append([name, "+".join(summary["modalities"]), config.train.optimizer,
                     _cell(summary, "wa"), _cell(summary, "ua"), _cell(summary, "macro_f1")])
        if config.demo:  # how far each model is from what the demo corpus allows
            rows[-1].append(f"{demo_ceiling(summary['modalities']):.3f}")
    header = ["run", "modalities", "optimizer", "test WA", "test UA", "test F1"]
    if len(rows[0]) > len(header):
        header.append("best possible UA")
    table = format_table(header, rows)
    io.write_json_atomic(io.join(group_dir, "summary.json"),
                         {"experiment": experiment, "runs": summaries})
    io.write_text_atomic(io.join(group_dir, "summary.md"), table + "\n")
    print(f"\n{experiment} ({group_dir})\n{table}", file=sys.stderr)
    _exit_if_failed(summaries)
    return summaries


def demo_ceiling(modalities) -> float:
    """The best UA any model can reach on the demo corpus with these modalities."""
    from mer_tf import demo
    from mer_tf.data.synthetic import accuracy_ceilings

    order = tuple(m for m in MODALITIES if m in modalities)
    return accuracy_ceilings(demo.DEMO_CORPUS)[order]


def _cell(summary: dict, key: str) -> str:
    if summary.get("failed_folds"):
        return f"{summary[key]:.3f} (FAILED)"
    if summary.get(f"{key}_std"):
        return f"{summary[key]:.3f} ± {summary[key + '_std']:.3f}"
    return f"{summary[key]:.3f}"


ALL_SUBSETS = {
    "speech": ("speech",), "text": ("text",), "mocap": ("mocap",),
    "speech+text": ("speech", "text"), "speech+mocap": ("speech", "mocap"),
    "text+mocap": ("text", "mocap"), "speech+text+mocap": MODALITIES,
}
