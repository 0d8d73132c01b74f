"""MSP-IMPROV read as its producers ship it (a small release `mer_tf.synthetic.msp_improv`
writes in that layout): Evaluation.txt's head lines, the name coding, six sessions."""

import pytest

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.msp_improv import index_msp_improv
from mer_tf.synthetic.msp_improv import write_msp_improv


def test_head_lines_give_the_consensus_and_names_give_session_speaker_and_sentence(tmp_path):
    root = write_msp_improv(str(tmp_path / "MSP-IMPROV"))
    index = index_msp_improv(root, ErrorPolicy("stop"))
    assert {s: [u.dialog_id for u in units] for s, units in index.items()} == {
        s: [f"session{s}_F0{s}", f"session{s}_M0{s}"] for s in (1, 2, 3)}
    utterances = [u for units in index.values() for unit in units for u in unit.utterances]
    assert len(utterances) == 96  # 3 sessions x 2 speakers x 2 sentences x 4 emotions x 2
    heads = [line for line in open(f"{root}/Evaluation.txt").read().splitlines()
             if line.startswith("UTD-IMPROV-")]
    first = utterances[0]
    assert heads[0].startswith(f"UTD-IMPROV-{first.utterance_id[len('MSP-IMPROV-'):]}.avi; ")
    arousal, valence, dominance = (float(part.split(":")[1]) for part in
                                   heads[0].replace(" ;", ";").split("; ")[2:5])
    assert (first.vad, first.session, first.speaker, first.speaker_gender, first.script,
            first.kind, first.line) == ((valence, arousal, dominance), 1, "F01", "F", "S01",
                                        "R", 1)
    assert first.audio_path.endswith("session1/S01A/R/MSP-IMPROV-S01A-F01-R-FM01.wav")
    assert not first.transcript  # the release has no transcripts
    # the perceived consensus, not the elicited emotion of the name
    assert any(u.emotion != {"A": "angry", "H": "happy", "S": "sad", "N": "neutral"}[
        u.utterance_id[14]] for u in utterances)
    assert [u.emotion for u in utterances].count("no_agreement") == 1
    assert [u.vad for u in utterances].count(None) == 1  # NaN dimensions: not annotated
    assert {u.script for u in utterances if u.kind == "P"} == {""}


def test_a_head_line_without_its_audio_names_the_line(tmp_path):
    root = write_msp_improv(str(tmp_path / "MSP-IMPROV"), sessions=(1,))
    wav = next((tmp_path / "MSP-IMPROV" / "session1").rglob("*.wav"))
    wav.unlink()
    line = next(n for n, text in enumerate(open(f"{root}/Evaluation.txt"), start=1)
                if wav.stem[len("MSP-IMPROV-"):] in text)
    with pytest.raises(DataError, match=rf"Evaluation.txt:{line}: {wav.stem}.wav: no such "
                                        "file under session1/"):
        index_msp_improv(root, ErrorPolicy("stop"))
    with pytest.raises(DataError, match="not an MSP-IMPROV release: no Evaluation.txt"):
        index_msp_improv(str(tmp_path), ErrorPolicy("stop"))
