"""Reads an IEMOCAP release folder: sessions, dialogs, labels and transcripts.

Stage one of preparation (after TFDS: index -> per-dialog read -> examples ->
shards). `index_release` only reads the small text files, so it is cheap and is
simply redone on every run; the heavy per-dialog reading (audio, motion
capture) lives in `mer_tf.data.dialog`.

Layout (the release folder, as IEMOCAP ships it)::

    Session{1..5}/dialog/EmoEvaluation/<dialog>.txt
    Session{1..5}/dialog/transcriptions/<dialog>.txt
    Session{1..5}/dialog/wav/<dialog>.wav
    Session{1..5}/dialog/MOCAP_{rotated,head,hand}/<dialog>.txt
    Session{1..5}/sentences/wav/<dialog>/<utterance>.wav
"""

from __future__ import annotations

import dataclasses

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.iemocap_files import (
    dialog_kind,
    parse_dialog_id,
    read_evaluation,
    read_transcriptions,
)
from mer_tf.io import storage

MOCAP_STREAMS = ("head", "hand", "rotated")

# Dialogs whose motion capture lives under another dialog's file name.
MOCAP_FILE_QUIRKS = {"Ses05M_script01_1b": "Ses05M_script01_1"}

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
    def kind(self) -> str:
        """`impro` (improvised: the actors' own words) or `script` (one of the plays)."""
        return dialog_kind(self.dialog)[0]

    @property
    def script(self) -> str:
        """The play and part of a scripted dialog (`script01_1`), "" for improvised ones:
        the same lines in every session."""
        return dialog_kind(self.dialog)[1]

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
        return storage.join(self.session_dir, "sentences", "wav", self.dialog_id,
                            f"{utterance_id}.wav")

    def mocap_path(self, stream: str) -> str:
        name = MOCAP_FILE_QUIRKS.get(self.dialog_id, self.dialog_id)
        return storage.join(self.session_dir, "dialog", f"MOCAP_{stream}", f"{name}.txt")


def find_sessions(root: str, sessions=(1, 2, 3, 4, 5)) -> list[tuple[int, str]]:
    """Checks that `root` looks like IEMOCAP_full_release and lists session folders."""
    if not storage.isdir(root):
        raise DataError(root, "not a directory; pass the IEMOCAP_full_release folder")
    present = {name for name in storage.listdir(root)}
    found = [(n, storage.join(root, f"Session{n}")) for n in sessions if f"Session{n}" in present]
    if not found and "IEMOCAP_full_release" in present:
        raise DataError(root, "IEMOCAP_full_release is inside: pass that, "
                              f"--iemocap {storage.join(root, 'IEMOCAP_full_release')}")
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
            policy.report(DataError(eval_path, f"utterance {uid} is labelled twice", record.line,
                                    (uid,)))
            continue
        seen.add(uid)
        if uid not in texts:
            where = (transcript_path if storage.exists(transcript_path)
                     else transcript_path + " (missing file)")
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


def index_release(root: str, policy: ErrorPolicy,
                  sessions=(1, 2, 3, 4, 5)) -> dict[int, list[Dialog]]:
    """Session number -> dialogs, for every session folder present under `root`."""
    index = {}
    for number, session_dir in find_sessions(root, sessions):
        try:
            index[number] = index_session(number, session_dir, policy)
        except DataError as error:
            policy.report(error)
    return index
