"""ESD, the Emotional Speech Dataset, as its producers ship it (Zhou et al. 2021, ICASSP;
github.com/HLTSingapore/Emotional-Speech-Data, ReadMe.txt):

    <root>/<speaker>/<speaker>.txt                 <id>\\t<text>\\t<emotion>, one per line
    <root>/<speaker>/<Emotion>/<speaker>_<nnnnnn>.wav
    (older releases: <root>/<speaker>/<Emotion>/{train,evaluation,test}/…)

Twenty speakers (0001-0010 Mandarin, 0011-0020 English), five emotions (Neutral, Angry,
Happy, Sad, Surprise), 350 parallel sentences each: every speaker reads the same 350
lines of their language in every emotion, so the text says nothing of the emotion (the
audit says so). 16 kHz WAVs. The label is the folder's emotion.

Known quirks: the speakers' text files come in several encodings (UTF-8, UTF-16 with a
byte-order mark, GB2312 for some Mandarin speakers, Latin-1 for some English ones; read
in that order of trial, GB18030 for Mandarin and Windows-1252 for English where UTF-8
fails, and counted per encoding); a few lines do not split into three tab-separated
fields (their utterance keeps an empty transcript, counted).

Split: current releases have no split folders. Where the older folders are there they
are the official split; otherwise the reader applies the sizes the ESD paper gives per
speaker and emotion (20 evaluation, 30 test, 300 train) by utterance number: of each
emotion's 350, the first 20 evaluation, the next 30 test, the rest train. Say which when
you report `--protocol official` on ESD (the manifest's `dialog_notes` count
`split_by_number` per speaker where the rule was used);
`--protocol speaker-folds` is speaker-independent, which the official split is not.
Every utterance is in session 1; a speaker is the unit a shard never splits.
"""

from __future__ import annotations

import re

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.table import TableUnit, TableUtterance
from mer_tf.io import storage

EMOTIONS = ("Neutral", "Angry", "Happy", "Sad", "Surprise")
SPLIT_FOLDERS = ("train", "evaluation", "test")
SPEAKER = re.compile(r"^00(0[1-9]|1\d|20)$")
NAME = re.compile(r"^(\d{4})_(\d{6})\.wav$")
PER_EMOTION = 350
MALE = {"0004", "0005", "0006", "0008", "0010", "0011", "0012", "0013", "0014", "0020"}


def index_esd(source: str, policy: ErrorPolicy) -> dict[int, list[TableUnit]]:
    """{1: one unit per speaker} of an ESD folder (or the folder that holds it)."""
    root = _root(source)
    units = []
    for speaker in sorted(n for n in storage.listdir(root) if SPEAKER.match(n)):
        folder = storage.join(root, speaker)
        text_file = storage.join(folder, f"{speaker}.txt")
        unit = TableUnit(f"speaker{speaker}", 1, [], text_file)
        transcripts = _transcripts(text_file, speaker, unit.notes) if storage.exists(
            text_file) else {}
        for emotion in EMOTIONS:
            for path, split in _wavs(storage.join(folder, emotion)):
                name = path.rsplit("/", 1)[-1]
                found = NAME.match(name)
                if not found or found.group(1) != speaker:
                    policy.report(DataError(path, f"not an ESD file name of speaker {speaker} "
                                                  f"({speaker}_<nnnnnn>.wav)"))
                    continue
                number = int(found.group(2))
                if not split:  # no split folder: the paper's sizes, by number (docstring)
                    unit.notes["split_by_number"] = unit.notes.get("split_by_number", 0) + 1
                unit.utterances.append(TableUtterance(
                    utterance_id=name[:-len(".wav")], session=1, speaker=speaker,
                    audio_path=path, start=None, end=None, emotion=emotion.lower(),
                    transcript=transcripts.get(name[:-len(".wav")], ""),
                    split=split or _split_by_number(number), vad=None, line=None,
                    table=path, dialog=unit.dialog_id, kind="zh" if speaker <= "0010" else "en",
                    speaker_gender="M" if speaker in MALE else "F"))
        if unit.utterances:
            units.append(unit)
    if not units:
        raise DataError(root, "no ESD speaker folder (0001-0020) with <Emotion>/*.wav inside")
    return {1: units}


def _root(source: str) -> str:
    """The folder holding the speaker folders: `source` or one folder down (the archive
    unpacks to `Emotion Speech Dataset/`)."""
    if not storage.isdir(source):
        raise DataError(source, "not an ESD folder: " + ("no such folder" if not
                                                          storage.exists(source) else
                                                          "a file, not a folder"))
    if any(SPEAKER.match(n) for n in storage.listdir(source)):
        return source
    for child in sorted(storage.listdir(source)):
        path = storage.join(source, child)
        if storage.isdir(path) and any(SPEAKER.match(n) for n in storage.listdir(path)):
            return path
    raise DataError(source, "not an ESD folder: no speaker folder 0001-0020 inside")


def _wavs(folder: str) -> list[tuple[str, str]]:
    """[(path, split folder or "")] of one speaker's emotion folder."""
    if not storage.isdir(folder):
        return []
    found = []
    for name in sorted(storage.listdir(folder)):
        path = storage.join(folder, name)
        if name in SPLIT_FOLDERS and storage.isdir(path):
            found += [(storage.join(path, n), name) for n in sorted(storage.listdir(path))
                      if n.endswith(".wav")]
        elif name.endswith(".wav"):
            found.append((path, ""))
    return sorted(found)


def _split_by_number(number: int) -> str:
    position = (number - 1) % PER_EMOTION
    return "evaluation" if position < 20 else "test" if position < 50 else "train"


def _transcripts(path: str, speaker: str, notes: dict) -> dict:
    """{utterance id: text} of a speaker's text file, whatever its encoding."""
    data = storage.read_bytes(path)
    text, encoding = _decode(data, mandarin=speaker <= "0010")
    notes[f"text_file_{encoding}"] = 1
    found = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.strip().split("\t")
        if len(fields) != 3 or not NAME.match(fields[0] + ".wav"):
            notes["transcript_lines_unparsed"] = notes.get("transcript_lines_unparsed", 0) + 1
            continue
        found[fields[0]] = " ".join(fields[1].split())
    return found


def _decode(data: bytes, mandarin: bool) -> tuple[str, str]:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16"), "utf16"
    try:
        return data.decode("utf-8-sig"), "utf8"
    except UnicodeDecodeError:
        pass
    if mandarin:
        return data.decode("gb18030", errors="replace"), "gb18030"
    return data.decode("cp1252", errors="replace"), "cp1252"
