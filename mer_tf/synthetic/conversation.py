"""A synthetic conversation: sentences from the demo corpus's generator (voiced speech with
each emotion's pitch, loudness and tempo, and its cue words) separated by pauses, with
the transcripts a recogniser would write for it (SubRip, WebVTT, TSV).

Written block by block, so a 60-minute recording costs no more memory to make than a
1-minute one. The turns returned are the planted truth: the tests check the rows of
`predict --recording` and the speech found by voice activity detection against them.
"""

from __future__ import annotations

import datetime

import numpy as np
import soundfile

from mer_tf.frames import SAMPLE_RATE
from mer_tf.serving.turns import Turn
from mer_tf.synthetic.design import CUE_CLASSES, actor_baseline
from mer_tf.synthetic.release import _sentence, _speech

SPEAKERS = {"F": "Anna", "M": "Ben"}


def make_conversation(path: str, seconds: float, seed: int = 0, rate: int = SAMPLE_RATE,
                      channels: int = 1, sentence=(1.5, 4.0), pause=(1.0, 2.5),
                      subtype: str = "PCM_16") -> list[Turn]:
    """Writes the recording to `path` (any rate and channel count soundfile writes) and
    returns its turns: two speakers taking turns, each sentence one class's cues."""
    rng = np.random.default_rng(seed)
    actors = {g: actor_baseline(seed, 1, g) for g in SPEAKERS}
    turns, now, index = [], 0.0, 0
    with soundfile.SoundFile(path, "w", samplerate=rate, channels=channels,
                             subtype=subtype) as out:
        while True:
            gap = float(rng.uniform(*pause))
            length = float(rng.uniform(*sentence))
            if now + gap + length + pause[0] > seconds:
                _write(out, _silence(seconds - now, rate, rng), channels)
                return turns
            gender = "FM"[index % 2]
            cue = CUE_CLASSES[(index // 2) % len(CUE_CLASSES)]
            voice = _speech(cue, gender, actors[gender], length, rng)
            if rate != SAMPLE_RATE:
                import soxr

                voice = soxr.resample(voice, SAMPLE_RATE, rate).astype(np.float32)
            _write(out, _silence(gap, rate, rng), channels)
            _write(out, voice, channels)
            start = now + gap
            turns.append(Turn(round(start, 3), round(start + voice.size / rate, 3),
                              SPEAKERS[gender], _sentence(cue, actors[gender], rng)))
            now = start + voice.size / rate
            index += 1


def _silence(seconds: float, rate: int, rng) -> np.ndarray:
    return rng.normal(0, 0.002, max(0, int(round(seconds * rate)))).astype(np.float32)


def _write(out, mono: np.ndarray, channels: int) -> None:
    out.write(np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono)


def write_srt(turns: list[Turn], path: str) -> None:
    """SubRip, composed by `srt`; speakers as WhisperX writes them (`[SPEAKER]: text`)."""
    import srt

    cues = [srt.Subtitle(i + 1, datetime.timedelta(seconds=t.start),
                         datetime.timedelta(seconds=t.end),
                         f"[{t.speaker}]: {t.text}" if t.speaker else t.text)
            for i, t in enumerate(turns)]
    with open(path, "w", encoding="utf-8") as f:
        f.write(srt.compose(cues))


def write_vtt(turns: list[Turn], path: str) -> None:
    """WebVTT, written by `webvtt-py`; speakers as voice tags (`<v Anna>`)."""
    import webvtt

    vtt = webvtt.WebVTT()
    for t in turns:
        vtt.captions.append(webvtt.Caption(_stamp(t.start), _stamp(t.end),
                                           f"<v {t.speaker}>{t.text}" if t.speaker else t.text))
    vtt.save(path)


def write_tsv(turns: list[Turn], path: str) -> None:
    """start, end, speaker, text, with a header line."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("start\tend\tspeaker\ttext\n")
        for t in turns:
            f.write(f"{t.start:.3f}\t{t.end:.3f}\t{t.speaker or ''}\t{t.text or ''}\n")


def _stamp(seconds: float) -> str:
    whole, millis = divmod(int(round(seconds * 1000)), 1000)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{millis:03d}"
