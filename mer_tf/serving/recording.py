"""A long recording read in pieces, and where its speech is.

`Recording` reads any file soundfile reads (any rate, any channel count) one span or one
block at a time, averaged to mono and resampled with soxr as single files are, so memory
does not grow with the recording. `find_speech` runs WebRTC's voice activity detector
(`webrtcvad`, a small C library: no model to download) over the recording in blocks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import soundfile
import soxr

from mer_tf.data.audio import (
    check_is_file,
    describe_unreadable,
    downmix,
    encoding_note,
    resample,
    to_int16,
)
from mer_tf.data.errors import DataError
from mer_tf.frames import SAMPLE_RATE
from mer_tf.io import storage

VAD_FRAME = 480  # 30 ms at 16 kHz: one of the frame sizes WebRTC's detector takes


class Recording:
    """An open audio file: `duration`, `read(start, end)` and `blocks()` at `rate`."""

    def __init__(self, path: str, rate: int = SAMPLE_RATE):
        check_is_file(path, "recording")
        self.path, self.rate = path, rate
        self._handle = storage.open_file(path, "rb")
        try:
            self._sound = soundfile.SoundFile(self._handle)
        except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
            self._handle.close()
            raise DataError(path, f"unreadable audio: {describe_unreadable(path)}") from None
        self.source_rate, self.channels = self._sound.samplerate, self._sound.channels
        self.format, self.frames = self._sound.format, self._sound.frames
        self.duration = self.frames / self.source_rate

    def close(self) -> None:
        self._sound.close()
        self._handle.close()

    def __enter__(self) -> "Recording":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def notes(self) -> list[str]:
        """What reading it handled, said once per recording."""
        out = [] if self.format == "WAV" else [f"read {self.format} audio"]
        if encoding_note(self._sound.subtype):
            out.append(encoding_note(self._sound.subtype))
        if self.channels > 1:
            out.append(f"{self.channels} channels averaged to mono")
        if self.source_rate != self.rate:
            out.append(f"resampled from {self.source_rate} Hz to {self.rate} Hz")
        return out

    def read(self, start: float, end: float) -> np.ndarray:
        """float32 mono samples of [start, end) s at `rate`."""
        first = max(0, int(round(start * self.source_rate)))
        last = min(self.frames, int(round(end * self.source_rate)))
        self._sound.seek(first)
        samples = self._checked(self._sound.read(max(0, last - first), dtype="float32",
                                                 always_2d=True), first)
        mono = downmix(samples)
        if self.source_rate != self.rate and mono.size:
            mono = resample(mono, self.source_rate, self.rate)
        return mono.astype(np.float32)

    def blocks(self, seconds: float = 10.0):
        """The whole recording at `rate`, block by block (soxr's streaming resampler keeps
        the blocks seamless)."""
        size = max(1, int(seconds * self.source_rate))
        stream = (soxr.ResampleStream(self.source_rate, self.rate, 1, dtype="float32",
                                      quality="HQ") if self.source_rate != self.rate else None)
        self._sound.seek(0)
        position = 0
        while True:
            samples = self._sound.read(size, dtype="float32", always_2d=True)
            last = len(samples) < size
            mono = downmix(self._checked(samples, position)).astype(np.float32)
            position += len(samples)
            yield stream.resample_chunk(mono, last=last) if stream else mono
            if last:
                return

    def _checked(self, samples: np.ndarray, first: int) -> np.ndarray:
        nan = np.isnan(samples).any(axis=1)
        if nan.any():  # only float files hold them; never turned into silence
            at = (first + int(np.argmax(nan))) / self.source_rate
            raise DataError(self.path, f"NaN (not a number) samples from {at:.2f} s: the file "
                                       "is damaged or was written wrongly")
        return samples


@dataclasses.dataclass(frozen=True)
class SpeechSettings:
    """How `find_speech` turns 30 ms decisions into segments."""
    aggressiveness: int = 2  # WebRTC's mode, 0 (keeps most) to 3 (keeps least)
    min_silence: float = 0.4  # s of non-speech that ends a segment
    min_speech: float = 0.25  # s: shorter segments are dropped
    max_segment: float = 10.0  # s: longer ones are cut into equal parts no longer than this


def find_speech(recording: Recording, settings: SpeechSettings = SpeechSettings()):
    """[(start, end)] s of the recording's speech, from one pass over it in blocks."""
    import webrtcvad

    if recording.rate != SAMPLE_RATE:
        raise ValueError(f"voice activity detection reads {SAMPLE_RATE} Hz, not {recording.rate}")
    vad = webrtcvad.Vad(settings.aggressiveness)
    frame_seconds = VAD_FRAME / SAMPLE_RATE
    gap = int(np.ceil(settings.min_silence / frame_seconds))
    segments, start, silent, index = [], None, 0, 0
    carry = np.zeros(0, np.int16)
    for block in recording.blocks():
        pcm = np.concatenate([carry, to_int16(block)])
        whole = len(pcm) // VAD_FRAME * VAD_FRAME
        carry = pcm[whole:]
        for frame in pcm[:whole].reshape(-1, VAD_FRAME):
            if vad.is_speech(frame.tobytes(), SAMPLE_RATE):
                start = index if start is None else start
                silent = 0
            elif start is not None:
                silent += 1
                if silent >= gap:
                    segments.append((start, index - silent + 1))
                    start, silent = None, 0
            index += 1
    if start is not None:
        segments.append((start, index - silent))
    found = [(a * frame_seconds, b * frame_seconds) for a, b in segments
             if (b - a) * frame_seconds >= settings.min_speech]
    return [part for segment in found for part in _cut(segment, settings.max_segment)]


def _cut(segment, longest: float):
    start, end = segment
    parts = max(1, int(np.ceil((end - start) / longest - 1e-9)))
    step = (end - start) / parts
    return [(start + i * step, start + (i + 1) * step) for i in range(parts)]
