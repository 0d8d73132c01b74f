"""Stage two of preparation: one dialog's signals, read once, cut into utterances.

Each dialog's three MOCAP files and (when a sentence WAV is missing) its dialog
WAV are read once and sliced for every utterance, so memory is bounded by one
dialog whatever the corpus size. (The original notebooks re-read the whole MOCAP
file for every utterance, three times.)
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np

from mer_tf.data import audio as audio_io
from mer_tf.data import mocap_files
from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.iemocap import MOCAP_STREAMS, Dialog, Utterance
from mer_tf.data.labels import LabelSet
from mer_tf.data.schema import UtteranceExample
from mer_tf.frames import RECEPTIVE_FIELD, SAMPLE_RATE
from mer_tf.io import storage


@dataclasses.dataclass(frozen=True)
class SignalOptions:
    """How signals are stored: the frames-view rate and the paper's chunk count."""

    mocap_rate: float = 30.0
    mocap_chunks: int = mocap_files.PAPER_CHUNKS

    def __post_init__(self):
        if not 0 < self.mocap_rate <= mocap_files.MOCAP_FPS:
            raise ValueError(f"mocap_rate must be in (0, {mocap_files.MOCAP_FPS:g}], got "
                             f"{self.mocap_rate}")
        if self.mocap_chunks < 1:
            raise ValueError(f"mocap_chunks must be positive, got {self.mocap_chunks}")


@dataclasses.dataclass
class DialogNotes:
    """What was handled rather than refused: resampled WAVs, audio cut from the dialog
    WAV, and per dialog the counts of inputs accepted but degraded (`DEGRADED`)."""

    resampled: list = dataclasses.field(default_factory=list)  # [path, source rate]
    audio_from_dialog: list = dataclasses.field(default_factory=list)  # utterance ids
    counts: dict = dataclasses.field(default_factory=dict)  # dialog -> {kind: utterances}

    def count(self, dialog: str, kind: str) -> None:
        per_dialog = self.counts.setdefault(dialog, {})
        per_dialog[kind] = per_dialog.get(kind, 0) + 1


# Utterances kept although an input was degraded; counted per dialog in the manifest.
DEGRADED = {
    "empty_transcripts": "empty transcripts",
    "mocap_not_covering": "motion capture not covering [start, end)",
    "audio_cut_short": "audio cut from a dialog WAV that ends before the utterance does",
    "audio_shorter_than_one_frame": f"audio shorter than one wav2vec2 frame ({RECEPTIVE_FIELD} "
                                    "samples)",
}


def read_dialog_examples(dialog: Dialog, label_set: LabelSet, options: SignalOptions,
                         policy: ErrorPolicy, notes: DialogNotes,
                         streams: dict | None = None) -> Iterator[UtteranceExample]:
    """Yields the dialog's in-set utterances with audio and motion capture.

    `streams` (stream -> {"width", "columns"}) is filled from the first dialog
    read and checked for every later one: all dialogs must agree on the width.
    """
    utterances = [u for u in dialog.utterances if label_set.class_of(u.emotion) is not None]
    if not utterances:
        return
    ids = tuple(u.utterance_id for u in utterances)
    tracks = {}
    for stream in MOCAP_STREAMS:
        try:
            tracks[stream] = mocap_files.read_mocap(dialog.mocap_path(stream))
            _check_width(tracks[stream], stream, streams)
        except DataError as error:
            policy.report(DataError(error.path, error.message, error.line, ids))
            return
    dialog_audio = _DialogAudio(dialog, notes)
    for utterance in utterances:
        try:
            samples = _utterance_audio(dialog, utterance, dialog_audio, notes)
        except DataError as error:
            ids = (utterance.utterance_id,)
            policy.report(DataError(error.path, error.message, error.line, ids))
            continue
        _note_degraded(dialog.dialog_id, utterance, samples, tracks, notes)
        frames = {}
        sliced = []
        for stream in MOCAP_STREAMS:
            times, values = mocap_files.slice_track(tracks[stream], utterance.start, utterance.end)
            frames[stream] = mocap_files.frames_view(times, values, utterance.start, utterance.end,
                                                  options.mocap_rate)
            sliced.append(mocap_files.chunks_view(values, options.mocap_chunks))
        chunks = np.concatenate([c for c, _ in sliced], axis=1)
        chunks_present = np.logical_or.reduce([p for _, p in sliced])
        yield UtteranceExample(
            utterance=utterance,
            label=label_set.index_of(utterance.emotion),
            label_name=label_set.class_of(utterance.emotion),
            label_set=label_set.name,
            audio=samples,
            sample_rate=SAMPLE_RATE,
            mocap_rate=options.mocap_rate,
            mocap_frames=frames,
            chunks=chunks,
            chunks_present=chunks_present,
        )


