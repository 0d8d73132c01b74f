"""CREMA-D as its producers ship it (github.com/CheyneyComputerScience/CREMA-D, README):

    AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav    e.g. 1001_DFA_ANG_XX.wav
    VideoDemographics.csv                                  ActorID,Age,Sex,Race,Ethnicity

91 actors (1001-1091), 12 sentences (the codes below), six emotions (ANG, DIS, FEA, HAP,
NEU, SAD) at a level (LO, MD, HI, or XX: unspecified). Every actor reads the same twelve
sentences, so the transcript says nothing of the emotion: a text tower learns nothing
here, and `--protocol speaker-folds` is the speaker-independent protocol (there are no
sessions). Known quirk: older copies name one file `1040_ITH_SAD_X.wav` (issue #6 of the
repository, renamed `…_XX.wav` in October 2022); it is read as XX and noted.
`1076_MTI_SAD_XX.wav` has no audio (documented by the producers): preparation skips it as
silent and counts it (`silent_files_skipped`), as it does any silent file. Anything
else that does not follow the pattern is a `DataError` naming the file.
"""

from __future__ import annotations

import csv
import io
import re

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.table import TableUnit, TableUtterance
from mer_tf.io import storage

SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting", "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full", "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock", "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket", "ITS": "I think I've seen this before",
    "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes",
}
EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
LEVELS = ("LO", "MD", "HI", "XX")
NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})\.wav$")
RENAMED = {"1040_ITH_SAD_X.wav": "XX"}  # the repository's issue #6


def index_crema_d(source: str, policy: ErrorPolicy) -> dict[int, list[TableUnit]]:
    """{1: one unit per actor} of a CREMA-D folder (one group: no sessions)."""
    audio = storage.join(source, "AudioWAV")
    if not storage.isdir(audio):
        raise DataError(source, "not a CREMA-D folder: no AudioWAV/ inside")
    demographics = storage.join(source, "VideoDemographics.csv")
    sexes = _sexes(demographics) if storage.exists(demographics) else {}
    units: dict[str, TableUnit] = {}
    for name in sorted(storage.listdir(audio)):
        if not name.endswith(".wav"):
            continue
        path = storage.join(audio, name)
        found = NAME.match(name)
        problem = _problem(found, name)
        if problem:
            policy.report(DataError(path, problem))
            continue
        actor, sentence, emotion, _ = found.groups()
        unit = units.setdefault(actor, TableUnit(f"actor{actor}", 1, [], demographics))
        if name in RENAMED:
            unit.notes["renamed_files_read"] = unit.notes.get("renamed_files_read", 0) + 1
        unit.utterances.append(TableUtterance(
            utterance_id=name[:-len(".wav")], session=1, speaker=actor, audio_path=path,
            start=None, end=None, emotion=emotion.lower(), transcript=SENTENCES[sentence],
            split="", vad=None, line=None, table=path, dialog=f"actor{actor}",
            kind="script", script=sentence, speaker_gender=sexes.get(actor, "")))
    if not units:
        raise DataError(audio, "no CREMA-D file (<ActorID>_<Sentence>_<Emotion>_<Level>.wav)")
    return {1: [units[actor] for actor in sorted(units)]}


def _problem(found, name: str) -> str:
    if not found:
        return "not a CREMA-D file name (<ActorID>_<Sentence>_<Emotion>_<Level>.wav)"
    _, sentence, emotion, level = found.groups()
    if sentence not in SENTENCES:
        return f"unknown sentence code {sentence}"
    if emotion not in EMOTIONS:
        return f"unknown emotion code {emotion}"
    if level not in LEVELS and name not in RENAMED:
        return f"unknown level code {level}"
    return ""


def _sexes(path: str) -> dict:
    """{ActorID: "M" or "F"} from VideoDemographics.csv."""
    rows = csv.DictReader(io.StringIO(storage.read_text(path, errors="replace")))
    return {row["ActorID"]: {"Male": "M", "Female": "F"}.get(row.get("Sex", ""), "")
            for row in rows if row.get("ActorID")}
