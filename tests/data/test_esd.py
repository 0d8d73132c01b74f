"""ESD read as its producers ship it (a small release `mer_tf.synthetic.esd` writes in
that layout): text files in several encodings, a line that does not parse, the split by
folder or by number, and parallel sentences the audit recognises."""

import json

import pytest

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.esd import index_esd
from mer_tf.synthetic.esd import SENTENCES, write_esd


def _read(root):
    (units,) = index_esd(root, ErrorPolicy("stop")).values()
    return units, [u for unit in units for u in unit.utterances]


def test_each_encoding_is_read_and_the_split_follows_the_numbers(tmp_path):
    units, utterances = _read(write_esd(str(tmp_path / "ESD")))
    assert [u.dialog_id for u in units] == ["speaker0001", "speaker0003", "speaker0011",
                                           "speaker0016"]
    assert [{k: v for k, v in u.notes.items() if k != "split_by_number"} for u in units] == [
        {"text_file_gb18030": 1}, {"text_file_utf16": 1},
        {"text_file_utf8": 1, "transcript_lines_unparsed": 1}, {"text_file_cp1252": 1}]
    by_id = {u.utterance_id: u for u in utterances}
    assert by_id["0001_000001"].transcript == SENTENCES["zh"][0]  # GB2312
    assert by_id["0003_000371"].transcript == SENTENCES["zh"][1]  # UTF-16
    assert by_id["0016_000021"].transcript == "Chloé took the train to the city."  # Latin-1
    assert by_id["0011_000721"].transcript == ""  # its line has no tabs
    assert (by_id["0011_000351"].emotion, by_id["0011_000351"].kind,
            by_id["0011_000351"].speaker_gender) == ("angry", "en", "M")
    assert {u.utterance_id[-6:]: u.split for u in utterances if u.speaker == "0001"
            and u.emotion == "neutral"} == {"000001": "evaluation", "000021": "test",
                                            "000051": "train", "000052": "train"}
    assert all(unit.notes.get("split_by_number") == 20 for unit in units)
    folders = write_esd(str(tmp_path / "ESD-old"), split_folders=True)
    moved = tmp_path / "ESD-old" / "Emotion Speech Dataset" / "0001" / "Sad"
    (moved / "train" / "0001_001101.wav").rename(moved / "test" / "0001_001101.wav")
    _, moved_split = _read(folders)
    assert {u.utterance_id: u.split for u in moved_split}["0001_001101"] == "test"  # the folder
    (moved / "test" / "0001_001101.wav").rename(moved / "train" / "0001_001101.wav")
    olds, old = _read(folders)
    assert not any("split_by_number" in unit.notes for unit in olds)
    assert [(u.utterance_id, u.split, u.emotion, u.transcript) for u in old] == [
        (u.utterance_id, u.split, u.emotion, u.transcript) for u in utterances]
    assert "/evaluation/" in old[0].audio_path
    with pytest.raises(DataError, match="not an ESD folder: no speaker folder 0001-0020"):
        index_esd(str(tmp_path / "ESD" / "Emotion Speech Dataset" / "0001"),
                  ErrorPolicy("stop"))


@pytest.mark.slow
def test_the_audit_finds_the_parallel_sentences_and_official_is_not_speaker_independent(
        tmp_path, capsys):
    from experiments import audit, prepare

    root = write_esd(str(tmp_path / "ESD"), speakers=("0001", "0002", "0011", "0012", "0013",
                                                      "0014"))
    out = str(tmp_path / "prepared")
    assert prepare.main(["--corpus", "esd", "--source", root, "--out", out, "--quiet"]) == 0
    report = tmp_path / "audit.json"
    assert audit.main(["--data-dir", out, "--protocol", "speaker-folds", "--speaker-folds",
                       "2", "--json", str(report)]) == 0
    blocks = json.load(open(report))["folds"]
    assert all(b["fixed_sentences"] and b["train_test"]["speakers"] == 0 for b in blocks)
    assert "WARNING: the corpus's text is" in capsys.readouterr().out
    assert audit.main(["--data-dir", out, "--protocol", "official", "--json",
                       str(report)]) == 0
    (block,) = json.load(open(report))["folds"]
    assert block["train_test"]["speakers"] == 6 and block["test_utterances"] == 30
    assert "shares 6 speaker(s) with training" in capsys.readouterr().out
