"""Reads an IEMOCAP release folder: sessions, dialogs, labels and transcripts.

Stage one of preparation (after TFDS: index -> per-dialog read -> examples ->
shards). `index_release` only reads the small text files, so it is cheap and is
simply redone on every run; the heavy per-dialog reading (audio, motion
capture) lives in `mer_tf.data.dialog`.

Layout (DESIGN.md section 2)::

    Session{1..5}/dialog/EmoEvaluation/<dialog>.txt
    Session{1..5}/dialog/transcriptions/<dialog>.txt
    Session{1..5}/dialog/wav/<dialog>.wav
    Session{1..5}/dialog/MOCAP_{rotated,head,hand}/<dialog>.txt
    Session{1..5}/sentences/wav/<dialog>/<utterance>.wav
"""

from __future__ import annotations

import dataclasses
import re

from mer_tf import storage
from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.labels import EMOTION_CODES

MOCAP_STREAMS = ("head", "hand", "rotated")

# Dialogs whose motion capture lives under another dialog's file name.
MOCAP_FILE_QUIRKS = {"Ses05M_script01_1b": "Ses05M_script01_1"}

_DIALOG_RE = re.compile(r"^Ses(?P<session>\d{2})(?P<wearer>[FM])_\w+$")
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
class Utterance:
    """One labelled turn: everything but the signals."""

    utterance_id: str
    dialog: str
    session: int
    speaker_gender: str  # from the utterance suffix (_F000): who speaks
    mocap_wearer: str  # from the dialog id (Ses01F_…): who wore the markers
    start: float
    end: float
    emotion: str  # raw code from EmoEvaluation
    vad: tuple[float, float, float]
    transcript: str
    evaluation_path: str
    evaluation_line: int

    @property
    def speaker(self) -> str:
        """Speaker id, e.g. `Ses01F` (session and gender name one actor)."""
        return f"Ses{self.session:02d}{self.speaker_gender}"

    @property
    def mocap_is_speaker(self) -> bool:
        """False when the markers were on the listener, not the speaker."""
        return self.speaker_gender == self.mocap_wearer


@dataclasses.dataclass
class Dialog:
    """One dialog's files and its labelled utterances (sorted by id).

    `notes` counts what its text files hold besides utterances and is not an error
    (transcription lines without an utterance id, ids that carry no label).
    """

    dialog_id: str
    session: int
    session_dir: str
    utterances: list
    notes: dict = dataclasses.field(default_factory=dict)

    @property
    def wav_path(self) -> str:
        return storage.join(self.session_dir, "dialog", "wav", f"{self.dialog_id}.wav")

    @property
    def evaluation_path(self) -> str:
        return storage.join(self.session_dir, "dialog", "EmoEvaluation", f"{self.dialog_id}.txt")

    @property
    def transcription_path(self) -> str:
        return storage.join(self.session_dir, "dialog", "transcriptions", f"{self.dialog_id}.txt")

    def source_files(self) -> list[str]:
        """Every file preparing this dialog may read."""
        return [self.evaluation_path, self.transcription_path, self.wav_path,
                *(self.mocap_path(stream) for stream in MOCAP_STREAMS),
                *(self.sentence_wav_path(u.utterance_id) for u in self.utterances)]

    def sentence_wav_path(self, utterance_id: str) -> str:
        return storage.join(self.session_dir, "sentences", "wav", self.dialog_id, f"{utterance_id}.wav")

    def mocap_path(self, stream: str) -> str:
        name = MOCAP_FILE_QUIRKS.get(self.dialog_id, self.dialog_id)
        return storage.join(self.session_dir, "dialog", f"MOCAP_{stream}", f"{name}.txt")


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
        raise DataError(path, f"{dialog_id!r} is not an IEMOCAP dialog id (like Ses01F_impro01)", line)
    return int(match["session"]), match["wearer"]


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
                                          f"'UTTERANCE_ID [START-END]: TEXT', got {line!r}", number))
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


