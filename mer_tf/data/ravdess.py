"""RAVDESS as its producers ship it (Livingstone & Russo 2018, PLoS ONE 13(5); the README
of zenodo.org/record/1188976): the audio-only speech archive

    Audio_Speech_Actors_01-24/Actor_<NN>/<MM>-<VV>-<EE>-<II>-<SS>-<RR>-<AA>.wav

seven two-digit parts: modality (03 audio-only), vocal channel (01 speech, 02 song),
emotion (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08
surprised), intensity (01 normal, 02 strong; neutral has no strong), statement (01 "Kids
are talking by the door", 02 "Dogs are sitting by the door"), repetition (01, 02) and
actor (01-24; odd male, even female). 48 kHz 16-bit WAVs (resampled to 16 kHz and
noted). Songs (vocal channel 02) and video files are not read (counted in the manifest).
Two statements for every emotion: the text says nothing of it (the audit says so).
"""

from __future__ import annotations

import re

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.table import TableUnit, TableUtterance
from mer_tf.io import storage

EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
            "06": "fearful", "07": "disgust", "08": "surprised"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.wav$")
ACTOR_FOLDER = re.compile(r"^Actor_(\d\d)$")


def index_ravdess(source: str, policy: ErrorPolicy) -> dict[int, list[TableUnit]]:
    """{1: one unit per actor} of the speech archive (or a folder holding it)."""
    folders = _actor_folders(source)
    units = []
    for number, folder in folders:
        unit = TableUnit(f"actor{number}", 1, [], folder)
        for name in sorted(storage.listdir(folder)):
            path = storage.join(folder, name)
            found = NAME.match(name)
            if not found:
                if name.endswith(".wav"):
                    policy.report(DataError(path, "not a RAVDESS file name "
                                                  "(MM-VV-EE-II-SS-RR-AA.wav)"))
                continue
            modality, channel, emotion, intensity, statement, _, actor = found.groups()
            problem = _problem(modality, emotion, intensity, statement, actor, number)
            if problem:
                policy.report(DataError(path, problem))
                continue
            if channel != "01":  # a song: not speech
                unit.notes["songs_not_read"] = unit.notes.get("songs_not_read", 0) + 1
                continue
            unit.utterances.append(TableUtterance(
                utterance_id=name[:-len(".wav")], session=1, speaker=f"Actor_{number}",
                audio_path=path, start=None, end=None, emotion=EMOTIONS[emotion],
                transcript=STATEMENTS[statement], split="", vad=None, line=None,
                table=path, dialog=f"actor{number}", kind="script", script=statement,
                speaker_gender="M" if int(actor) % 2 else "F"))
        if unit.utterances or unit.notes:
            units.append(unit)
    if not any(u.utterances for u in units):
        raise DataError(source, "no RAVDESS speech file (Actor_NN/03-01-….wav)")
    return {1: units}


def _actor_folders(source: str) -> list[tuple[str, str]]:
    if not storage.isdir(source):
        raise DataError(source, "not a folder; pass Audio_Speech_Actors_01-24")
    names = storage.listdir(source)
    inside = [n for n in names if n.startswith("Audio_Speech_Actors")]
    if not any(ACTOR_FOLDER.match(n) for n in names) and inside:
        source, names = storage.join(source, inside[0]), storage.listdir(
            storage.join(source, inside[0]))
    folders = sorted((m.group(1), storage.join(source, n)) for n in names
                     if (m := ACTOR_FOLDER.match(n)))
    if not folders:
        raise DataError(source, "not a RAVDESS folder: no Actor_01 … Actor_24 inside")
    return folders


def _problem(modality, emotion, intensity, statement, actor, folder_actor) -> str:
    if modality != "03":
        return f"modality {modality}: only audio-only files (03) are read"
    if emotion not in EMOTIONS:
        return f"unknown emotion code {emotion}"
    if intensity not in ("01", "02") or (emotion == "01" and intensity == "02"):
        return f"intensity {intensity} is not one of RAVDESS's for emotion {emotion}"
    if statement not in STATEMENTS:
        return f"unknown statement code {statement}"
    if actor != folder_actor:
        return f"actor {actor} in the folder of Actor_{folder_actor}"
    return ""
