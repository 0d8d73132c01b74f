"""MSP-Podcast read as its producers ship it (a small release `mer_tf.synthetic.msp_podcast`
writes in that layout): the consensus labels, both spellings of their file, Unknown
speakers, Train/Development/Test1/Test2, and the official protocol on the prepared corpus."""

import json

import pytest

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.msp_podcast import index_msp_podcast
from mer_tf.synthetic.design import SyntheticConfig
from mer_tf.synthetic.msp_podcast import write_msp_podcast

SMALL = SyntheticConfig(seed=3, utterances=60, dialogs_per_session=2)


@pytest.fixture(scope="module")
def msp_release(tmp_path_factory):
    root, truth = write_msp_podcast(str(tmp_path_factory.mktemp("msp") / "MSP-PODCAST"), SMALL)
    return root, truth


def _utterances(index):
    return [u for units in index.values() for unit in units for u in unit.utterances]


def test_segments_carry_label_dimensions_speaker_podcast_split_and_transcript(msp_release):
    root, truth = msp_release
    index = index_msp_podcast(root, ErrorPolicy("stop"))
    assert list(index) == [1]  # no sessions: podcasts are the units
    units = index[1]
    assert [u.dialog_id for u in units] == [f"podcast{n:04d}" for n in range(1, 11)]
    utterances = _utterances(index)
    assert len(utterances) == len(truth) == 60
    rows = open(f"{root}/Labels/labels_consensus.csv").read().splitlines()
    first = utterances[0]
    name, code, act, val, dom, speaker, gender, split = rows[1].split(",")
    assert (first.utterance_id + ".wav", first.emotion, first.vad, first.speaker,
            first.speaker_gender, first.split, first.line) == (
        name, {"H": "happy", "A": "angry", "N": "neutral", "S": "sad", "U": "surprise",
               "O": "other", "X": "no_agreement"}[code],
        (float(val), float(act), float(dom)), speaker, gender[0], split, 2)
    assert first.transcript == open(f"{root}/Transcripts/{name[:-4]}.txt").read().strip()
    assert first.text_path in units[0].source_files()  # a changed transcript rebuilds
    assert {u.split for u in utterances} == {"Train", "Development", "Test1", "Test2"}
    unknown = [u for u in utterances if u.speaker.startswith("unknown_")]
    assert unknown and all(u.speaker == f"unknown_{u.dialog}" for u in unknown)
    assert sum(unit.notes.get("unknown_speakers", 0) for unit in units) == len(unknown)
    assert all(1 <= v <= 7 for u in utterances for v in u.vad)


def test_the_older_spelling_and_the_json_labels_are_read_alike(msp_release, tmp_path):
    import shutil

    root, _ = msp_release
    expected = [(u.utterance_id, u.emotion, u.speaker, u.split, u.vad)
                for u in _utterances(index_msp_podcast(root, ErrorPolicy("stop")))]
    old = tmp_path / "old"
    shutil.copytree(root, old)
    (old / "Labels" / "labels_consensus.csv").rename(old / "Labels" / "labels_concensus.csv")
    index = index_msp_podcast(str(old), ErrorPolicy("stop"))
    assert [(u.utterance_id, u.emotion, u.speaker, u.split, u.vad)
            for u in _utterances(index)] == expected
    assert all(unit.notes["label_file_concensus"] == 1 for unit in index[1])
    import csv

    rows = list(csv.DictReader(open(old / "Labels" / "labels_concensus.csv")))
    (old / "Labels" / "labels_concensus.csv").unlink()
    (old / "Labels" / "labels_consensus.json").write_text(json.dumps(
        {r.pop("FileName"): {**r, "EmoAct": float(r["EmoAct"])} for r in rows}))
    assert [(u.utterance_id, u.emotion, u.speaker, u.split, u.vad) for u in _utterances(
        index_msp_podcast(str(old), ErrorPolicy("stop")))] == expected


