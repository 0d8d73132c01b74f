"""RAVDESS read as its producers ship it (a small archive `mer_tf.synthetic.ravdess`
writes in that layout): seven-part names, 48 kHz, calm, songs left out."""

import pytest

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.ravdess import EMOTIONS, STATEMENTS, index_ravdess
from mer_tf.synthetic.ravdess import write_ravdess


def test_names_give_emotion_statement_and_actor_and_songs_are_left_out(tmp_path):
    archive = write_ravdess(str(tmp_path))
    (tmp_path / "Audio_Speech_Actors_01-24" / "Actor_02" / "03-01-01-02-01-01-02.wav"
     ).write_bytes(b"")  # neutral has no strong intensity
    policy = ErrorPolicy("skip")
    (units,) = index_ravdess(str(tmp_path), policy).values()  # the parent folder works too
    assert [u.dialog_id for u in units] == ["actor01", "actor02", "actor03", "actor04"]
    assert all(len(u.utterances) == 16 for u in units)  # 8 emotions x 2 statements
    assert units[0].notes == {"songs_not_read": 1}
    first = units[0].utterances[0]
    assert (first.utterance_id, first.emotion, first.transcript, first.speaker,
            first.speaker_gender) == ("03-01-01-01-01-01-01", "neutral", STATEMENTS["01"],
                                      "Actor_01", "M")
    assert units[1].utterances[0].speaker_gender == "F"  # even actors are women
    assert {u.emotion for u in units[0].utterances} == set(EMOTIONS.values())
    assert [r["reason"] for r in policy.records] == [
        "intensity 02 is not one of RAVDESS's for emotion 01"]
    with pytest.raises(DataError, match="not a RAVDESS folder"):
        index_ravdess(str(tmp_path / "Audio_Speech_Actors_01-24" / "Actor_01"),
                      ErrorPolicy("stop"))
    assert archive.endswith("Audio_Speech_Actors_01-24")


@pytest.mark.slow
def test_ravdess_is_prepared_at_16_khz_with_calm_among_its_classes(tmp_path):
    from experiments import prepare
    from mer_tf.data.corpus import PreparedCorpus

    archive = write_ravdess(str(tmp_path), actors=(1, 2))
    out = str(tmp_path / "prepared")
    assert prepare.main(["--corpus", "ravdess", "--source", archive, "--out", out,
                         "--quiet"]) == 0
    corpus = PreparedCorpus.open(out)
    assert corpus.classes == tuple(sorted(EMOTIONS.values())) and "calm" in corpus.classes
    assert corpus.utterances == 32 and corpus.modalities == ("speech", "text")
    assert len(corpus.manifest["resampled"]) == 32  # every file was 48 kHz
    assert {rate for _, rate in corpus.manifest["resampled"]} == {48000}
