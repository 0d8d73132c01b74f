"""What each tower reads from a prepared record: the fields to parse and the model inputs
(static shapes) they become. Towers choose their reader; the pipeline only calls it.

A reader has `modality`, `record_keys()` (schema fields to parse), `decode(features)`
(one example's parsed fields -> model inputs) and `after_batch(inputs)` (whole-batch
work such as tokenization; most readers have none).
"""

from __future__ import annotations

import dataclasses

from mer_tf.data.schema import UTTERANCE
from mer_tf.frames import PCM16_SCALE


def crop_or_pad(x, length: int):
    """First `length` steps of x (axis 0), zero-padded; returns (x, valid steps)."""
    import tensorflow as tf

    n = tf.minimum(tf.shape(x)[0], length)
    x = x[:length]
    x = tf.pad(x, [[0, length - n]] + [[0, 0]] * (len(x.shape) - 1))
    return tf.ensure_shape(x, [length, *x.shape[1:]]), n


class Reader:
    modality = ""
    works_on_batches = False  # True: `after_batch` has work to do

    def record_keys(self) -> tuple:
        raise NotImplementedError

    def decode(self, features: dict) -> dict:
        raise NotImplementedError

    def after_batch(self, inputs: dict) -> dict:
        return inputs


@dataclasses.dataclass(frozen=True)
class WaveformReader(Reader):
    """16 kHz samples as float32 in [-1, 1), cropped or padded to `length`."""

    length: int
    modality: str = "speech"

    def record_keys(self):
        return ("audio/pcm16", "audio/num_samples")

    def decode(self, features):
        import tensorflow as tf

        pcm = UTTERANCE.decode_array("audio/pcm16", features["audio/pcm16"], [-1])
        samples = tf.cast(pcm, tf.float32) / PCM16_SCALE
        waveform, length = crop_or_pad(samples, self.length)
        return {"waveform": waveform, "waveform_length": tf.cast(length, tf.int32)}


@dataclasses.dataclass(frozen=True, eq=False)
class TextReader(Reader):
    """The transcript, tokenized per batch by the tower's keras-hub preprocessor (or a
    tf.function of it)."""

    preprocessor: object
    modality: str = "text"
    works_on_batches = True

    def record_keys(self):
        return ("text",)

    def decode(self, features):
        return {"text": features["text"]}

    def after_batch(self, inputs):
        import tensorflow as tf

        inputs = dict(inputs)
        text = inputs.pop("text")
        tokens = self.preprocessor(text)
        for key in ("token_ids", "segment_ids", "padding_mask"):
            # The tokenizer forgets the static batch size; XLA and TPUs need it back.
            inputs[key] = tf.ensure_shape(tf.cast(tokens[key], tf.int32),
                                          [text.shape[0], tokens[key].shape[1]])
        return inputs


@dataclasses.dataclass(frozen=True)
class MocapReader(Reader):
    """Motion capture in one view: `frames` (the prepared rate, cropped or padded to
    `frames`, NaN where a marker was missing) or `chunks` (the paper's averaged chunks)."""

    view: str
    frames: int
    streams: tuple  # ((stream, dim), ...) as the corpus has them
    modality: str = "mocap"

    @property
    def features(self) -> int:
        return sum(dim for _, dim in self.streams)

    def record_keys(self):
        if self.view == "chunks":
            return ("mocap/chunks/values", "mocap/chunks/present")
        keys = ["mocap/num_frames"]
        for stream, _ in self.streams:
            keys += [f"mocap/{stream}/values", f"mocap/{stream}/present"]
        return tuple(keys)

    def decode(self, features):
        import tensorflow as tf

        if self.view == "chunks":
            values = UTTERANCE.decode_array("mocap/chunks/values", features["mocap/chunks/values"],
                                            [self.frames, self.features])
            present = UTTERANCE.decode_array("mocap/chunks/present",
                                             features["mocap/chunks/present"], [self.frames])
            return {"mocap": tf.ensure_shape(values, [self.frames, self.features]),
                    "mocap_mask": tf.ensure_shape(tf.cast(present, tf.int32), [self.frames])}
        frames = tf.cast(features["mocap/num_frames"], tf.int32)
        parts = []
        for stream, dim in self.streams:
            values = UTTERANCE.decode_array(f"mocap/{stream}/values",
                                            features[f"mocap/{stream}/values"], [frames, dim])
            present = UTTERANCE.decode_array(f"mocap/{stream}/present",
                                             features[f"mocap/{stream}/present"], [frames, dim])
            parts.append(tf.where(present > 0, values, tf.fill(tf.shape(values), float("nan"))))
        mocap, valid = crop_or_pad(tf.concat(parts, axis=-1), self.frames)
        return {"mocap": mocap,
                "mocap_mask": tf.cast(tf.range(self.frames) < valid, tf.int32)}
