"""Your own data as a table: a CSV, TSV or JSON Lines file with one utterance per row.

    path,label,speaker,text,group,start,end
    audio/0001.wav,angry,spk1,I can't believe you did that,session1,,
    calls/call7.flac,neutral,spk2,,session2,12.5,15.9

`path` (relative to the table's folder, or absolute), `label` and `speaker` are
required; `text` (the transcript), `group` (what leave-one-group-out folds hold out:
a session, a recording day; without it every row is group 1), `start` and `end` (a span
of a longer file, in seconds), `split` and `arousal` / `valence` / `dominance` are
optional. Audio is any format libsndfile reads, at any rate and with any channels (read
as `experiments.predict` reads it). A table has no motion capture.

Each group becomes a session of the prepared corpus (groups sorted by name, numbered
from 1), each speaker's rows of a group one unit that a shard never splits, in table
order. A missing column, a missing file or a bad span is a `DataError` naming the table
and the line.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import numpy as np

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.io import storage

REQUIRED = ("path", "label", "speaker")
OPTIONAL = ("text", "group", "start", "end", "split", "arousal", "valence", "dominance")
FORMATS = (".csv", ".tsv", ".jsonl")
# An int16 peak this low is no speech (CREMA-D's 1076_MTI_SAD_XX.wav, which its producers
# document as having no audio): the utterance is skipped and counted, never trained on as silence.
SILENT_PEAK = 3


@dataclasses.dataclass(frozen=True, slots=True)  # slots: 150 000 of them in an index
class TableUtterance:
    """One row: what the schema and the index record of an utterance."""

    utterance_id: str
    session: int
    speaker: str
    audio_path: str
    start: float | None
    end: float | None
    emotion: str  # the raw label
    transcript: str
    split: str
    vad: tuple | None  # (valence, arousal, dominance) on the corpus's scale; None: none
    line: int | None  # None: a corpus whose file names are its table (CREMA-D)
    table: str
    dialog: str = ""  # the unit: group and speaker
    kind: str = ""
    script: str = ""
    speaker_gender: str = ""
    mocap_wearer: str = ""
    mocap_is_speaker: bool = False
    text_path: str = ""  # a transcript file of its own (MSP-Podcast), fingerprinted too


@dataclasses.dataclass
class TableUnit:
    """One speaker's rows of one group: the unit preparation never splits across shards."""

    dialog_id: str
    session: int
    utterances: list
    table: str
    notes: dict = dataclasses.field(default_factory=dict)

    def source_files(self) -> list[str]:
        return [self.table, *sorted({u.audio_path for u in self.utterances}
                                    | {u.text_path for u in self.utterances if u.text_path})]

    def read_examples(self, label_set, options, policy: ErrorPolicy, notes, streams=None):
        """Yields the unit's in-set utterances with their audio (no motion capture)."""
        from mer_tf.data.dialog import no_mocap_example

        for utterance in self.utterances:
            if label_set.class_of(utterance.emotion) is None:
                continue
            try:
                samples = _read_span(utterance, notes)
            except DataError as error:
                policy.report(DataError(error.path, error.message, error.line,
                                        (utterance.utterance_id,)))
                continue
            if not samples.size or np.abs(samples).max() <= SILENT_PEAK:
                notes.count(self.dialog_id, "silent_files_skipped")
                continue
            if not utterance.transcript.strip():
                notes.count(self.dialog_id, "empty_transcripts")
            yield no_mocap_example(utterance, label_set, samples)


def _read_span(utterance: TableUtterance, notes) -> np.ndarray:
    from mer_tf.data.audio import read_audio
    from mer_tf.frames import SAMPLE_RATE

    try:
        samples, source_rate, _ = read_audio(utterance.audio_path)
    except DataError as error:
        if utterance.line is None:  # a corpus named by its files: the file says it all
            raise
        raise DataError(utterance.table, f"{utterance.audio_path}: {error.message}",
                        utterance.line) from None
    if source_rate != SAMPLE_RATE:
        notes.resampled.append([utterance.audio_path, source_rate])
    if utterance.start is None:
        return samples
    rate = SAMPLE_RATE
    first, last = (round(t * rate) for t in (utterance.start, utterance.end))
    if last > len(samples) + rate // 100:  # 10 ms of slack for rounded end times
        raise DataError(utterance.table, f"the span {utterance.start:g}-{utterance.end:g} s "
                                         f"ends after {utterance.audio_path} "
                                         f"({len(samples) / rate:.2f} s)", utterance.line)
    return samples[first:last]


