"""CREMA-D read as its producers ship it (a small release `mer_tf.synthetic.crema_d`
writes in that layout), with the renamed-file quirk, prepared through the shared path."""

import json

import pytest

from mer_tf.data.crema_d import SENTENCES, index_crema_d
from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.synthetic.crema_d import write_crema_d


def test_file_names_give_actor_sentence_emotion_and_the_quirk_is_read(tmp_path):
    root = write_crema_d(str(tmp_path / "CREMA-D"))
    (tmp_path / "CREMA-D" / "AudioWAV" / "1001_XYZ_ANG_HI.wav").write_bytes(b"")
    policy = ErrorPolicy("skip")
    (units,) = index_crema_d(root, policy).values()
    assert [u.dialog_id for u in units] == ["actor1001", "actor1002", "actor1003", "actor1040"]
    assert all(len(u.utterances) == 12 for u in units)  # 2 sentences x 6 emotions
    first = units[0].utterances[0]
    assert (first.utterance_id, first.speaker, first.emotion, first.transcript) == (
        "1001_IEO_ANG_HI", "1001", "ang", SENTENCES["IEO"])
    assert first.speaker_gender == "F" and units[1].utterances[0].speaker_gender == "M"
    assert units[3].notes == {"renamed_files_read": 1}
    assert "1040_ITH_SAD_X" in {u.utterance_id for u in units[3].utterances}
    assert [r["reason"] for r in policy.records] == ["unknown sentence code XYZ"]
    with pytest.raises(DataError, match="1001_XYZ_ANG_HI.wav: unknown sentence code XYZ"):
        index_crema_d(root, ErrorPolicy("stop"))
    with pytest.raises(DataError, match="not a CREMA-D folder: no AudioWAV/ inside"):
        index_crema_d(str(tmp_path), ErrorPolicy("stop"))


@pytest.mark.slow
def test_crema_d_is_prepared_with_its_six_emotions_and_no_motion_capture(tmp_path):
    from experiments import prepare
    from mer_tf.data.corpus import PreparedCorpus

    root = write_crema_d(str(tmp_path / "CREMA-D"), actors=(1001, 1002, 1040, 1076),
                         sentences=("IEO", "ITH", "MTI"))
    out = str(tmp_path / "prepared")
    assert prepare.main(["--corpus", "crema-d", "--source", root, "--out", out,
                         "--quiet"]) == 0
    corpus = PreparedCorpus.open(out)
    assert corpus.classes == ("ang", "dis", "fea", "hap", "neu", "sad")
    assert corpus.modalities == ("speech", "text") and corpus.utterances == 71  # 72 - silent
    assert corpus.manifest["corpus"] == "crema-d"
    assert corpus.manifest["dialog_notes"]["actor1040"] == {"renamed_files_read": 1}
    assert corpus.manifest["dialog_notes"]["actor1076"] == {"silent_files_skipped": 1}
    index = json.load(open(f"{out}/utterances.json"))["utterances"]
    assert "1076_MTI_SAD_XX" not in {r["utterance_id"] for r in index}
    assert {r["text"] for r in index} == {SENTENCES[s] for s in ("IEO", "ITH", "MTI")}
    assert {(r["corpus"], r["split"], r["arousal"]) for r in index} == {("crema-d", "", None)}
    shared = str(tmp_path / "cross4")  # the four named as every corpus names them
    assert prepare.main(["--corpus", "crema-d", "--source", root, "--out", shared,
                         "--label-set", "cross4", "--quiet"]) == 0
    corpus = PreparedCorpus.open(shared)
    assert corpus.classes == ("angry", "happy", "neutral", "sad") and corpus.utterances == 47
    assert corpus.manifest["excluded"] == {"dis": 12, "fea": 12}


@pytest.mark.slow
def test_the_audit_says_the_text_is_fixed_sentences(tmp_path, capsys):
    from experiments import audit, prepare

    root = write_crema_d(str(tmp_path / "CREMA-D"), actors=(1001, 1002, 1003, 1004))
    out = str(tmp_path / "prepared")
    assert prepare.main(["--corpus", "crema-d", "--source", root, "--out", out,
                         "--quiet"]) == 0
    report = tmp_path / "audit.json"
    assert audit.main(["--data-dir", out, "--protocol", "speaker-folds", "--speaker-folds",
                       "2", "--json", str(report)]) == 0
    blocks = json.load(open(report))["folds"]
    assert all(b["fixed_sentences"] and b["distinct_transcripts"] == 2 for b in blocks)
    assert all(b["train_test"]["speakers"] == 0 for b in blocks)
    assert ("WARNING: the corpus's text is 2 fixed sentences that every emotion reads"
            in capsys.readouterr().out)


def test_the_cross_corpus_label_set_names_the_four_alike_in_every_corpus():
    from mer_tf.data.labels import get_label_set
    from mer_tf.data.ravdess import EMOTIONS

    cross = get_label_set("cross4")
    assert cross.classes == ("angry", "happy", "neutral", "sad")
    iemocap = {c: cross.class_of(c) for c in ("ang", "exc", "hap", "neu", "sad", "fru", "xxx")}
    assert iemocap == {"ang": "angry", "exc": "happy", "hap": "happy", "neu": "neutral",
                       "sad": "sad", "fru": None, "xxx": None}
    crema = {c.lower(): cross.class_of(c.lower()) for c in ("ANG", "HAP", "NEU", "SAD", "DIS")}
    assert crema == {"ang": "angry", "hap": "happy", "neu": "neutral", "sad": "sad", "dis": None}
    ravdess = {name: cross.class_of(name) for name in EMOTIONS.values()}
    assert {n for n, c in ravdess.items() if c} == {"angry", "happy", "neutral", "sad"}
    assert ravdess["calm"] is None
