"""The `tf.train.Example` schema of prepared utterances (one Example per utterance).

Version 1. Arrays travel as raw little-endian bytes (`tf.io.decode_raw`), which
parses far faster than float lists; shapes travel beside them.

| key | type | meaning |
| --- | --- | --- |
| utterance_id, dialog | bytes | `Ses01F_impro01_F000`, `Ses01F_impro01` |
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

SCHEMA_VERSION = 1


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


def _bytes(value) -> "object":
    from tensorflow.core.example import feature_pb2

    if isinstance(value, str):
        value = value.encode("utf-8")
    return feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=[value]))


def _int(value) -> "object":
    from tensorflow.core.example import feature_pb2

    return feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=[int(value)]))


def _floats(values) -> "object":
    from tensorflow.core.example import feature_pb2

    return feature_pb2.Feature(float_list=feature_pb2.FloatList(value=[float(v) for v in values]))


def encode_example(example: UtteranceExample) -> bytes:
    from tensorflow.core.example import example_pb2, feature_pb2

    u = example.utterance
    features = {
        "utterance_id": _bytes(u.utterance_id),
        "dialog": _bytes(u.dialog),
        "session": _int(u.session),
        "speaker": _bytes(u.speaker),
        "speaker_gender": _bytes(u.speaker_gender),
        "mocap_wearer": _bytes(u.mocap_wearer),
        "mocap_is_speaker": _int(u.mocap_is_speaker),
        "emotion": _bytes(u.emotion),
        "label": _int(example.label),
        "label_name": _bytes(example.label_name),
        "label_set": _bytes(example.label_set),
        "vad": _floats(u.vad),
        "start_time": _floats([u.start]),
        "end_time": _floats([u.end]),
        "audio/pcm16": _bytes(example.audio.astype("<i2").tobytes()),
        "audio/num_samples": _int(example.audio.shape[0]),
        "audio/sample_rate": _int(example.sample_rate),
        "text": _bytes(u.transcript),
        "mocap/rate": _floats([example.mocap_rate]),
        "mocap/chunks/values": _bytes(example.chunks.astype("<f4").tobytes()),
        "mocap/chunks/present": _bytes(example.chunks_present.astype(np.uint8).tobytes()),
        "mocap/chunks/count": _int(example.chunks.shape[0]),
        "mocap/chunks/dim": _int(example.chunks.shape[1]),
    }
    num_frames = None
    for stream in MOCAP_STREAMS:
        values, present = example.mocap_frames[stream]
        num_frames = values.shape[0] if num_frames is None else num_frames
        if values.shape[0] != num_frames:
            raise ValueError(f"{u.utterance_id}: mocap streams differ in frame count")
        features[f"mocap/{stream}/values"] = _bytes(values.astype("<f4").tobytes())
        features[f"mocap/{stream}/present"] = _bytes(present.astype(np.uint8).tobytes())
        features[f"mocap/{stream}/dim"] = _int(values.shape[1])
    features["mocap/num_frames"] = _int(num_frames)
    proto = example_pb2.Example(features=feature_pb2.Features(feature=features))
    return proto.SerializeToString(deterministic=True)


def decode_example(serialized: bytes) -> dict:
    """Decodes one serialized Example into numpy arrays and Python values.

    For tools and tests; training parses in the graph (`mer_tf.data.pipeline`).
    """
    from tensorflow.core.example import example_pb2

    proto = example_pb2.Example.FromString(serialized)
    feature = proto.features.feature

    def scalar(key):
        f = feature[key]
        if f.HasField("bytes_list"):
            return f.bytes_list.value[0]
        if f.HasField("int64_list"):
            return int(f.int64_list.value[0])
        return float(f.float_list.value[0])

    out = {}
    for key in ("utterance_id", "dialog", "speaker", "speaker_gender", "mocap_wearer", "emotion",
                "label_name", "label_set", "text"):
        out[key] = scalar(key).decode("utf-8")
    for key in ("session", "mocap_is_speaker", "label", "audio/num_samples", "audio/sample_rate",
                "mocap/num_frames", "mocap/chunks/count", "mocap/chunks/dim"):
        out[key] = scalar(key)
    for key in ("start_time", "end_time", "mocap/rate"):
        out[key] = scalar(key)
    out["vad"] = tuple(feature["vad"].float_list.value)
    out["audio"] = np.frombuffer(scalar("audio/pcm16"), dtype="<i2")
    frames = out["mocap/num_frames"]
    for stream in MOCAP_STREAMS:
        dim = scalar(f"mocap/{stream}/dim")
        out[f"mocap/{stream}/values"] = np.frombuffer(
            scalar(f"mocap/{stream}/values"), dtype="<f4").reshape(frames, dim)
        out[f"mocap/{stream}/present"] = np.frombuffer(
            scalar(f"mocap/{stream}/present"), dtype=np.uint8).reshape(frames, dim).astype(bool)
    count, dim = out["mocap/chunks/count"], out["mocap/chunks/dim"]
    out["mocap/chunks/values"] = np.frombuffer(
        scalar("mocap/chunks/values"), dtype="<f4").reshape(count, dim)
    out["mocap/chunks/present"] = np.frombuffer(
        scalar("mocap/chunks/present"), dtype=np.uint8).astype(bool)
    return out