def read_rows(table: str) -> list[tuple[int, dict]]:
    """[(line, row)] of a CSV, TSV or JSONL table; its columns checked."""
    if not table.endswith(FORMATS):
        raise DataError(table, f"a table is a {', '.join(FORMATS)} file")
    if not storage.exists(table):
        raise DataError(table, "no such file")
    text = storage.read_text(table, errors="replace").lstrip("\ufeff")
    if table.endswith(".jsonl"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(table, f"not JSON ({error.msg})", number) from None
            if not isinstance(row, dict):
                raise DataError(table, "expected a JSON object", number)
            rows.append((number, {k: "" if v is None else str(v) for k, v in row.items()}))
        columns = set().union(*(row for _, row in rows)) if rows else set()
    else:
        reader = csv.DictReader(io.StringIO(text),
                                delimiter="\t" if table.endswith(".tsv") else ",")
        columns = set(reader.fieldnames or ())
        rows = [(number + 1, {k: (v or "").strip() for k, v in row.items() if k})
                for number, row in enumerate(reader, start=1)]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise DataError(table, f"no column {', '.join(missing)} (a table needs "
                               f"{', '.join(REQUIRED)}; it has {', '.join(sorted(columns))})", 1)
    return rows


def index_table(table: str, policy: ErrorPolicy) -> dict[int, list[TableUnit]]:
    """{session: units} of a table, its rows checked (a bad row is reported to `policy`)."""
    folder = table.rsplit("/", 1)[0] if "/" in table else "."
    rows = read_rows(table)
    groups = sorted({row.get("group", "") for _, row in rows})
    session_of = {name: number for number, name in enumerate(groups, start=1)}
    units: dict[tuple, TableUnit] = {}
    seen = set()
    for line, row in rows:
        try:
            utterance = _utterance(table, folder, line, row, session_of, seen)
        except DataError as error:
            policy.report(error)
            continue
        key = (utterance.session, utterance.speaker)
        unit = units.setdefault(key, TableUnit(utterance.dialog, utterance.session, [], table))
        unit.utterances.append(utterance)
    index: dict[int, list[TableUnit]] = {}
    for (session, _), unit in sorted(units.items()):
        index.setdefault(session, []).append(unit)
    return index


def _utterance(table, folder, line, row, session_of, seen) -> TableUtterance:
    for column in REQUIRED:
        if not row.get(column):
            raise DataError(table, f"empty {column}", line)
    path = row["path"]
    audio = path if path.startswith("/") or storage.is_remote(path) else storage.join(folder,
                                                                                       path)
    if not storage.exists(audio):
        raise DataError(table, f"{path}: no such audio file", line)
    start, end = (_seconds(table, line, row, key) for key in ("start", "end"))
    if (start is None) != (end is None):
        raise DataError(table, "a span needs both start and end", line)
    if start is not None and not (0 <= start < end):
        raise DataError(table, f"the span {start:g}-{end:g} s is empty or negative", line)
    session = session_of[row.get("group", "")]
    speaker = row["speaker"]
    utterance_id = f"{session}_{speaker}_{line:06d}"
    if utterance_id in seen:
        raise DataError(table, f"line {line} repeats another row's id", line)
    seen.add(utterance_id)
    vad = tuple(_seconds(table, line, row, k) for k in ("valence", "arousal", "dominance"))
    if all(value is None for value in vad):
        vad = None
    elif any(value is None for value in vad):
        raise DataError(table, "arousal, valence and dominance go together: give all three "
                               "or none", line)
    return TableUtterance(utterance_id, session, speaker, audio, start, end, row["label"],
                          row.get("text", ""), row.get("split", ""), vad, line, table,
                          dialog=f"group{session}_{speaker}")


def _seconds(table, line, row, key) -> float | None:
    value = row.get(key, "")
    if value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise DataError(table, f"{key} {value!r} is not a number", line) from None
