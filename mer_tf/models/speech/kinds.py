"""Which kind of speech backbone a `--speech-model` handle names, and loading it behind
the contract of `mer_tf.models.speech.backbone`."""

from __future__ import annotations

import json
import os

HF_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm")
KINDS = ("tfhub", "hf", "whisper")


def speech_backbone_kind(handle: str) -> str:
    """Which kind of backbone `handle` names (see the module docstring)."""
    config_path = os.path.join(handle, "config.json")
    if os.path.isdir(handle) and os.path.exists(config_path):
        with open(config_path) as f:
            config = json.load(f)
        if config.get("model_type") in HF_MODEL_TYPES:
            return "hf"
        if config.get("class_name") == "WhisperBackbone":  # what save_to_preset writes
            return "whisper"
        raise ValueError(f"{config_path}: neither a Hugging Face wav2vec2/HuBERT/WavLM config "
                         f"(model_type {config.get('model_type')!r}) nor a keras-hub Whisper "
                         f"preset (class_name {config.get('class_name')!r})")
    if handle.startswith("whisper_") and "/" not in handle:  # a keras-hub preset name
        return "whisper"
    return "tfhub"


def load_speech_backbone(config, name: str | None = None):
    """The backbone `config.model` (a `SpeechConfig`) names, as a `SpeechBackbone`."""
    kind = speech_backbone_kind(config.model)
    trainable = not config.freeze
    if kind == "tfhub":
        from mer_tf.models.speech.tfhub import TFHubSpeechBackbone

        return TFHubSpeechBackbone(config.model, trainable=trainable, name=name or "wav2vec2")
    if kind == "hf":
        from mer_tf.models.speech.hf import HFSpeechBackbone

        return HFSpeechBackbone(config.model, trainable=trainable,
                                freeze_feature_encoder=config.freeze_feature_encoder,
                                name=name or "speech_backbone")
    from mer_tf.models.speech.whisper import WhisperSpeechBackbone

    return WhisperSpeechBackbone(config.model, trainable=trainable,
                                 name=name or "speech_backbone")
