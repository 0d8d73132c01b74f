"""MSP-Podcast as its producers ship it (Lotfian & Busso 2019, IEEE TAC 10(4); the
release's README, and the Odyssey 2024 / Interspeech 2025 challenge baselines that read it):

    Audios/MSP-PODCAST_<podcast>_<segment>.wav      16 kHz mono segments
    Transcripts/MSP-PODCAST_<podcast>_<segment>.txt  one transcript per segment (optional)
    Labels/labels_consensus.csv                      FileName, EmoClass, EmoAct, EmoVal,
                                                     EmoDom, SpkrID, Gender, Split_Set

Known quirks: releases up to 1.8 spell the label file `labels_concensus.csv` (read, and
noted); 1.12 ships `labels_consensus.json` too (read when there is no CSV); speakers
nobody identified are `Unknown` (kept per podcast as `unknown_<podcast>`, so speaker
folds never split a podcast's unknown voices, and counted); the split is Train,
Development (Validation before 1.9), Test1 and Test2 (`--protocol official` trains on
Train, validates on Development and tests on Test1; Test2 stays in the index for
`experiments.evaluate --split Test2`). EmoClass is one letter (A angry, S sad, H happy,
U surprise, F fear, D disgust, C contempt, N neutral, O other, X no agreement); EmoAct,
EmoVal and EmoDom are annotator means on 1-7.

There are no sessions: every segment is in session 1, and a podcast is the unit a shard
never splits (its `dialog` in the index, so the audit counts podcasts shared between
splits). No motion capture.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.table import TableUnit, TableUtterance
from mer_tf.io import storage

EMOTIONS = {"A": "angry", "S": "sad", "H": "happy", "U": "surprise", "F": "fear",
            "D": "disgust", "C": "contempt", "N": "neutral", "O": "other",
            "X": "no_agreement"}
COLUMNS = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender",
           "Split_Set")
LABEL_FILES = ("labels_consensus.csv", "labels_concensus.csv", "labels_consensus.json")
NAME = re.compile(r"^MSP-PODCAST_(\d{4})_(\d{4}(?:_\d{4})?)\.wav$")
GENDERS = {"Male": "M", "Female": "F"}


def index_msp_podcast(source: str, policy: ErrorPolicy) -> dict[int, list[TableUnit]]:
    """{1: one unit per podcast} of an MSP-Podcast release folder."""
    labels = _label_file(source)
    audio = storage.join(source, "Audios")
    if not storage.isdir(audio):
        raise DataError(source, "not an MSP-Podcast release: no Audios/ inside")
    transcripts = storage.join(source, "Transcripts")
    have_transcripts = storage.isdir(transcripts)
    units: dict[str, TableUnit] = {}
    for line, row in _rows(labels):
        try:
            utterance = _utterance(source, labels, line, row,
                                   transcripts if have_transcripts else "")
        except DataError as error:
            policy.report(error)
            continue
        unit = units.setdefault(utterance.dialog, TableUnit(utterance.dialog, 1, [], labels))
        unit.utterances.append(utterance)
        if utterance.speaker.startswith("unknown_"):
            unit.notes["unknown_speakers"] = unit.notes.get("unknown_speakers", 0) + 1
        if labels.endswith("labels_concensus.csv"):
            unit.notes["label_file_concensus"] = 1
    if not units:
        raise DataError(labels, "no segment listed")
    return {1: [units[name] for name in sorted(units)]}


def _label_file(source: str) -> str:
    folder = storage.join(source, "Labels")
    for name in LABEL_FILES:
        path = storage.join(folder, name)
        if storage.exists(path):
            return path
    raise DataError(folder if storage.isdir(folder) else source,
                    f"not an MSP-Podcast release: no Labels/{' or Labels/'.join(LABEL_FILES)}")


def _rows(labels: str):
    """(line, row) of each consensus label, as read; JSON rows have no line (None)."""
    text = storage.read_text(labels, errors="replace").lstrip("\ufeff")
    if labels.endswith(".json"):
        try:
            table = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError(labels, f"not JSON ({error.msg})", error.lineno) from None
        if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
            raise DataError(labels, "expected an object of {file name: {EmoClass, EmoAct, "
                                    "…}} as the release writes it")
        return [(None, {"FileName": name, **{k: "" if v is None else str(v)
                                             for k, v in fields.items()}})
                for name, fields in sorted(table.items())]
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise DataError(labels, f"no column {', '.join(missing)} (MSP-Podcast's consensus "
                                f"labels have {', '.join(COLUMNS)})", 1)
    return ((reader.line_num, {k: (v or "").strip() for k, v in row.items() if k})
            for row in reader)  # line_num: the file's line, blank and multi-line rows too


def _utterance(source, labels, line, row, transcripts) -> TableUtterance:
    name = row.get("FileName", "")
    found = NAME.match(name)
    where = f"{name}: " if line is None else ""
    if not found:
        raise DataError(labels, f"{where}FileName {name!r} is not MSP-PODCAST_<podcast>_"
                                "<segment>.wav", line)
    code = row.get("EmoClass", "")
    if code not in EMOTIONS:
        raise DataError(labels, f"{where}unknown EmoClass {code!r} (one of "
                                f"{''.join(EMOTIONS)})", line)
    path = storage.join(source, "Audios", name)
    if not storage.exists(path):
        raise DataError(labels, f"{name}: no such file in Audios/", line)
    vad = []
    for column in ("EmoVal", "EmoAct", "EmoDom"):
        try:
            value = float(row.get(column, ""))
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise DataError(labels, f"{where}{column} {row.get(column)!r} is not a number",
                            line)
        vad.append(value)
    podcast = f"podcast{found.group(1)}"
    speaker = row.get("SpkrID", "") or "Unknown"
    if speaker == "Unknown":
        speaker = f"unknown_{podcast}"
    text_path, transcript = "", ""
    if transcripts:
        text_path = storage.join(transcripts, name[:-len(".wav")] + ".txt")
        if storage.exists(text_path):
            transcript = " ".join(storage.read_text(text_path, errors="replace").split())
        else:
            text_path = ""
    return TableUtterance(
        utterance_id=name[:-len(".wav")], session=1, speaker=speaker, audio_path=path,
        start=None, end=None, emotion=EMOTIONS[code], transcript=transcript,
        split=row.get("Split_Set", ""), vad=tuple(vad), line=line, table=labels,
        dialog=podcast, kind="podcast", speaker_gender=GENDERS.get(row.get("Gender", ""), ""),
        text_path=text_path)
