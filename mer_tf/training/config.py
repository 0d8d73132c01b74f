"""The run configuration: one frozen dataclass per run, written to config.json."""

from __future__ import annotations

import dataclasses

from mer_tf import storage
from mer_tf.config import ModelConfig, from_dict, to_dict

PROTOCOLS = ("session5", "loso")
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
    data_dir: str
    protocol: str = "session5"  # session5: train 1-4, test 5 (the paper); loso: 5 folds
    folds: tuple = ()  # loso: test sessions to run (empty: all five)
    validation: str = "speaker"  # speaker: one held-out training speaker; stratified: a slice
    validation_fraction: float = 0.1  # stratified only
    subset: str = "all"  # all | improvised | scripted: the dialogs of every split
    # keep | drop: drop removes from training and validation every utterance whose
    # normalised transcript occurs in the fold's test split (a transcript-disjoint protocol)
    text_overlap: str = "keep"
    shuffle_buffer: int = 512
    # what training checks of the shards against the manifest before the first epoch:
    # checksum (sha256, record counts, each record's session), size, or off
    verify: str = "checksum"

    def __post_init__(self):
        if self.verify not in VERIFY_LEVELS:
            raise ValueError(f"verify must be one of {VERIFY_LEVELS}, got {self.verify!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.validation not in VALIDATION_SPLITS:
            raise ValueError(f"validation must be one of {VALIDATION_SPLITS}")
        if self.subset not in SUBSETS:
            raise ValueError(f"subset must be one of {SUBSETS}, got {self.subset!r}")
        if self.text_overlap not in TEXT_OVERLAP:
            raise ValueError(f"text_overlap must be one of {TEXT_OVERLAP}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adam"
    learning_rate: float = 1e-5  # the paper's; heads and fusion
    backbone_learning_rate: float = 1e-5  # pretrained backbones (the paper's: the same)
    backbone_warmup_epochs: float = 1.0  # linear ramp of the backbone rate (0: none)
    batch_size: int = 5  # the paper's
    epochs: int = 100  # the paper's
    patience: int = 10  # epochs without improvement of `monitor` before stopping
    monitor: str = "val_loss"  # val_loss (min) or val_ua / val_accuracy (max)
    seed: int = 0
    strategy: str = "auto"
    tpu: str = ""  # TPU address; empty: from the environment (Colab)
    mixed_precision: str = "off"  # off | auto | float16 | bfloat16
    jit_compile: bool = False
    cache_features: bool = False
    steps_per_epoch: int = 0  # 0: the whole training split each epoch
    export: bool = True
    # TensorFlow's op determinism on (and every seed set): two runs give the same weights
    deterministic: bool = False
    # balanced: the loss weighs each class by n / (classes x its count in the training split)
    class_weight: str = "none"

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.mixed_precision not in PRECISIONS:
            raise ValueError(f"mixed_precision must be one of {PRECISIONS}")
        if self.monitor not in ("val_loss", "val_ua", "val_accuracy"):
            raise ValueError("monitor must be val_loss, val_ua or val_accuracy")
        if not (self.learning_rate > 0 and self.backbone_learning_rate > 0):
            raise ValueError("learning rates must be positive")
        if self.backbone_warmup_epochs < 0:
            raise ValueError("backbone_warmup_epochs must not be negative")
        if self.class_weight not in CLASS_WEIGHTS:
            raise ValueError(f"class_weight must be one of {CLASS_WEIGHTS}")
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

    def save(self) -> None:
        storage.makedirs(self.run_dir)
        storage.write_json_atomic(storage.join(self.run_dir, "config.json"), self.to_dict())

    @classmethod
    def load(cls, run_dir: str) -> "RunConfig":
        return cls.from_dict(storage.read_json(storage.join(run_dir, "config.json")))
