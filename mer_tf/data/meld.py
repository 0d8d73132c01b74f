"""MELD as its producers ship it (Poria et al. 2019, ACL; github.com/declare-lab/MELD,
README): the raw release, MELD.Raw,

    train_sent_emo.csv  dev_sent_emo.csv  test_sent_emo.csv
        Sr No., Utterance, Speaker, Emotion, Sentiment, Dialogue_ID, Utterance_ID,
        Season, Episode, StartTime, EndTime
    train_splits/dia<D>_utt<U>.mp4
    dev_splits_complete/dia<D>_utt<U>.mp4
    output_repeated_splits_test/dia<D>_utt<U>.mp4

(each clip folder directly under the release or one folder down, as the tarballs
unpack). Seven emotions (neutral, joy, surprise, anger, sadness, disgust, fear); the
speaker is the TV character. Known quirks: the CSVs' text is mojibake (UTF-8 read as
Windows-1252 and written back, `â€™` for `’`), mended with ftfy and counted; a few clips
are listed but missing from the archives (dev dia110_utt7 among them), skipped and
counted, not an error; the audio is the AAC track of each MP4 clip, decoded by PyAV.

The official split is the CSVs' (`--protocol official`: train, dev for validation,
test). Its speakers are the same six friends in every split, so a figure on it is not
speaker-independent: the audit says so. Every utterance is in session 1; a dialogue is
the unit a shard never splits.
"""

from __future__ import annotations

import csv
import io
import re

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.table import TableUnit, TableUtterance
from mer_tf.io import storage

SPLITS = {"train": "train_splits", "dev": "dev_splits_complete",
          "test": "output_repeated_splits_test"}
COLUMNS = ("Utterance", "Speaker", "Emotion", "Dialogue_ID", "Utterance_ID")
EMOTIONS = ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear")


def index_meld(source: str, policy: ErrorPolicy) -> dict[int, list[TableUnit]]:
    """{1: one unit per dialogue} of a MELD.Raw folder, train, dev and test."""
    units: dict[str, TableUnit] = {}
    for split, folder_name in SPLITS.items():
        table = storage.join(source, f"{split}_sent_emo.csv")
        if not storage.exists(table):
            raise DataError(source, f"not a MELD.Raw folder: no {split}_sent_emo.csv inside")
        clips = _clip_folder(source, folder_name)
        for line, row, mended in _rows(table):
            try:
                utterance = _utterance(table, line, row, split, clips)
            except DataError as error:
                policy.report(error)
                continue
            unit = units.setdefault(utterance.dialog, TableUnit(utterance.dialog, 1, [], table))
            if mended:
                unit.notes["mojibake_mended"] = unit.notes.get("mojibake_mended", 0) + 1
            if not storage.exists(utterance.audio_path):
                unit.notes["clips_missing"] = unit.notes.get("clips_missing", 0) + 1
                continue
            unit.utterances.append(utterance)
    return {1: [unit for _, unit in sorted(units.items(), key=lambda kv: _order(kv[0]))]}


def _order(dialog: str) -> tuple:
    split, number = dialog.split("_dia")
    return list(SPLITS).index(split), int(number)


def _clip_folder(source: str, name: str) -> str:
    for candidate in [storage.join(source, name)] + [
            storage.join(source, child, name) for child in sorted(storage.listdir(source))]:
        if storage.isdir(candidate):
            return candidate
    raise DataError(source, f"no {name}/ folder of clips (directly inside, or one folder down "
                            "as the tarball unpacks)")


def _rows(table: str):
    """(line, row, whether ftfy mended its text) of a MELD CSV."""
    import ftfy

    data = storage.read_bytes(table)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise DataError(table, f"no column {', '.join(missing)} (MELD's CSVs have "
                               f"{', '.join(COLUMNS)} among others)", 1)
    line = 1
    for row in reader:
        line = reader.line_num  # an utterance may span lines: its last line
        utterance = row.get("Utterance") or ""
        mended = ftfy.fix_text(utterance, uncurl_quotes=False)
        yield line, {**row, "Utterance": mended}, mended != utterance


def _utterance(table, line, row, split, clips) -> TableUtterance:
    emotion = (row.get("Emotion") or "").strip()
    if emotion not in EMOTIONS:
        raise DataError(table, f"unknown Emotion {emotion!r} (one of {', '.join(EMOTIONS)})",
                        line)
    try:
        dialogue, number = int(row["Dialogue_ID"]), int(row["Utterance_ID"])
    except (TypeError, ValueError):
        raise DataError(table, f"Dialogue_ID {row.get('Dialogue_ID')!r} or Utterance_ID "
                               f"{row.get('Utterance_ID')!r} is not a number", line) from None
    speaker = re.sub(r"\s+", " ", (row.get("Speaker") or "").strip())
    if not speaker:
        raise DataError(table, "empty Speaker", line)
    return TableUtterance(
        utterance_id=f"{split}_dia{dialogue}_utt{number}", session=1, speaker=speaker,
        audio_path=storage.join(clips, f"dia{dialogue}_utt{number}.mp4"), start=None,
        end=None, emotion=emotion, transcript=" ".join(row["Utterance"].split()), split=split,
        vad=None, line=line, table=table, dialog=f"{split}_dia{dialogue}", kind="dialogue")
