"""A whole run's settings: the model's, the data's and training's, in one frozen
object written to the run folder's config.json."""

from __future__ import annotations

import dataclasses

from mer_tf.config.model import ModelConfig
from mer_tf.config.settings import (
    check_choices,
    comma_separated_ints,
    from_dict,
    setting,
    to_dict,
)
from mer_tf.io import storage
from mer_tf.layout import BACKBONES_KEY, CORPUS_KEY, RunLayout

PROTOCOLS = ("session5", "loso", "speaker-folds", "official")
VALIDATION_SPLITS = ("speaker", "stratified")
VERIFY_LEVELS = ("checksum", "size", "off")
SUBSETS = ("all", "improvised", "scripted")
SUBSET_KINDS = {"all": (), "improvised": ("impro",), "scripted": ("script",)}
TEXT_OVERLAP = ("keep", "drop")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")
PRECISIONS = ("off", "auto", "float16", "bfloat16")
CLASS_WEIGHTS = ("none", "balanced")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    data_dir: str = setting("", "prepared data (python -m experiments.prepare); omitted: the "
                            "built-in demo corpus and demo backbones")
    protocol: str = setting("session5", "session5: train on sessions 1-4, test on 5 (the "
                            "paper); loso: leave one session out, 5 folds; speaker-folds: "
                            "the speakers dealt into --speaker-folds groups, each the test "
                            "split once (corpora without sessions); official: the corpus's own "
                            "split (train; its development split validates; test, Test1 for "
                            "MSP-Podcast)", flag="--protocol",
                            choices=PROTOCOLS)
    folds: tuple = setting((), "loso: comma-separated test sessions to run; speaker-folds: "
                           "fold numbers (empty: all)", flag="--folds",
                           to_field=comma_separated_ints)
    speaker_folds: int = setting(5, "speaker-folds: how many groups the speakers (sorted by "
                                 "name) are dealt into, in turn", flag="--speaker-folds")
    validation: str = setting("speaker", "held-out validation for early stopping and model "
                              "choice, never the test set: one speaker of the training "
                              "sessions, or a stratified slice", flag="--validation",
                              choices=VALIDATION_SPLITS)
    validation_fraction: float = setting(0.1, "stratified validation: its share of training")
    subset: str = setting("all", "the dialogs of every split: all, improvised only (a common "
                          "IEMOCAP protocol: no scripted lines repeated across sessions) or "
                          "scripted only", flag="--subset", choices=SUBSETS)
    text_overlap: str = setting("keep", "drop: remove from training and validation every "
                                "utterance whose transcript (normalised) occurs in the fold's "
                                "test split, a transcript-disjoint protocol",
                                flag="--text-overlap", choices=TEXT_OVERLAP)
    shuffle_buffer: int = setting(512, "training examples shuffled at once")
    verify: str = setting("checksum", "before the first epoch, check the shards against the "
                          "manifest: checksum (sha256, record counts, each record's session), "
                          "size (sizes only: for huge gs:// corpora), or off",
                          flag="--verify-data", choices=VERIFY_LEVELS)

    def __post_init__(self):
        check_choices(self)
        if self.speaker_folds < 2:
            raise ValueError(f"--speaker-folds must be at least 2, got {self.speaker_folds}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    optimizer: str = setting("adam", "the paper's Adam, or SGD / RMSprop for the ablation",
                             flag="--optimizer", choices=OPTIMIZERS)
    learning_rate: float = setting(1e-5, "heads and fusion", flag="--learning-rate")
    backbone_learning_rate: float = setting(
        1e-5, "pretrained backbones, BERT and wav2vec2 (the demo's untrained stand-ins take the "
        "heads' rate; 2e-5 once --speech-model or --text-preset names another backbone)",
        flag="--backbone-learning-rate")
    backbone_warmup_epochs: float = setting(1.0, "linear warm-up of the backbone rate, in "
                                            "epochs (0: none)", flag="--backbone-warmup-epochs")
    batch_size: int = setting(5, "global batch", flag="--batch-size")
    epochs: int = setting(100, "at most", flag="--epochs")
    patience: int = setting(10, "stop after this many epochs without a better validation "
                            "figure", flag="--patience")
    monitor: str = setting("val_loss", "validation figure for early stopping and the best "
                           "checkpoint: val_loss (with --targets both: the cross-entropy "
                           "plus --dimension-weight x the dimensions' loss), val_ua, "
                           "val_accuracy, or val_ccc (the mean CCC of arousal, valence and "
                           "dominance over the validation split)", flag="--monitor",
                           choices=("val_loss", "val_ua", "val_accuracy", "val_ccc"))
    seed: int = setting(0, "weights, dropout and data order", flag="--seed")
    strategy: str = setting("auto", "tf.distribute strategy; auto picks TPU, several GPUs, or "
                            "one device", flag="--strategy", choices=STRATEGIES)
    tpu: str = setting("", "TPU address (empty: from the environment, e.g. a Colab TPU "
                       "runtime)", flag="--tpu")
    mixed_precision: str = setting("off", "float16 on GPU, bfloat16 on TPU/CPU when given "
                                   "without a value", flag="--mixed-precision",
                                   choices=PRECISIONS, nargs="?", const="auto")
    jit_compile: bool = setting(False, "compile steps with XLA", flag="--jit-compile")
    cache_features: bool = setting(False, "with --freeze: compute frozen towers' outputs once "
                                   "into TFRecords", flag="--cache-features")
    steps_per_epoch: int = setting(0, "cap the steps of an epoch (0: the whole training "
                                   "split)", flag="--steps-per-epoch")
    export: bool = setting(True, "export a SavedModel (--no-export: skip it)",
                           flag="--no-export", to_field={True: False})
    deterministic: bool = setting(False, "TensorFlow's op determinism and every seed: two runs "
                                  "of one command give the same weights and metrics (slower)",
                                  flag="--deterministic")
    class_weight: str = setting("none", "balanced: weigh the loss by the training split's "
                                "class counts", flag="--class-weight", choices=CLASS_WEIGHTS)
    dimension_loss: str = setting("ccc", "--targets dimensions/both: 1 - CCC per dimension "
                                  "(the MSP-Podcast challenges' measure) or mse, masked where "
                                  "an utterance has no rating", flag="--dimension-loss",
                                  choices=("ccc", "mse"))
    dimension_weight: float = setting(1.0, "--targets both: the dimensions' loss weighed "
                                      "against the cross-entropy", flag="--dimension-weight")

    def __post_init__(self):
        check_choices(self)
        if not (self.learning_rate > 0 and self.backbone_learning_rate > 0):
            raise ValueError("learning rates must be positive")
        if self.backbone_warmup_epochs < 0:
            raise ValueError("backbone_warmup_epochs must not be negative")
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError("batch_size and epochs must be positive")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    experiment: str
    run_dir: str
    model: ModelConfig
    data: DataConfig
    train: TrainConfig
    demo: bool = False  # demo corpus and demo backbones (untrained, tiny)

    def to_dict(self) -> dict:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        return from_dict(cls, data)

    def with_classes(self, classes) -> "RunConfig":
        """This config for a corpus of `classes`: empty class names become the corpus's;
        named ones must be the corpus's (the model's outputs are the labels' indices)."""
        classes = tuple(classes)
        if not self.model.class_names:
            model = dataclasses.replace(self.model, class_names=classes)
            return dataclasses.replace(self, model=model)
        if tuple(self.model.class_names) != classes:
            raise ValueError(f"the data's classes {list(classes)} differ from the model's "
                             f"{list(self.model.class_names)}")
        return self

    def save(self) -> None:
        storage.makedirs(self.run_dir)
        storage.write_json_atomic(RunLayout(self.run_dir).config, self.to_dict())

    @classmethod
    def load(cls, run_dir: str) -> "RunConfig":
        """The run's config.json, without the facts training added to it (what the
        backbones turned out to be, the corpus digest)."""
        path = RunLayout(run_dir).config
        stored = storage.read_json(path)
        for key in (BACKBONES_KEY, CORPUS_KEY):
            stored.pop(key, None)
        try:
            return cls.from_dict(stored)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