def test_bad_rows_name_the_label_file_and_line(msp_release, tmp_path):
    import shutil

    root, _ = msp_release
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    labels = copy / "Labels" / "labels_consensus.csv"
    lines = labels.read_text().splitlines()
    lines[3] = lines[3].replace(",H,", ",Q,").replace(",A,", ",Q,").replace(
        ",N,", ",Q,").replace(",S,", ",Q,").replace(",O,", ",Q,").replace(",U,", ",Q,")
    (copy / "Audios" / lines[5].split(",")[0]).unlink()
    labels.write_text("\n".join(lines) + "\n")
    policy = ErrorPolicy("skip")
    assert len(_utterances(index_msp_podcast(str(copy), policy))) == 58
    assert [(r["line"], r["reason"].split(" (")[0]) for r in policy.records] == [
        (4, "unknown EmoClass 'Q'"), (6, f"{lines[5].split(',')[0]}: no such file in Audios/")]
    with pytest.raises(DataError, match=r"labels_consensus.csv:4: unknown EmoClass 'Q'"):
        index_msp_podcast(str(copy), ErrorPolicy("stop"))
    lines = labels.read_text().splitlines()
    quoted = lines[2].split(",")
    quoted[6] = '"Fe\nmale"'  # a field across two lines, as a CSV may quote it
    not_a_number = lines[6].split(",")
    not_a_number[2] = "nan"  # EmoAct
    labels.write_text("\n".join([lines[0], lines[1], "", ",".join(quoted),
                                 ",".join(not_a_number)]) + "\n")
    policy = ErrorPolicy("skip")
    index_msp_podcast(str(copy), policy)
    assert [(r["line"], r["reason"].split(" is")[0]) for r in policy.records] == [
        (6, "EmoAct 'nan'")]  # file lines 1, 2, blank 3, 4-5 quoted, 6
    (copy / "Labels" / "labels_consensus.csv").unlink()
    (copy / "Labels" / "labels_consensus.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="expected an object of"):
        index_msp_podcast(str(copy), ErrorPolicy("stop"))
    (copy / "Labels" / "labels_consensus.json").unlink()
    labels.write_text("FileName,EmoClass\n")
    with pytest.raises(DataError, match="no column EmoAct, EmoVal, EmoDom, SpkrID, Gender, "
                                        "Split_Set"):
        index_msp_podcast(str(copy), ErrorPolicy("stop"))
    with pytest.raises(DataError, match="not an MSP-Podcast release: no Labels/"):
        index_msp_podcast(str(tmp_path), ErrorPolicy("stop"))


@pytest.mark.slow
def test_prepared_with_its_split_and_dimensions_and_trained_on_the_official_protocol(
        msp_release, tmp_path):
    from experiments import audit, prepare
    from mer_tf.config.run import DataConfig
    from mer_tf.data.corpus import PreparedCorpus
    from mer_tf.training.splits import make_folds

    root, _ = msp_release
    out = str(tmp_path / "prepared")
    assert prepare.main(["--corpus", "msp-podcast", "--source", root, "--out", out,
                         "--label-set", "cross4", "--quiet"]) == 0
    corpus = PreparedCorpus.open(out)
    assert corpus.classes == ("angry", "happy", "neutral", "sad")
    assert corpus.modalities == ("speech", "text")
    assert corpus.manifest["dimensions"] == {"scale": [1, 7], "annotated": corpus.utterances}
    rows = corpus.index
    assert {r["corpus"] for r in rows} == {"msp-podcast"}
    assert sum(corpus.manifest["official_splits"].values()) == len(rows)
    assert all(1 <= r["arousal"] <= 7 and r["split"] for r in rows)
    (fold,) = make_folds(DataConfig(out, protocol="official"), corpus)
    parts = {name: corpus.rows(split) for name, split in (
        ("train", fold.train_split()), ("validation", fold.validation_split()),
        ("test", fold.test_split()))}
    assert {r["split"] for r in parts["train"]} == {"Train"}
    assert {r["split"] for r in parts["validation"]} == {"Development"}
    assert {r["split"] for r in parts["test"]} == {"Test1"}  # Test2 stays out
    assert sum(map(len, parts.values())) == len(rows) - corpus.manifest["official_splits"][
        "Test2"]
    report = tmp_path / "audit.json"
    assert audit.main(["--data-dir", out, "--protocol", "official", "--json",
                       str(report)]) == 0
    (block,) = json.load(open(report))["folds"]
    assert block["fold"] == "official" and block["test_utterances"] == len(parts["test"])
    assert block["train_test"]["speakers"] == 0  # Test1's speakers are its own