def no_mocap_example(utterance, label_set: LabelSet, samples: np.ndarray) -> UtteranceExample:
    """An utterance of a corpus without motion capture: its streams and chunks empty (the
    manifest says the corpus has no `mocap`, and training refuses that tower)."""
    empty = (np.zeros((0, 0), np.float32), np.zeros((0, 0), bool))
    end = utterance.end if utterance.end is not None else samples.size / SAMPLE_RATE
    utterance = dataclasses.replace(utterance, start=utterance.start or 0.0, end=end)
    return UtteranceExample(
        utterance=utterance, label=label_set.index_of(utterance.emotion),
        label_name=label_set.class_of(utterance.emotion), label_set=label_set.name,
        audio=samples, sample_rate=SAMPLE_RATE, mocap_rate=0.0,
        mocap_frames={stream: empty for stream in MOCAP_STREAMS},
        chunks=np.zeros((0, 0), np.float32), chunks_present=np.zeros(0, bool))


def _note_degraded(dialog_id: str, utterance: Utterance, samples: np.ndarray, tracks: dict,
                   notes: DialogNotes) -> None:
    if not utterance.transcript.strip():
        notes.count(dialog_id, "empty_transcripts")
    if samples.size < RECEPTIVE_FIELD:
        notes.count(dialog_id, "audio_shorter_than_one_frame")
    last_frame = 1.0 / mocap_files.MOCAP_FPS
    for track in tracks.values():
        if not track.times.size or track.times[0] > utterance.start + last_frame \
                or track.times[-1] < utterance.end - 2 * last_frame:
            notes.count(dialog_id, "mocap_not_covering")
            break


def _check_width(track: mocap_files.MocapTrack, stream: str, streams: dict | None) -> None:
    if streams is None:
        return
    expected = streams.setdefault(stream, {"width": track.dim,
                                           "columns": list(track.columns)})["width"]
    if track.dim != expected:
        raise DataError(track.path, f"rows have {track.dim} value columns; the other dialogs' "
                                    f"MOCAP_{stream} files have {expected}", 3)


class _DialogAudio:
    """The dialog WAV, read on first need and kept for the rest of the dialog."""

    def __init__(self, dialog: Dialog, notes: DialogNotes):
        self._dialog = dialog
        self._notes = notes
        self._samples = None

    def cut(self, start: float, end: float) -> np.ndarray:
        if self._samples is None:
            self._samples, rate = audio_io.read_wav(self._dialog.wav_path)
            if rate != SAMPLE_RATE:
                self._notes.resampled.append([self._dialog.wav_path, rate])
        lo = int(round(start * SAMPLE_RATE))
        hi = int(round(end * SAMPLE_RATE))
        if hi > len(self._samples):
            self._notes.count(self._dialog.dialog_id, "audio_cut_short")
        return self._samples[lo:hi]


def _utterance_audio(dialog: Dialog, utterance: Utterance, dialog_audio: _DialogAudio,
                     notes: DialogNotes) -> np.ndarray:
    path = dialog.sentence_wav_path(utterance.utterance_id)
    if storage.exists(path):
        samples, rate = audio_io.read_wav(path)
        if rate != SAMPLE_RATE:
            notes.resampled.append([path, rate])
    else:
        if not storage.exists(dialog.wav_path):
            raise DataError(path, f"missing sentence WAV, and the dialog WAV {dialog.wav_path} "
                                  "to cut it from is missing too")
        samples = dialog_audio.cut(utterance.start, utterance.end)
        notes.audio_from_dialog.append(utterance.utterance_id)
    if samples.size == 0:
        raise DataError(path, "empty audio (0 samples)")
    return samples
