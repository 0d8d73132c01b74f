"""Speech tower: a speech backbone -> every layer's frames and the frame mask -> the last
layer or a learned weighted sum of all layers -> head (masked mean, attention, or the
paper's Flatten -> Dense(128)).

The backbone is the paper's TF-Hub wav2vec2 (last layer only), a Hugging Face
wav2vec2 / HuBERT / WavLM checkpoint or a keras-hub Whisper preset
(`mer_tf.models.speech`,
 one contract for every kind). With the mean head the cacheable features are each
layer's mean frame [N, H]; with attention pooling or Flatten, every layer's frames and
the mask. Either way the layer weights sit after the cache, so they train on cached
features too.
"""

from __future__ import annotations

import numpy as np

from mer_tf.config import SpeechConfig
from mer_tf.config.model import PAPER_INPUT_SECONDS
from mer_tf.frames import SAMPLE_RATE
from mer_tf.models.towers.base import Tower

SILENCE_PEAK = 1e-4  # below this peak amplitude a waveform counts as silent


def _input_length(config: SpeechConfig, backbone) -> int:
    """Samples per utterance: a backbone that fixes its length (a TF-Hub SavedModel)
    decides, and a different `input_seconds` is refused; others read `input_seconds`, or
    the paper's 15.375 s where it is 0."""
    asked = round(config.input_seconds * SAMPLE_RATE)
    if backbone.input_length:
        if asked and asked != backbone.input_length:
            raise ValueError(f"{config.model} takes {backbone.input_length / SAMPLE_RATE:g} s "
                             f"of audio, not {config.input_seconds:g}: --speech-seconds applies "
                             "to Hugging Face and Whisper backbones")
        return int(backbone.input_length)
    return int(asked or round(PAPER_INPUT_SECONDS * SAMPLE_RATE))


