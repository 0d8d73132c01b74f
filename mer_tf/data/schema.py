"""The `tf.train.Example` schema of prepared utterances (one Example per utterance).

Version 2. Arrays travel as raw little-endian bytes (`tf.io.decode_raw`), which
parses far faster than float lists; shapes travel beside them.

| key | type | meaning |
| --- | --- | --- |
| utterance_id, dialog | bytes | `Ses01F_impro01_F000`, `Ses01F_impro01` |
| dialog_kind, script | bytes | `impro` or `script`; the play and part (`script01_1`; "") |
| session | int64 | 1..5 |
| speaker | bytes | speaking actor, `Ses01F` (session + gender of the utterance suffix) |
| speaker_gender, mocap_wearer | bytes | `F`/`M`: who speaks, who wore the markers (dialog id) |
| mocap_is_speaker | int64 | 1 when the markers were on the speaker, 0 when on the listener |
| emotion | bytes | raw EmoEvaluation code (`hap`, `exc`, …) |
| label, label_name, label_set | int64, bytes, bytes | class index and name in the label set |
| vad | float x3 | valence, arousal, dominance (annotator mean) |
| start_time, end_time | float | seconds within the dialog |
| audio/pcm16 | bytes | int16 mono samples |
| audio/num_samples, audio/sample_rate | int64 | length, 16000 |
| text | bytes | transcript, UTF-8 |
| mocap/rate, mocap/num_frames | float, int64 | frames-view rate (frames/s) and length T |
| mocap/{head,hand,rotated}/values | bytes | float32 [T, dim], NaN replaced by 0 |
| mocap/{head,hand,rotated}/present | bytes | uint8 [T, dim], 1 where the value was not NaN |
| mocap/{head,hand,rotated}/dim | int64 | value columns of the stream |
| mocap/chunks/values | bytes | float32 [count, dim] paper view: head, hand, rotated concatenated |
| mocap/chunks/present | bytes | uint8 [count], 1 where the chunk holds a frame |
| mocap/chunks/count, mocap/chunks/dim | int64 | 200 and 189 on IEMOCAP |
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mer_tf.data.iemocap import MOCAP_STREAMS, Utterance

SCHEMA_VERSION = 2  # 2: dialog_kind and script
# `vad` of an utterance its corpus did not annotate: NaN, so that no loss or figure reads
# it as a rating (shards written before this held zeros there; their corpora declare no
# scale in the manifest, so their zeros are never read as ratings either).
NOT_ANNOTATED = (float("nan"),) * 3
KINDS = ("text", "int", "float", "floats", "array")


@dataclasses.dataclass(frozen=True)
class Field:
    """One feature of a record.

    kind: text (UTF-8 bytes), int (int64), float (one float32), floats (`size` float32s),
    or array (raw little-endian bytes of `dtype`; `shape` names the int fields, or gives
    the numbers, that shape it; uint8 arrays with `boolean` hold flags).
    """

    key: str
    kind: str
    dtype: str = ""
    shape: tuple = ()
    size: int = 1
    boolean: bool = False


class Schema:
    """A record layout: encoding, decoding and graph parsing all derive from the fields."""

    def __init__(self, fields):
        self.fields = {f.key: f for f in fields}
        for f in fields:
            if f.kind not in KINDS or (f.kind == "array") != bool(f.dtype):
                raise ValueError(f"field {f.key}: bad kind {f.kind!r} or dtype {f.dtype!r}")

    def encode(self, values: dict) -> bytes:
        """A serialized `tf.train.Example` of `values` (every field of the schema)."""
        from tensorflow.core.example import example_pb2, feature_pb2

        feature = {}
        for key, field in self.fields.items():
            if key not in values:
                raise ValueError(f"record field {key!r} is missing")
            value = values[key]
            if field.kind == "int":
                feature[key] = feature_pb2.Feature(
                    int64_list=feature_pb2.Int64List(value=[int(value)]))
            elif field.kind in ("float", "floats"):
                floats = [value] if field.kind == "float" else list(value)
                feature[key] = feature_pb2.Feature(
                    float_list=feature_pb2.FloatList(value=[float(v) for v in floats]))
            else:
                if field.kind == "array":
                    value = np.ascontiguousarray(np.asarray(value).astype(field.dtype)).tobytes()
                elif isinstance(value, str):
                    value = value.encode("utf-8")
                feature[key] = feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=[value]))
        proto = example_pb2.Example(features=feature_pb2.Features(feature=feature))
        return proto.SerializeToString(deterministic=True)

    def decode(self, serialized: bytes) -> dict:
        """A serialized record -> Python values and shaped numpy arrays (tools and tests;
        training parses in the graph with `parse_spec` and `decode_array`)."""
        from tensorflow.core.example import example_pb2

        feature = example_pb2.Example.FromString(serialized).features.feature
        out, arrays = {}, []
        for key, field in self.fields.items():
            f = feature[key]
            if field.kind == "int":
                out[key] = int(f.int64_list.value[0])
            elif field.kind == "float":
                out[key] = float(f.float_list.value[0])
            elif field.kind == "floats":
                out[key] = tuple(f.float_list.value)
            elif field.kind == "text":
                out[key] = f.bytes_list.value[0].decode("utf-8")
            else:
                arrays.append((key, field, f.bytes_list.value[0]))
        for key, field, raw in arrays:
            shape = [out[s] if isinstance(s, str) else s for s in field.shape]
            value = np.frombuffer(raw, dtype=field.dtype).reshape(shape)
            out[key] = value.astype(bool) if field.boolean else value
        return out

    def parse_spec(self, keys) -> dict:
        """`tf.io.parse_single_example` spec of `keys` (arrays arrive as raw bytes)."""
        import tensorflow as tf

        spec = {}
        for key in keys:
            field = self.fields[key]
            if field.kind == "int":
                spec[key] = tf.io.FixedLenFeature([], tf.int64)
            elif field.kind == "float":
                spec[key] = tf.io.FixedLenFeature([], tf.float32)
            elif field.kind == "floats":
                spec[key] = tf.io.FixedLenFeature([field.size], tf.float32)
            else:
                spec[key] = tf.io.FixedLenFeature([], tf.string)
        return spec

    def decode_array(self, key: str, raw, shape):
        """In the graph: the raw bytes of array field `key` -> a tensor of `shape`."""
        import tensorflow as tf

        dtype = tf.as_dtype(np.dtype(self.fields[key].dtype).newbyteorder("="))
        return tf.reshape(tf.io.decode_raw(raw, dtype, little_endian=True), shape)


def _utterance_fields() -> list[Field]:
    fields = [Field(k, "text") for k in ("utterance_id", "dialog", "dialog_kind", "script",
                                         "speaker", "speaker_gender", "mocap_wearer", "emotion",
                                         "label_name", "label_set", "text")]
    fields += [Field(k, "int") for k in ("session", "mocap_is_speaker", "label",
                                         "audio/num_samples", "audio/sample_rate",
                                         "mocap/num_frames", "mocap/chunks/count",
                                         "mocap/chunks/dim")]
    fields += [Field(k, "float") for k in ("start_time", "end_time", "mocap/rate")]
    fields.append(Field("vad", "floats", size=3))
    fields.append(Field("audio/pcm16", "array", "<i2", ("audio/num_samples",)))
    for stream in MOCAP_STREAMS:
        shape = ("mocap/num_frames", f"mocap/{stream}/dim")
        fields += [Field(f"mocap/{stream}/values", "array", "<f4", shape),
                   Field(f"mocap/{stream}/present", "array", "u1", shape, boolean=True),
                   Field(f"mocap/{stream}/dim", "int")]
    fields += [Field("mocap/chunks/values", "array", "<f4",
                     ("mocap/chunks/count", "mocap/chunks/dim")),
               Field("mocap/chunks/present", "array", "u1", ("mocap/chunks/count",),
                     boolean=True)]
    return fields


UTTERANCE = Schema(_utterance_fields())
# what every split reads (speaker, id and kind filters; labels; evaluation's metadata)
METADATA_KEYS = ("utterance_id", "session", "speaker", "label", "dialog_kind")


@dataclasses.dataclass
class UtteranceExample:
    """An utterance with its signals, ready to encode."""

    utterance: Utterance
    label: int
    label_name: str
    label_set: str
    audio: np.ndarray  # int16 [samples]
    sample_rate: int
    mocap_rate: float
    mocap_frames: dict  # stream -> (values float32 [T, dim], present bool [T, dim])
    chunks: np.ndarray  # float32 [count, total dim]
    chunks_present: np.ndarray  # bool [count]


def encode_example(example: UtteranceExample) -> bytes:
    u = example.utterance
    values = {
        "utterance_id": u.utterance_id, "dialog": u.dialog, "dialog_kind": u.kind,
        "script": u.script, "session": u.session,
        "speaker": u.speaker, "speaker_gender": u.speaker_gender,
        "mocap_wearer": u.mocap_wearer, "mocap_is_speaker": u.mocap_is_speaker,
        "emotion": u.emotion, "label": example.label, "label_name": example.label_name,
        "label_set": example.label_set, "vad": u.vad or NOT_ANNOTATED, "start_time": u.start,
        "end_time": u.end, "audio/pcm16": example.audio,
        "audio/num_samples": example.audio.shape[0], "audio/sample_rate": example.sample_rate,
        "text": u.transcript, "mocap/rate": example.mocap_rate,
        "mocap/chunks/values": example.chunks, "mocap/chunks/present": example.chunks_present,
        "mocap/chunks/count": example.chunks.shape[0],
        "mocap/chunks/dim": example.chunks.shape[1],
    }
    frames = {example.mocap_frames[s][0].shape[0] for s in MOCAP_STREAMS}
    if len(frames) != 1:
        raise ValueError(f"{u.utterance_id}: mocap streams differ in frame count")
    values["mocap/num_frames"] = frames.pop()
    for stream in MOCAP_STREAMS:
        stream_values, present = example.mocap_frames[stream]
        values[f"mocap/{stream}/values"] = stream_values
        values[f"mocap/{stream}/present"] = present.astype(np.uint8)
        values[f"mocap/{stream}/dim"] = stream_values.shape[1]
    return UTTERANCE.encode(values)


def decode_example(serialized: bytes) -> dict:
    """One serialized utterance -> Python values and numpy arrays (`audio`: int16 samples)."""
    out = UTTERANCE.decode(serialized)
    out["audio"] = out.pop("audio/pcm16")
    return out
