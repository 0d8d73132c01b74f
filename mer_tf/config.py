"""Configuration dataclasses: one frozen object describes a model (and, in
`mer_tf.training.config`, a whole run). Each is written as JSON beside the run."""

from __future__ import annotations

import dataclasses
import typing

from mer_tf import registry

MODALITIES = ("speech", "text", "mocap")  # built in; `mer_tf.registry` may add more
DEFAULT_SPEECH_HANDLE = "https://tfhub.dev/vasudevgupta7/wav2vec2/1"
DEFAULT_TEXT_PRESET = "bert_base_en_uncased"


@dataclasses.dataclass(frozen=True)
class SpeechConfig:
    handle: str = DEFAULT_SPEECH_HANDLE  # TF-Hub URL or local SavedModel directory
    head: str = "mean"  # mean | attention | flatten (the paper's Flatten -> Dense(128))
    freeze: bool = False
    input_seconds: float = 15.375  # backbones that take any length (TF-Hub's is fixed)
    layers: str = "last"  # last | weighted (SUPERB's learned sum of every layer's states)
    freeze_feature_encoder: bool = True  # fine-tuning HF backbones: conv encoder stays fixed


@dataclasses.dataclass(frozen=True)
class TextConfig:
    preset: str = DEFAULT_TEXT_PRESET  # keras-hub preset name or local directory
    sequence_length: int = 128
    freeze: bool = False
    dropout: float = 0.5


@dataclasses.dataclass(frozen=True)
class MocapConfig:
    encoder: str = "transformer"  # transformer | cnn (the paper's 4 x Conv2D)
    view: str = "frames"  # frames (real length, masked) | chunks (the paper's 200 x 189)
    max_frames: int = 256  # frames view: crop/pad length (256 at 30/s is 8.5 s)
    width: int = 64
    layers: int = 2
    heads: int = 4
    intermediate: int = 128
    dropout: float = 0.1
    center: bool = True  # transformer: subtract each utterance's mean pose (keeps movement)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    modalities: tuple = MODALITIES
    class_names: tuple = ("ang", "exc", "neu", "sad")
    speech: SpeechConfig = SpeechConfig()
    text: TextConfig = TextConfig()
    mocap: MocapConfig = MocapConfig()
    tower_units: int = 128
    fusion_units: int = 128
    modality_dropout: float = 0.0  # training only: drop a whole tower's vector (0: the paper)
    extra: dict = dataclasses.field(default_factory=dict)  # settings of registered modalities

    def __post_init__(self):
        modalities = tuple(self.modalities)
        known = registry.modalities()
        unknown = [m for m in modalities if m not in known]
        if not modalities or unknown or len(set(modalities)) != len(modalities):
            raise ValueError(f"modalities must be a non-empty subset of {known}, "
                             f"got {self.modalities}")
        # Canonical order, so ("text", "speech") and ("speech", "text") are one model.
        object.__setattr__(self, "modalities", tuple(m for m in known if m in modalities))
        if self.speech.layers not in ("last", "weighted"):
            raise ValueError(f"speech layers must be last or weighted, got {self.speech.layers}")
        if self.speech.head not in ("mean", "attention", "flatten"):
            raise ValueError(f"speech head must be mean, attention or flatten, got {self.speech.head}")
        if self.mocap.encoder not in ("transformer", "cnn"):
            raise ValueError(f"mocap encoder must be transformer or cnn, got {self.mocap.encoder}")
        if self.mocap.view not in ("frames", "chunks"):
            raise ValueError(f"mocap view must be frames or chunks, got {self.mocap.view}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def tower_config(self, name: str, config_class=None):
        """A tower's settings: the field of a built-in modality, else `extra[name]`."""
        if name in MODALITIES:
            return getattr(self, name)
        return config_class(**self.extra.get(name, {}))


def to_dict(config) -> dict:
    """JSON-ready dict; an empty `extra` is left out, so config.json files written before
    modalities could be registered read the same."""
    return _drop_empty_extra(dataclasses.asdict(config))


def _drop_empty_extra(value):
    if isinstance(value, dict):
        return {k: _drop_empty_extra(v) for k, v in value.items() if not (k == "extra" and v == {})}
    return value


def from_dict(cls, data: dict):
    """Rebuilds nested frozen dataclasses from `to_dict` output (lists -> tuples)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            continue
        value, kind = data[field.name], hints[field.name]
        if dataclasses.is_dataclass(kind) and isinstance(value, dict):
            value = from_dict(kind, value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[field.name] = value
    return cls(**kwargs)