class SpeechTower(Tower):
    name = "speech"
    config_class = SpeechConfig
    item_key = "waveform"

    def __init__(self, config: SpeechConfig, units: int, facts, statistics=None):
        import keras

        from mer_tf.models.layers import AttentionPooling
        from mer_tf.models.speech.kinds import load_speech_backbone
        from mer_tf.models.speech.states import LayerMix, MaskedStateMeans

        super().__init__(config, units, facts, statistics)
        self.backbone = load_speech_backbone(config)
        if config.layers != "last" and self.backbone.num_states == 1:
            raise ValueError(f"{config.model}: this backbone gives its last layer only; "
                             "--speech-layers weighted needs a Hugging Face or Whisper backbone")
        self.input_length = _input_length(config, self.backbone)
        self.frames = self.backbone.frames_for(self.input_length)
        self.hidden, self.num_states = self.backbone.hidden_size, self.backbone.num_states
        self.mix = LayerMix(config.layers, name="speech_layer_mix")
        if config.head == "mean":
            self.pool = MaskedStateMeans(name="speech_pool")
            self.dense = keras.layers.Dense(units, activation="relu", name="speech_dense")
        elif config.head == "attention":
            self.pool = AttentionPooling(name="speech_pool")
            self.dense = keras.layers.Dense(units, activation="relu", name="speech_dense")
        else:
            self.pool = keras.layers.Flatten(name="speech_flatten")
            self.dense = keras.layers.Dense(units, name="speech_dense")

    def reader(self):
        from mer_tf.data.readers import WaveformReader

        return WaveformReader(self.input_length)

    def raw_inputs(self) -> dict:
        import keras

        return {
            "waveform": keras.Input((self.input_length,), dtype="float32", name="waveform"),
            "waveform_length": keras.Input((), dtype="int32", name="waveform_length"),
        }

    def feature_inputs(self) -> dict:
        import keras

        states = (self.num_states,)
        if self.config.head == "mean":
            return {"speech_features": keras.Input((*states, self.hidden),
                                                   name="speech_features")}
        return {
            "speech_frames": keras.Input((*states, self.frames, self.hidden),
                                         name="speech_frames"),
            "speech_frame_mask": keras.Input((self.frames,), dtype="int32",
                                             name="speech_frame_mask"),
        }

    def features(self, raw: dict) -> dict:
        """Every layer's states (one layer for TF-Hub) and the frame mask, or their means."""
        states, mask = self.backbone(raw["waveform"], raw["waveform_length"])
        if self.config.head == "mean":
            return {"speech_features": self.pool(states, mask)}
        return {"speech_frames": states, "speech_frame_mask": mask}

    def head(self, features: dict):
        if self.config.head == "mean":
            return self.dense(self.mix(features["speech_features"]))
        frames = self.mix(features["speech_frames"])
        if self.config.head == "attention":
            return self.dense(self.pool(frames, features["speech_frame_mask"]))
        return self.dense(self.pool(frames))

    def input_lengths(self, raw: dict):
        return raw["waveform_length"] if self.backbone.padding_invariant else None

    def trim(self, raw: dict, length: int) -> dict:
        # at least 0.1 s: a batch of empty utterances still gives the conv stack a frame
        return {**raw, "waveform": raw["waveform"][:, :max(length, SAMPLE_RATE // 10)]}

    def cache_key(self):
        return [self.config.model, self.config.head, self.input_length,
                *self.backbone.cache_key()]

    def describe(self) -> dict:
        """What the loaded backbone turned out to be, for config.json, with the audio it
        reads (`model.speech.input_seconds` 0 leaves that to the backbone)."""
        facts = {**self.backbone.describe(), "layers": self.config.layers,
                 "input_length": self.input_length,
                 "input_seconds": round(self.input_length / SAMPLE_RATE, 6)}
        return facts

    def hparams(self) -> dict:
        return {"speech_head": self.config.head, "speech_layers": self.config.layers}

    # -- export ----------------------------------------------------------------------------
    def export_info(self) -> dict:
        return {"sample_rate": SAMPLE_RATE, "waveform_length": self.input_length}

    def serving_specs(self) -> dict:
        import tensorflow as tf

        return {"waveform": tf.TensorSpec([None, None], tf.float32, name="waveform"),
                "waveform_length": tf.TensorSpec([None], tf.int32, name="waveform_length")}

    def serving_inputs(self, tensors: dict) -> dict:
        """Any number of samples -> the model's fixed input length (cropped or zero-padded)."""
        import tensorflow as tf

        target = self.input_length
        waveform = tensors["waveform"][:, :target]
        waveform = tf.pad(waveform, [[0, 0], [0, target - tf.shape(waveform)[1]]])
        lengths = tf.minimum(tf.cast(tensors["waveform_length"], tf.int32), target)
        return {"waveform": tf.ensure_shape(waveform, [None, target]), "waveform_length": lengths}

    def encoded_serving_specs(self) -> dict:
        import tensorflow as tf

        return {"wav": tf.TensorSpec([None], tf.string, name="wav")}

    def decode_serving_inputs(self, tensors: dict) -> dict:
        """Encoded 16-bit WAVs at any rate (resampled in the graph) and with any channels
        (downmixed) -> waveforms at the model's rate and their lengths."""
        import tensorflow as tf

        from mer_tf.models.speech.resample import resample_in_graph

        def decode(data):
            audio, rate = tf.audio.decode_wav(data)
            return resample_in_graph(tf.reduce_mean(audio, axis=-1), rate, SAMPLE_RATE)

        decoded = tf.map_fn(decode, tensors["wav"],
                            fn_output_signature=tf.RaggedTensorSpec([None], tf.float32))
        return {"waveform": decoded.to_tensor(),
                "waveform_length": tf.cast(decoded.row_lengths(), tf.int32)}

    # -- inference -------------------------------------------------------------------------
    @classmethod
    def prepare_item(cls, item: dict, info: dict, notes: list, model) -> dict:
        from mer_tf.data.audio import resample

        waveform = np.asarray(item["waveform"], dtype=np.float32)
        sample_rate = item.get("sample_rate", SAMPLE_RATE)
        if waveform.ndim == 2:
            waveform = waveform.mean(axis=1)
        if waveform.ndim != 1:
            raise ValueError(f"waveform must be [samples] or [samples, channels], got shape "
                             f"{waveform.shape}")
        if waveform.size == 0:
            raise ValueError("empty waveform: 0 samples")
        if not np.isfinite(waveform).all():
            raise ValueError("waveform holds NaN or infinite samples")
        rate = info["sample_rate"]
        if sample_rate != rate:
            waveform = resample(waveform, sample_rate, rate)
            notes.append(f"resampled from {sample_rate} Hz to {rate} Hz")
        peak = float(np.abs(waveform).max())
        if peak < SILENCE_PEAK:
            notes.append(f"silent waveform (peak amplitude {peak:.1e}): the speech tower "
                         "sees silence")
        limit = info["waveform_length"]
        if waveform.size > limit:
            notes.append(f"waveform is {waveform.size / rate:.2f} s; the model reads the first "
                         f"{limit / rate:.2f} s")
        return {"waveform": waveform}

    @classmethod
    def batch_items(cls, prepared: list, info: dict) -> list:
        waves = [p["waveform"] for p in prepared]
        batch = np.zeros((len(waves), max(w.size for w in waves)), np.float32)
        for i, w in enumerate(waves):
            batch[i, :w.size] = w
        return [batch, np.array([w.size for w in waves], np.int32)]

    @classmethod
    def placeholder(cls, info: dict) -> dict:
        return {"waveform": np.full(SAMPLE_RATE, 1e-3, np.float32),
                "sample_rate": info["sample_rate"]}
