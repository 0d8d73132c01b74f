"""Whisper's audio encoder (keras-hub) from raw 16 kHz waveforms, every layer's hidden states.

    encoder = whisper_encoder_from_preset("path/to/preset")   # or a keras-hub preset name
    out = encoder(waveforms, padding_mask)   # [B, S] float32, [B, S] 1 = real sample
    out["hidden_states"]  # num_layers + 1 tensors [B, T, hidden]
    out["frame_mask"]     # [B, T] bool: encoder frames that cover real audio

The preset must hold a `WhisperBackbone` and a `WhisperAudioConverter` (what
`save_to_preset` of each writes). The converter's log-mel spectrogram is computed inside
`call`, so a `tf.function` / SavedModel of the encoder takes raw waveforms. Under a
`tf.function` keras-hub runs the converter's TensorFlow path (tf.signal.stft, on CPU);
eagerly it runs its NumPy path, so eager and traced results differ by FFT round-off.

Hidden states follow transformers' Whisper `output_hidden_states=True`: entry 0 is the
input of the first encoder layer (conv stem + position embedding), entry k the output of
encoder layer k, and the final encoder layer norm is applied to the last entry only, so
`hidden_states[-1]` is keras-hub's `encoder_sequence_output`. All come from the
backbone's own layers (`encoder.backbone`), which are shared, not copied.

Fixed length. The converter pads (with zeros) or trims every waveform to
`max_audio_length` seconds (30 s for the released checkpoints: 3000 mel frames, 1500
encoder frames) and the encoder was trained on that window only: T is always
`num_samples // stride // 2` rounded up, whatever the input length, and audio beyond the
window is dropped. Whisper has no attention mask: every frame attends to the whole window
(padding included), as in the original model. Padded samples are zeroed before the
log-mel, and `frame_mask` marks the encoder frames whose mel frames hold real audio
(ceil(samples / hop) mel frames, then the stride-2 conv geometry).
"""

from __future__ import annotations

import keras
from keras import ops

from mer_tf.models.layers import PACKAGE
from mer_tf.models.speech.backbone import SpeechBackbone, float32_policy, lengths_mask


class WhisperAudioEncoder(keras.layers.Layer):
    """Raw waveforms -> log-mel (the preset's converter) -> keras-hub Whisper encoder layers."""

    def __init__(self, backbone, audio_converter, **kwargs):
        super().__init__(**kwargs)
        self.backbone, self.audio_converter = backbone, audio_converter
        self.num_samples = int(audio_converter.num_samples)
        self.hop = int(audio_converter.stride)
        self.num_mel_frames = self.num_samples // self.hop
        if self.num_mel_frames > backbone.max_encoder_sequence_length:
            raise ValueError(f"the audio converter makes {self.num_mel_frames} mel frames but "
                             "the backbone's max_encoder_sequence_length is "
                             f"{backbone.max_encoder_sequence_length}")
        if audio_converter.num_mels != backbone.num_mels:
            raise ValueError(f"audio converter num_mels={audio_converter.num_mels} != backbone "
                             f"num_mels={backbone.num_mels}")
        self.num_frames = (self.num_mel_frames - 1) // 2 + 1

    def features(self, waveforms, padding_mask=None):
        """Log-mel features [B, num_mel_frames, num_mels] of the zero-padded/trimmed window."""
        waveforms = ops.convert_to_tensor(waveforms, "float32")
        if padding_mask is not None:
            waveforms = waveforms * ops.cast(padding_mask, waveforms.dtype)
        return self.audio_converter(waveforms[:, : self.num_samples])

    def frame_mask(self, sample_lengths, batch_size=None):
        sample_lengths = ops.minimum(ops.cast(sample_lengths, "int32"), self.num_samples)
        mel_frames = (sample_lengths + self.hop - 1) // self.hop
        frames = ops.where(mel_frames > 0, (mel_frames - 1) // 2 + 1, 0)
        return ops.arange(self.num_frames)[None, :] < frames[:, None]

    def encode(self, features):
        """Every encoder hidden state from log-mel features, with the backbone's own layers."""
        b = self.backbone
        x = keras.activations.gelu(b.encoder_conv_layer_1(features), approximate=False)
        x = keras.activations.gelu(b.encoder_conv_layer_2(b.encoder_padder(x)), approximate=False)
        x = b.encoder_embeddings_add((x, b.encoder_position_embedding(x)))
        hidden = [x]
        for layer in b.encoder_transformer_layers:
            x = layer(x, training=False)
            hidden.append(x)
        hidden[-1] = b.encoder_layer_norm(x)
        return hidden

    def call(self, waveforms, padding_mask=None):
        waveforms = ops.convert_to_tensor(waveforms, "float32")
        if padding_mask is None:
            lengths = ops.full((ops.shape(waveforms)[0],), ops.shape(waveforms)[1], dtype="int32")
        else:
            lengths = ops.sum(ops.cast(padding_mask, "int32"), axis=1)
        features = ops.convert_to_tensor(self.features(waveforms, padding_mask), "float32")
        return {"hidden_states": self.encode(features), "frame_mask": self.frame_mask(lengths)}


def whisper_encoder_from_preset(preset, freeze=False):
    """A `WhisperAudioEncoder` from a keras-hub preset (a local `save_to_preset` directory or
    a preset name; names need a download, which fails offline). Only the encoder half of the
    backbone is used; `freeze=True` makes the backbone's weights non-trainable."""
    import keras_hub

    backbone = keras_hub.models.WhisperBackbone.from_preset(preset)
    converter = keras_hub.layers.WhisperAudioConverter.from_preset(preset)
    backbone.trainable = not freeze
    return WhisperAudioEncoder(backbone, converter, name="whisper_speech_encoder")


@keras.saving.register_keras_serializable(package=PACKAGE)
class WhisperSpeechBackbone(SpeechBackbone):
    """Whisper's audio encoder (`WhisperAudioEncoder`) from a keras-hub preset behind the
    speech-backbone contract, its log-mel converter in the graph.
    Its window is fixed (the preset's `max_audio_length`, 30 s for released checkpoints):
    shorter input is zero-padded to it, longer input cut."""

    kind = "whisper"

    def __init__(self, handle: str, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.handle = str(handle)
        with float32_policy():
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
        out = self.encoder(waveform, ops.cast(lengths_mask(waveform, waveform_length), "int32"))
        return ops.stack(out["hidden_states"], axis=1), ops.cast(out["frame_mask"], "int32")

    def describe(self) -> dict:
        return {"kind": self.kind, "handle": self.handle, "hidden_size": self.hidden_size,
                "hidden_states": self.num_states, "trainable": self.trainable,
                "window_samples": self.window_samples}

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)
        return {**config, "handle": self.handle}
