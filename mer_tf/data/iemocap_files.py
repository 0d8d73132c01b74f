"""IEMOCAP's text files: ids, EmoEvaluation label blocks and transcriptions.

Formats (as the release writes them): an EmoEvaluation block's head line is tab-separated,
`[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]`, then
evaluator lines; a transcription line is `Ses01F_impro01_F000 [006.2901-008.2357]: text`,
and lines such as `M: sorry` name no utterance. Files are read as UTF-8; what had to be
mended (a byte-order mark, bytes that are not UTF-8, a line given twice) is counted in
the dialog's notes, never silent.
"""

from __future__ import annotations

import dataclasses
import re

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.labels import EMOTION_CODES
from mer_tf.io import storage

_DIALOG_RE = re.compile(r"^Ses(?P<session>\d{2})(?P<wearer>[FM])_\w+$")
# impro01, impro05a; script01_1, script03_2, script01_1b (a retake of script01_1)
_KIND_RE = re.compile(r"_(?:(?P<impro>impro)\d+[a-z]?|(?P<script>script\d+_\d+)[a-z]?)$")
_UTTERANCE_SUFFIX_RE = re.compile(r"^(?P<gender>[FM])(?P<index>\d{3})$")
_NUMBER = r"[-+]?\d+(?:\.\d*)?"
_EVAL_HEAD_RE = re.compile(
    rf"^\[\s*(?P<start>{_NUMBER})\s*-\s*(?P<end>{_NUMBER})\s*\]\t(?P<id>\S+)\t(?P<code>\S+)\t"
    rf"\[\s*(?P<v>{_NUMBER}),\s*(?P<a>{_NUMBER}),\s*(?P<d>{_NUMBER})\s*\]\s*$"
)
_EVALUATOR_RE = re.compile(r"^[A-Z]+-[A-Z]+\d*:")
# A transcription line that names no utterance, such as `M: sorry` or `F: [LAUGHTER]`.
_NO_ID_RE = re.compile(r"^(?!Ses\d)\S*:")
_TRANSCRIPT_RE = re.compile(
    rf"^(?P<id>\S+)\s+\[(?P<start>{_NUMBER})\s*-\s*(?P<end>{_NUMBER})\]:\s?(?P<text>.*)$"
)


@dataclasses.dataclass(frozen=True)
class EvaluationRecord:
    utterance_id: str
    start: float
    end: float
    emotion: str
    vad: tuple[float, float, float]
    line: int


def parse_dialog_id(dialog_id: str, path: str = "<dialog id>", line: int | None = None):
    """Returns (session number, marker wearer gender) or raises DataError."""
    match = _DIALOG_RE.match(dialog_id)
    if not match:
        raise DataError(path, f"{dialog_id!r} is not an IEMOCAP dialog id (like Ses01F_impro01)",
                        line)
    return int(match["session"]), match["wearer"]


def dialog_kind(dialog_id: str) -> tuple[str, str]:
    """(`impro` or `script`, the play and part a scripted dialog performs: `script01_1`,
    the same in every session) of a dialog id; (`other`, "") for an id of neither form."""
    match = _KIND_RE.search(dialog_id)
    if not match:
        return "other", ""
    return ("impro", "") if match["impro"] else ("script", match["script"])


def split_utterance_id(utterance_id: str, path: str, line: int | None = None):
    """`Ses01F_impro01_M012` -> (`Ses01F_impro01`, `M`)."""
    dialog, _, suffix = utterance_id.rpartition("_")
    match = _UTTERANCE_SUFFIX_RE.match(suffix)
    if not dialog or not match:
        raise DataError(path, f"{utterance_id!r} is not an IEMOCAP utterance id "
                              "(like Ses01F_impro01_F000)", line)
    parse_dialog_id(dialog, path, line)
    return dialog, match["gender"]


