"""The model's settings: which towers, and each tower's, as frozen dataclasses."""

from __future__ import annotations

import dataclasses

from mer_tf import registry
from mer_tf.config.settings import check_choices, setting

MODALITIES = ("speech", "text", "mocap")  # built in; `mer_tf.registry` may add more
TARGETS = ("classes", "dimensions", "both")  # what a model predicts (--targets)
DEFAULT_SPEECH_MODEL = "https://tfhub.dev/vasudevgupta7/wav2vec2/1"
# What a backbone without a fixed input length reads: the paper's wav2vec2 input.
PAPER_INPUT_SECONDS = 15.375
DEFAULT_TEXT_PRESET = "bert_base_en_uncased"


@dataclasses.dataclass(frozen=True)
class SpeechConfig:
    model: str = setting(
        DEFAULT_SPEECH_MODEL, "a TF-Hub handle or SavedModel (wav2vec2, the paper's), a local "
        "Hugging Face wav2vec2 / HuBERT / WavLM checkpoint directory (config.json, "
        "model.safetensors) or a keras-hub Whisper preset (without --data-dir: the demo's "
        "untrained stand-in)", flag="--speech-model")
    head: str = setting("mean", "pooling over the backbone's frames; flatten is the paper's "
                        "Flatten -> Dense(128)", flag="--speech-head",
                        choices=("mean", "attention", "flatten"))
    freeze: bool = setting(False, "keep the backbone's weights fixed (--freeze speech)")
    input_seconds: float = setting(
        0.0, "audio per utterance; 0: the backbone's own (a TF-Hub SavedModel fixes it: the "
        "paper's wav2vec2 15.375 s, the demo's 3 s; Hugging Face and Whisper backbones: "
        "15.375 s). config.json records what was read under backbones.speech.input_seconds",
        flag="--speech-seconds")
    layers: str = setting("last", "the backbone's last layer, or a learned softmax-weighted "
                          "sum of every layer's states (SUPERB's recipe; Hugging Face and "
                          "Whisper backbones)", flag="--speech-layers",
                          choices=("last", "weighted"))
    freeze_feature_encoder: bool = setting(
        True, "fine-tuning a Hugging Face backbone: its convolutional feature encoder "
        "(frozen: the standard practice)", flag="--speech-feature-encoder",
        choices=(True, False), to_field={"frozen": True, "trainable": False})


@dataclasses.dataclass(frozen=True)
class TextConfig:
    preset: str = setting(DEFAULT_TEXT_PRESET, "keras-hub BERT preset name, local preset or "
                          "Hugging Face directory (without --data-dir: the demo's untrained "
                          "stand-in)", flag="--text-preset")
    sequence_length: int = setting(128, "tokens per transcript", flag="--text-length")
    freeze: bool = setting(False, "keep BERT's weights fixed (--freeze text)")
    dropout: float = setting(0.5, "dropout around the text head's Dense(128)",
                             flag="--text-dropout")


@dataclasses.dataclass(frozen=True)
class MocapConfig:
    encoder: str = setting("transformer", "cnn is the original notebooks' 4 x Conv2D",
                           flag="--mocap-encoder", choices=("transformer", "cnn"))
    view: str = setting("frames", "frames: real length at the prepared rate, masked; chunks: "
                        "the paper's 200 averaged chunks", flag="--mocap-view",
                        choices=("frames", "chunks"))
    max_frames: int = setting(256, "frames view: frames kept (at 30 frames/s, 96 is 3.2 s)",
                              flag="--mocap-frames")
    width: int = setting(32, "mocap transformer: model width", flag="--mocap-width")
    layers: int = setting(1, "mocap transformer: encoder layers", flag="--mocap-layers")
    heads: int = setting(4, "mocap transformer: attention heads", flag="--mocap-heads")
    intermediate: int = setting(64, "mocap transformer: feed-forward width",
                                flag="--mocap-intermediate")
    dropout: float = setting(0.1, "mocap transformer: dropout", flag="--mocap-dropout")
    learning_rate: float = setting(3e-4, "mocap transformer: its own learning rate (0: the "
                                   "run's --learning-rate; the CNN always takes the run's); "
                                   "it trains from scratch on a few hundred utterances",
                                   flag="--mocap-learning-rate")
    center: bool = setting(True, "transformer: subtract each utterance's mean pose (keeps "
                           "movement)")
    features: str = setting("positions+velocity+acceleration", "mocap transformer: centred "
                            "marker positions, with their velocities and accelerations from frame "
                            "to frame beside them (each with every marker's length of it)",
                            flag="--mocap-features",
                            choices=("positions", "positions+velocity",
                                     "positions+velocity+acceleration"))
    scale: str = setting("utterance", "mocap transformer: divide each marker's movement by "
                         "its size over the training split, or by its own over the utterance "
                         "(with that size's logarithm as more features: how much, apart from "
                         "how)", flag="--mocap-scale", choices=("training", "utterance"))
    position: str = setting("learned", "mocap transformer: position encoding",
                            flag="--mocap-position", choices=("learned", "sinusoidal"))
    block: str = setting("pre-norm", "mocap transformer: layer norm before (pre-norm) or after "
                         "(post-norm) each sub-layer; post-norm rescales every frame to unit "
                         "size, which hides how much it moves", flag="--mocap-block",
                         choices=("pre-norm", "post-norm"))
    pool: str = setting("mean+std", "mocap transformer: masked mean over frames, or mean and "
                        "standard deviation side by side", flag="--mocap-pool",
                        choices=("mean", "mean+std"))


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    modalities: tuple = MODALITIES
    class_names: tuple = ("ang", "exc", "neu", "sad")
    speech: SpeechConfig = SpeechConfig()
    text: TextConfig = TextConfig()
    mocap: MocapConfig = MocapConfig()
    tower_units: int = 128
    fusion_units: int = 128
    modality_dropout: float = setting(0.0, "training only: chance to drop a whole tower's "
                                      "vector before fusion", flag="--modality-dropout")
    targets: str = setting("classes", "what the fused vector predicts: classes (a softmax "
                           "head), dimensions (arousal, valence and dominance on [0, 1]: a "
                           "sigmoid head), or both", flag="--targets", choices=TARGETS)
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
        for tower in (self.speech, self.text, self.mocap):
            check_choices(tower)
        check_choices(self)

    @property
    def predicts_classes(self) -> bool:
        return self.targets in ("classes", "both")

    @property
    def predicts_dimensions(self) -> bool:
        return self.targets in ("dimensions", "both")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def tower_config(self, name: str, config_class=None):
        """A tower's settings: the field of a built-in modality, else `extra[name]`."""
        if name in MODALITIES:
            return getattr(self, name)
        return config_class(**self.extra.get(name, {}))
