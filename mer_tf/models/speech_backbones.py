"""Speech backbones behind one interface: waveforms and their lengths in, every layer's
frames and the frame mask out.

`--speech-model` names one of three kinds, told apart by what the handle is:

| kind | handle | states |
| --- | --- | --- |
| `tfhub` | TF-Hub URL or SavedModel directory (the paper's wav2vec2) | the last layer |
| `hf` | local Hugging Face checkpoint of wav2vec2, HuBERT or WavLM (config.json + model.safetensors) | every layer |
| `whisper` | keras-hub Whisper preset (name or local directory) | every encoder layer |

Each is a Keras layer `(waveform [B, L], waveform_length [B]) -> (states [B, N, T, H],
frame_mask [B, T] int32)`, computing in float32 whatever the global precision policy
(the SavedModel does; the others are built under float32).
"""

from __future__ import annotations

import json
import os

import keras
from keras import ops

from mer_tf.models.layers import PACKAGE

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


class _Float32Policy:
    """Builds sublayers in float32: Keras gives each layer the global policy when it is made."""

    def __enter__(self):
        self.previous = keras.mixed_precision.global_policy().name
        keras.mixed_precision.set_global_policy("float32")

    def __exit__(self, *exc):
        keras.mixed_precision.set_global_policy(self.previous)


def _lengths_mask(waveform, waveform_length):
    return ops.arange(ops.shape(waveform)[1])[None, :] < ops.cast(waveform_length, "int32")[:, None]


@keras.saving.register_keras_serializable(package=PACKAGE)
class HFSpeechEncoder(keras.layers.Layer):
    """A Hugging Face wav2vec2 / HuBERT / WavLM checkpoint in Keras 3 (every layer's states).

    Args:
        handle: local checkpoint directory (config.json, model.safetensors).
        freeze_feature_encoder: keep the convolutional feature encoder fixed while the
            transformer fine-tunes (the standard practice).
    """

    kind = "hf"

    def __init__(self, handle: str, freeze_feature_encoder: bool = True, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        from mer_tf.models.backbones.hf_checkpoint import load_hf_speech_checkpoint
        from mer_tf.models.backbones.wav2vec2_layers import feat_extract_output_lengths

        self.handle, self.freeze_feature_encoder = str(handle), bool(freeze_feature_encoder)
        with _Float32Policy():
            self.encoder = load_hf_speech_checkpoint(self.handle, freeze_feature_encoder)
        # Keras keeps `trainable` per variable, set when a layer's flag is assigned: pass
        # this layer's on to the encoder made after it, then keep the conv encoder fixed.
        self.encoder.trainable = self.trainable
        if self.trainable:
            self.encoder.feature_encoder.trainable = not freeze_feature_encoder
        config = self.encoder.hf_config
        self.hidden_size = int(config["hidden_size"])
        self.num_states = int(config["num_hidden_layers"]) + 1
        self._frames = lambda n: int(feat_extract_output_lengths(n, config["conv_kernel"],
                                                                 config["conv_stride"]))

    def frames_for(self, samples: int) -> int:
        return self._frames(samples)

    def call(self, waveform, waveform_length):
        out = self.encoder(waveform, ops.cast(_lengths_mask(waveform, waveform_length), "int32"))
        return ops.stack(out["hidden_states"], axis=1), ops.cast(out["frame_mask"], "int32")

    def describe(self) -> dict:
        return {"kind": self.kind, "handle": self.handle, "model_type":
                self.encoder.hf_config["model_type"], "hidden_size": self.hidden_size,
                "hidden_states": self.num_states, "trainable": self.trainable,
                "feature_encoder_frozen": not self.encoder.feature_encoder.trainable}

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)
        return {**config, "handle": self.handle,
                "freeze_feature_encoder": self.freeze_feature_encoder}


@keras.saving.register_keras_serializable(package=PACKAGE)
class WhisperSpeechStates(keras.layers.Layer):
    """Whisper's audio encoder from a keras-hub preset, its log-mel converter in the graph.
    Its window is fixed (the preset's `max_audio_length`, 30 s for released checkpoints):
    shorter input is zero-padded to it, longer input cut."""

    kind = "whisper"

    def __init__(self, handle: str, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        from mer_tf.models.backbones.whisper import whisper_encoder_from_preset

        self.handle = str(handle)
        with _Float32Policy():
            self.encoder = whisper_encoder_from_preset(self.handle)
        self.encoder.trainable = self.trainable  # per variable, now that they exist
        for layer in self.encoder.backbone.layers:  # only the encoder half is used
            if "decoder" in layer.name:
                layer.trainable = False
        self.hidden_size = int(self.encoder.backbone.hidden_dim)
        self.num_states = int(self.encoder.backbone.num_layers) + 1
        self.window_samples = int(self.encoder.num_samples)

    def frames_for(self, samples: int) -> int:
        return int(self.encoder.num_frames)  # the whole window, whatever the input length

    def call(self, waveform, waveform_length):
        out = self.encoder(waveform, ops.cast(_lengths_mask(waveform, waveform_length), "int32"))
        return ops.stack(out["hidden_states"], axis=1), ops.cast(out["frame_mask"], "int32")

    def describe(self) -> dict:
        return {"kind": self.kind, "handle": self.handle, "hidden_size": self.hidden_size,
                "hidden_states": self.num_states, "trainable": self.trainable,
                "window_samples": self.window_samples}

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)
        return {**config, "handle": self.handle}


@keras.saving.register_keras_serializable(package=PACKAGE)
class LayerMix(keras.layers.Layer):
    """States of every layer [B, N, ...] -> one [B, ...]: the last layer, or SUPERB's learned
    softmax-weighted sum of all of them (weights start equal)."""

    def __init__(self, mode: str = "last", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("last", "weighted"):
            raise ValueError(f"speech layers must be last or weighted, got {mode!r}")
        self.mode = mode

    def build(self, input_shape):
        if self.mode == "weighted":
            self.layer_weights = self.add_weight(name="layer_weights", shape=(input_shape[1],),
                                                 initializer="zeros")

    def call(self, states):
        if self.mode == "last":
            return states[:, -1]
        weights = ops.cast(ops.softmax(self.layer_weights), states.dtype)
        shape = [1, -1] + [1] * (len(states.shape) - 2)
        return ops.sum(states * ops.reshape(weights, shape), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AddStatesAxis(keras.layers.Layer):
    """Frames [B, T, H] of a last-layer-only backbone -> states [B, 1, T, H]."""

    def call(self, frames):
        return ops.expand_dims(frames, 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, *input_shape[1:])


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedStateMeans(keras.layers.Layer):
    """Each layer's mean over the valid frames: ([B, N, T, H], mask [B, T]) -> [B, N, H].
    A weighted sum of these equals the mean of the weighted sum (both are linear), so a
    feature cache of the means still lets the layer weights train."""

    def call(self, states, mask):
        weights = ops.cast(mask, states.dtype)[:, None, :, None]
        count = ops.maximum(ops.sum(weights, axis=2), ops.cast(1.0, states.dtype))
        return ops.sum(states * weights, axis=2) / count

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[3])
