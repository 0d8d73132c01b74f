"""A Hugging Face wav2vec2 / HuBERT / WavLM checkpoint as a speech backbone."""

from __future__ import annotations

import keras
from keras import ops

from mer_tf.frames import frames_for_samples
from mer_tf.models.layers import PACKAGE
from mer_tf.models.speech.backbone import SpeechBackbone, float32_policy, lengths_mask


@keras.saving.register_keras_serializable(package=PACKAGE)
class HFSpeechBackbone(SpeechBackbone):
    """A Hugging Face wav2vec2 / HuBERT / WavLM checkpoint (the Keras 3 port,
    `Wav2Vec2FamilyEncoder`) behind the speech-backbone contract: every layer's states.

    Args:
        handle: local checkpoint directory (config.json, model.safetensors).
        freeze_feature_encoder: keep the convolutional feature encoder fixed while the
            transformer fine-tunes (the standard practice).
    """

    kind = "hf"
    padding_invariant = True  # padded frames are masked out of every layer (parity-tested)

    def __init__(self, handle: str, freeze_feature_encoder: bool = True, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        from mer_tf.models.speech.hf_checkpoint import load_hf_speech_checkpoint

        self.handle, self.freeze_feature_encoder = str(handle), bool(freeze_feature_encoder)
        with float32_policy():
            self.encoder = load_hf_speech_checkpoint(self.handle, freeze_feature_encoder)
        # Keras keeps `trainable` per variable, set when a layer's flag is assigned: pass
        # this layer's on to the encoder made after it, then keep the conv encoder fixed.
        self.encoder.trainable = self.trainable
        if self.trainable:
            self.encoder.feature_encoder.trainable = not freeze_feature_encoder
        config = self.encoder.hf_config
        self.hidden_size = int(config["hidden_size"])
        self.num_states = int(config["num_hidden_layers"]) + 1
        self._geometry = (tuple(config["conv_kernel"]), tuple(config["conv_stride"]))

    def frames_for(self, samples: int) -> int:
        return int(frames_for_samples(samples, *self._geometry))

    def call(self, waveform, waveform_length):
        out = self.encoder(waveform, ops.cast(lengths_mask(waveform, waveform_length), "int32"))
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
