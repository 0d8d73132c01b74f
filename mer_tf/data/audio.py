"""Audio reading (soundfile; the audio of video files with PyAV, whose wheels carry
their own FFmpeg) and resampling with soxr, to 16 kHz mono int16."""

from __future__ import annotations

import numpy as np
import soundfile
import soxr

from mer_tf.data.errors import DataError
from mer_tf.frames import PCM16_SCALE, SAMPLE_RATE
from mer_tf.io import storage


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] -> int16 (clipped)."""
    return np.clip(np.round(samples * PCM16_SCALE), -32768, 32767).astype(np.int16)


def downmix(samples: np.ndarray) -> np.ndarray:
    """[n, channels] -> [n] by averaging channels (dialog wavs are stereo)."""
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def resample(samples: np.ndarray, source: int, target: int) -> np.ndarray:
    """float32 samples at `source` Hz -> at `target` Hz (soxr's high quality)."""
    return soxr.resample(samples, source, target, quality="HQ").astype(np.float32)


def describe_unreadable(path: str) -> str:
    """What is wrong with a file soundfile could not decode, from its first bytes
    (libsndfile's own message names a Python file object, not the file)."""
    data = storage.read_bytes(path)
    if not data:
        return "the file is empty (0 bytes)"
    if data[:4] not in (b"RIFF", b"RIFX", b"RF64"):
        return (f"not a RIFF/WAVE file (it starts with {data[:4]!r}; {len(data)} bytes)")
    if data[8:12] != b"WAVE":
        return f"a RIFF file but not WAVE (form type {data[8:12]!r})"
    declared = int.from_bytes(data[4:8], "little") + 8
    if len(data) < max(declared, 44) and declared != 0xFFFFFFFF + 8:
        return f"truncated: {len(data)} bytes where its header declares {declared}"
    return "a WAVE file whose format libsndfile cannot decode"


# What `read_wav` reads (libsndfile's formats, and the audio track of video files), as
# `experiments.predict --help` says it.
AUDIO_FORMATS = "WAV, FLAC, OGG/Vorbis or Opus, AIFF, MP3, or the audio of MP4/M4A/MKV/AVI"
# Read with PyAV (MELD's clips are MP4 files: H.264 video and AAC audio).
CONTAINER_SUFFIXES = (".mp4", ".m4a", ".mkv", ".avi", ".mov", ".webm")


def read_wav(path: str, target_rate: int | None = SAMPLE_RATE) -> tuple[np.ndarray, int]:
    """Reads any audio file soundfile can read; returns (int16 mono at `target_rate`,
    source rate). A caller compares the source rate with `target_rate` to say that it
    resampled; `target_rate=None` keeps the file's rate."""
    samples, rate, _ = read_audio(path, target_rate)
    return samples, rate


# Encodings of 8 bits a sample (libsndfile's subtype names): read correctly, but coarser
# than the 16-bit speech every emotion corpus is recorded in.
EIGHT_BIT_SUBTYPES = {"PCM_U8": "8-bit PCM", "PCM_S8": "8-bit PCM", "ULAW": "8-bit mu-law",
                      "ALAW": "8-bit A-law"}


def encoding_note(subtype: str) -> str | None:
    """A note for audio whose encoding is coarser than what models are trained on."""
    if subtype in EIGHT_BIT_SUBTYPES:
        return (f"{EIGHT_BIT_SUBTYPES[subtype]} audio: far coarser than the 16-bit speech the "
                "model learned from, so its answer may be less sure")
    return None


def read_audio(path: str, target_rate: int | None = SAMPLE_RATE) -> tuple[np.ndarray, int, dict]:
    """`read_wav`, and what the file was: {"format": "WAV", "channels": 2, "subtype":
    "PCM_16"} (channels are averaged to mono)."""
    check_is_file(path, "WAV file")
    if path.lower().endswith(CONTAINER_SUFFIXES):
        samples, rate, found = read_container_audio(path)
    else:
        samples, rate, found = _read_soundfile(path)
    nan = np.isnan(samples)
    if nan.any():  # only float WAVs can hold them; never turned into silence
        raise DataError(path, f"{int(nan.any(axis=1).sum())} of {len(samples)} samples are NaN "
                              "(not a number): the file is damaged or was written wrongly")
    mono = downmix(samples)
    if target_rate is not None and rate != target_rate:
        mono = resample(mono, rate, target_rate)
    return to_int16(mono), rate, found


def _read_soundfile(path: str) -> tuple[np.ndarray, int, dict]:
    try:
        with storage.open_file(path, "rb") as handle:
            with soundfile.SoundFile(handle) as sound:
                found = {"format": sound.format, "channels": sound.channels,
                         "subtype": sound.subtype}
                samples, rate = sound.read(dtype="float32", always_2d=True), sound.samplerate
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        raise DataError(path, f"unreadable WAV: {describe_unreadable(path)}") from None
    return samples, rate, found


def read_container_audio(path: str) -> tuple[np.ndarray, int, dict]:
    """([n, channels] float32, rate, what it was) of the first audio stream of a video
    or audio container, decoded by PyAV (no system FFmpeg needed)."""
    import av

    try:
        with storage.open_file(path, "rb") as handle, av.open(handle) as container:
            if not container.streams.audio:
                raise DataError(path, "no audio stream in the file (" + ", ".join(
                    s.type for s in container.streams) + " only)")
            stream = container.streams.audio[0]
            planar = av.AudioResampler(format="fltp")  # [channels, n] float32 whatever it was
            chunks = [part.to_ndarray() for frame in container.decode(stream)
                      for part in planar.resample(frame)]
            chunks += [part.to_ndarray() for part in planar.resample(None)]
            found = {"format": path.rsplit(".", 1)[-1].upper(), "channels": stream.channels,
                     "subtype": stream.codec_context.name}
            rate = stream.rate
    except av.FFmpegError as error:
        raise DataError(path, f"unreadable audio in a {path.rsplit('.', 1)[-1]} file: "
                              f"{error}") from None
    if not chunks:
        raise DataError(path, "the audio stream holds no samples")
    return np.concatenate(chunks, axis=1).T, rate, found


def check_is_file(path: str, what: str) -> None:
    """A clear DataError for a path that is no readable file: missing, a folder, or a
    symbolic link that leads nowhere (a dangling target or a loop)."""
    import os

    if not storage.is_remote(path) and os.path.islink(path) and not os.path.exists(path):
        raise DataError(path, f"a symbolic link that leads to no file (its target is missing, "
                              f"or the links form a loop); expected a {what}")
    if not storage.exists(path):
        raise DataError(path, f"missing {what}")
    if storage.isdir(path):
        raise DataError(path, f"a folder, not a {what}")


def write_wav(path: str, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Writes int16 PCM ([n] mono or [n, channels]) atomically."""
    buffer = _wav_bytes(samples, rate)
    storage.write_bytes_atomic(path, buffer)


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    import io

    handle = io.BytesIO()
    soundfile.write(handle, samples, rate, subtype="PCM_16", format="WAV")
    return handle.getvalue()