def find_sessions(root: str, sessions=(1, 2, 3, 4, 5)) -> list[tuple[int, str]]:
    """Checks that `root` looks like IEMOCAP_full_release and lists session folders."""
    if not storage.isdir(root):
        raise DataError(root, "not a directory; pass the IEMOCAP_full_release folder")
    present = {name for name in storage.listdir(root)}
    found = [(n, storage.join(root, f"Session{n}")) for n in sessions if f"Session{n}" in present]
    if not found:
        raise DataError(root, "not an IEMOCAP release: no Session1..Session5 folders inside "
                              "(expected IEMOCAP_full_release/Session1/dialog/EmoEvaluation/…)")
    return found


def index_session(session: int, session_dir: str, policy: ErrorPolicy) -> list[Dialog]:
    """Reads one session's labels and transcripts; returns its dialogs sorted by id."""
    eval_dir = storage.join(session_dir, "dialog", "EmoEvaluation")
    eval_files = [n for n in storage.listdir(eval_dir)] if storage.isdir(eval_dir) else []
    eval_files = [n for n in eval_files if n.endswith(".txt") and not n.startswith(".")]
    if not eval_files:
        raise DataError(session_dir, "empty session folder: no dialog/EmoEvaluation/*.txt files")
    dialogs = []
    for name in eval_files:
        dialog_id = name[: -len(".txt")]
        eval_path = storage.join(eval_dir, name)
        try:
            number, wearer = parse_dialog_id(dialog_id, eval_path)
            if number != session:
                raise DataError(eval_path, f"dialog {dialog_id} belongs to session {number}, "
                                           f"found in Session{session}")
        except DataError as error:
            policy.report(error)
            continue
        dialogs.append(_index_dialog(dialog_id, session, wearer, session_dir, eval_path, policy))
    return sorted(dialogs, key=lambda d: d.dialog_id)


def _index_dialog(dialog_id, session, wearer, session_dir, eval_path, policy) -> Dialog:
    notes = {}
    records = read_evaluation(eval_path, dialog_id, policy, notes)
    transcript_path = Dialog(dialog_id, session, session_dir, []).transcription_path
    labelled = {r.utterance_id for r in records}
    texts = {}
    if storage.exists(transcript_path):
        texts = read_transcriptions(transcript_path, dialog_id, policy, notes)
        for uid, (_, number) in sorted(texts.items(), key=lambda kv: kv[1][1]):
            if uid not in labelled:
                policy.report(DataError(transcript_path, f"transcript of {uid} has no label in "
                                                         f"{eval_path}", number, (uid,)))
    utterances = []
    seen = set()
    for record in records:
        uid = record.utterance_id
        if uid in seen:
            policy.report(DataError(eval_path, f"utterance {uid} is labelled twice", record.line, (uid,)))
            continue
        seen.add(uid)
        if uid not in texts:
            where = transcript_path if storage.exists(transcript_path) else transcript_path + " (missing file)"
            policy.report(DataError(where, f"no transcript for labelled utterance {uid} "
                                           f"({eval_path}:{record.line})", None, (uid,)))
            continue
        gender = uid.rpartition("_")[2][0]
        utterances.append(Utterance(
            utterance_id=uid, dialog=dialog_id, session=session, speaker_gender=gender,
            mocap_wearer=wearer, start=record.start, end=record.end, emotion=record.emotion,
            vad=record.vad, transcript=texts[uid][0], evaluation_path=eval_path,
            evaluation_line=record.line))
    utterances.sort(key=lambda u: u.utterance_id)
    return Dialog(dialog_id, session, session_dir, utterances, notes)


def index_release(root: str, policy: ErrorPolicy, sessions=(1, 2, 3, 4, 5)) -> dict[int, list[Dialog]]:
    """Session number -> dialogs, for every session folder present under `root`."""
    index = {}
    for number, session_dir in find_sessions(root, sessions):
        try:
            index[number] = index_session(number, session_dir, policy)
        except DataError as error:
            policy.report(error)
    return index