def read_release_text(path: str, notes: dict) -> str:
    """A text file of the release as UTF-8, saying what it had to mend in `notes`: a
    UTF-8 byte-order mark is stripped (`utf8_bom`), and bytes that are not UTF-8 become
    U+FFFD (`lines_with_undecodable_bytes`, per line)."""
    data = storage.read_bytes(path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        notes["utf8_bom"] = notes.get("utf8_bom", 0) + 1
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        bad = sum("\ufffd" in line for line in text.splitlines())
        notes["lines_with_undecodable_bytes"] = notes.get("lines_with_undecodable_bytes", 0) + bad
        return text


def read_evaluation(path: str, dialog_id: str, policy: ErrorPolicy,
                    notes: dict | None = None) -> list[EvaluationRecord]:
    """Parses an EmoEvaluation file: one head line per utterance block."""
    records = []
    text = read_release_text(path, {} if notes is None else notes)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped or stripped.startswith("%") or _EVALUATOR_RE.match(stripped):
            continue
        try:
            records.append(_parse_evaluation_head(line, path, number, dialog_id))
        except DataError as error:
            policy.report(error)
    return records


def _parse_evaluation_head(line: str, path: str, number: int, dialog_id: str) -> EvaluationRecord:
    match = _EVAL_HEAD_RE.match(line)
    if not match:
        guess = tuple(t for t in line.split() if t.startswith(dialog_id + "_"))[:1]
        raise DataError(path, "malformed evaluation line; expected "
                              "'[START - END]<TAB>UTTERANCE_ID<TAB>CODE<TAB>[V, A, D]', "
                              f"got {line!r}", number, utterance_ids=guess)
    uid = match["id"]
    ids = (uid,)
    dialog, _ = split_utterance_id(uid, path, number)
    if dialog != dialog_id:
        raise DataError(path, f"utterance {uid} does not belong to dialog {dialog_id}", number, ids)
    if match["code"] not in EMOTION_CODES:
        raise DataError(path, f"unknown emotion code {match['code']!r} "
                              f"(expected one of {', '.join(EMOTION_CODES)})", number, ids)
    start, end = float(match["start"]), float(match["end"])
    if not end > start >= 0:
        raise DataError(path, f"end time {end} is not after start time {start}", number, ids)
    vad = (float(match["v"]), float(match["a"]), float(match["d"]))
    return EvaluationRecord(uid, start, end, match["code"], vad, number)


def read_transcriptions(path: str, dialog_id: str, policy: ErrorPolicy,
                        notes: dict | None = None) -> dict[str, tuple[str, int]]:
    """Utterance id -> (text, line).

    Lines that are no labelled utterance are skipped and counted in `notes`:
    `transcript_lines_without_id` (`M: sorry`, `F: [LAUGHTER]`) and
    `unlabelled_transcript_ids` (overlaps such as `…_MXX0`).
    """
    texts = {}
    notes = {} if notes is None else notes
    content = read_release_text(path, notes)
    for number, raw in enumerate(content.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        first = line.split(maxsplit=1)[0]
        if _NO_ID_RE.match(line):
            notes["transcript_lines_without_id"] = notes.get("transcript_lines_without_id", 0) + 1
            continue
        if "XX" in first:  # overlapping or unattributed speech: no label by design
            notes["unlabelled_transcript_ids"] = notes.get("unlabelled_transcript_ids", 0) + 1
            continue
        match = _TRANSCRIPT_RE.match(line)
        if not match:
            policy.report(DataError(path, "malformed transcription line; expected "
                                          f"'UTTERANCE_ID [START-END]: TEXT', got {line!r}",
                                    number))
            continue
        try:
            dialog, _ = split_utterance_id(match["id"], path, number)
        except DataError as error:
            policy.report(error)
            continue
        if dialog != dialog_id:
            policy.report(DataError(path, f"utterance {match['id']} does not belong to dialog "
                                          f"{dialog_id}", number))
            continue
        if match["id"] in texts:  # the later line wins, as before; said in the manifest
            notes["transcribed_twice"] = notes.get("transcribed_twice", 0) + 1
        texts[match["id"]] = (match["text"].strip(), number)
    return texts
