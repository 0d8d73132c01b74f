"""MELD read as its producers ship it (a small MELD.Raw `mer_tf.synthetic.meld` writes in
that layout): three CSVs with their mojibake, audio inside MP4 clips, a listed clip that
is missing, and an official split whose speakers the audit finds shared."""

import json

import numpy as np
import pytest

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.meld import index_meld
from mer_tf.synthetic.meld import LINES, write_meld


@pytest.fixture(scope="module")
def meld(tmp_path_factory):
    return write_meld(str(tmp_path_factory.mktemp("meld") / "MELD.Raw"),
                      {"train": [0, 1], "dev": [110], "test": [0]})


def test_csvs_give_speaker_emotion_split_and_mended_text_and_a_missing_clip_is_counted(meld):
    (units,) = index_meld(meld, ErrorPolicy("stop")).values()
    assert [u.dialog_id for u in units] == ["train_dia0", "train_dia1", "dev_dia110",
                                           "test_dia0"]
    assert units[2].notes == {"mojibake_mended": 8, "clips_missing": 1}
    assert [u.utterance_id for u in units[2].utterances] == [
        f"dev_dia110_utt{n}" for n in (0, 1, 2, 3, 4, 5, 6)]  # dia110_utt7 is missing
    raw = open(f"{meld}/train_sent_emo.csv", encoding="utf-8").read()
    assert "Iâ€™ll see you" in raw  # the release's mojibake, mended when read
    first = units[0].utterances[0]
    assert (first.utterance_id, first.speaker, first.emotion, first.split, first.transcript,
            first.line) == ("train_dia0_utt0", "Joey", "neutral", "train", LINES["neutral"], 2)
    assert first.audio_path.endswith("train_splits/dia0_utt0.mp4")
    assert {u.split for unit in units for u in unit.utterances} == {"train", "dev", "test"}


def test_the_audio_track_of_an_mp4_clip_is_decoded_and_resampled(meld):
    from mer_tf.data.audio import read_audio
    from mer_tf.synthetic.meld import PITCH

    samples, rate, found = read_audio(f"{meld}/train_splits/dia0_utt1.mp4")  # joy
    assert (rate, found["channels"], found["subtype"]) == (48000, 2, "aac")
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float32)))
    peak = np.argmax(spectrum) * 16000 / samples.size
    assert abs(peak - PITCH["joy"]) < 3 and 1.0 <= samples.size / 16000 <= 1.7


def test_a_bad_row_names_the_csv_and_line(meld, tmp_path):
    import shutil

    copy = tmp_path / "MELD.Raw"
    shutil.copytree(meld, copy)
    table = copy / "test_sent_emo.csv"
    table.write_text(table.read_text(encoding="utf-8").replace(",neutral,neutral,", ",bored,"
                                                               "neutral,", 1), encoding="utf-8")
    with pytest.raises(DataError, match=r"test_sent_emo.csv:2: unknown Emotion 'bored'"):
        index_meld(str(copy), ErrorPolicy("stop"))
    shutil.rmtree(copy / "output_repeated_splits_test")
    with pytest.raises(DataError, match="no output_repeated_splits_test/ folder of clips"):
        index_meld(str(copy), ErrorPolicy("stop"))
    with pytest.raises(DataError, match="not a MELD.Raw folder: no train_sent_emo.csv"):
        index_meld(str(tmp_path), ErrorPolicy("stop"))


@pytest.mark.slow
def test_the_audit_says_the_official_split_shares_its_speakers(meld, tmp_path, capsys):
    from experiments import audit, prepare
    from mer_tf.data.corpus import PreparedCorpus

    out = str(tmp_path / "prepared")
    assert prepare.main(["--corpus", "meld", "--source", meld, "--out", out, "--quiet"]) == 0
    corpus = PreparedCorpus.open(out)
    assert corpus.classes == ("anger", "disgust", "fear", "joy", "neutral", "sadness",
                              "surprise")
    assert corpus.utterances == 31 and corpus.modalities == ("speech", "text")
    assert corpus.manifest["official_splits"] == {"dev": 7, "test": 8, "train": 16}
    assert corpus.manifest["dialog_notes"]["dev_dia110"]["clips_missing"] == 1
    report = tmp_path / "audit.json"
    assert audit.main(["--data-dir", out, "--protocol", "official", "--json",
                       str(report)]) == 0
    (block,) = json.load(open(report))["folds"]
    assert block["train_test"]["speakers"] == 6  # the six friends in every split
    assert ("WARNING: official's test split shares 6 speaker(s) with training: its figures "
            "are not speaker-independent" in capsys.readouterr().out)
