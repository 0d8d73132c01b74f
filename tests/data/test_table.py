"""`--corpus table`: your own data as a CSV, TSV or JSONL table, prepared like IEMOCAP,
with one-line errors naming the table's line."""

import csv
import json
import os

import numpy as np
import pytest
import soundfile

from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.table import index_table, read_rows

LABELS = {"ang": "angry", "exc": "happy", "neu": "neutral", "sad": "sad"}


def _write(path, rows, delimiter=","):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerows(rows)
    return str(path)


def _wav(path, seconds=1.0, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(path, (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate,
                    subtype="PCM_16")
    return str(path)


def test_csv_tsv_and_jsonl_give_the_same_rows(tmp_path):
    rows = [["path", "label", "speaker", "text"], ["a.wav", "angry", "s1", "no way"],
            ["b.wav", "sad", "s2", ""]]
    found = {fmt: read_rows(path) for fmt, path in (
        ("csv", _write(tmp_path / "t.csv", rows)),
        ("tsv", _write(tmp_path / "t.tsv", rows, "\t")))}
    lines = [json.dumps(dict(zip(rows[0], row))) for row in rows[1:]]
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n")
    found["jsonl"] = read_rows(str(tmp_path / "t.jsonl"))
    assert found["csv"] == found["tsv"] == [(2, dict(zip(rows[0], rows[1]))),
                                            (3, dict(zip(rows[0], rows[2])))]
    assert found["jsonl"] == [(1, dict(zip(rows[0], rows[1]))), (2, dict(zip(rows[0], rows[2])))]


@pytest.mark.parametrize("rows,line,says", [
    ([["path", "speaker"], ["a.wav", "s1"]], 1, "no column label"),
    ([["path", "label", "speaker"], ["a.wav", "sad", "s1"], ["gone.wav", "sad", "s1"]], 3,
     "gone.wav: no such audio file"),
    ([["path", "label", "speaker", "start", "end"], ["a.wav", "sad", "s1", "2", "1"]], 2,
     "the span 2-1 s is empty or negative"),
    ([["path", "label", "speaker", "start", "end"], ["a.wav", "sad", "s1", "x", "1"]], 2,
     "start 'x' is not a number"),
    ([["path", "label", "speaker", "start"], ["a.wav", "sad", "s1", "1"]], 2,
     "a span needs both start and end"),
    ([["path", "label", "speaker"], ["a.wav", "", "s1"]], 2, "empty label"),
])
def test_a_bad_row_is_named_by_its_line(tmp_path, rows, line, says):
    _wav(tmp_path / "a.wav")
    table = _write(tmp_path / "t.csv", rows)
    with pytest.raises(DataError) as error:
        index_table(table, ErrorPolicy("stop"))
    assert str(error.value).startswith(f"{table}:{line}: {says}")


def test_groups_become_sessions_and_a_speaker_of_a_group_one_unit(tmp_path):
    for name in ("a", "b", "c"):
        _wav(tmp_path / f"{name}.wav")
    table = _write(tmp_path / "t.csv", [
        ["path", "label", "speaker", "group"], ["a.wav", "sad", "s1", "day2"],
        ["b.wav", "angry", "s1", "day1"], ["c.wav", "sad", "s2", "day1"],
        ["gone.wav", "sad", "s2", "day1"]])
    policy = ErrorPolicy("skip")
    index = index_table(table, policy)
    assert {s: [u.dialog_id for u in units] for s, units in index.items()} == {
        1: ["group1_s1", "group1_s2"], 2: ["group2_s1"]}
    assert [r["line"] for r in policy.records] == [5]


@pytest.fixture(scope="module")
def table_release(tmp_path_factory):
    from mer_tf.synthetic.design import SyntheticConfig
    from mer_tf.synthetic.table import write_table_release

    root = str(tmp_path_factory.mktemp("table"))
    return write_table_release(root, SyntheticConfig(seed=7, utterances=60,
                                                     dialogs_per_session=4, mean_seconds=1.0),
                               labels=LABELS)


@pytest.mark.slow
def test_a_table_is_prepared_with_its_labels_and_no_motion_capture(table_release, tmp_path):
    from experiments import prepare
    from mer_tf.data.corpus import PreparedCorpus
    from tests.helpers import records

    table, truth = table_release
    out = str(tmp_path / "prepared")
    assert prepare.main(["--corpus", "table", "--source", table, "--out", out, "--quiet"]) == 0
    corpus = PreparedCorpus.open(out)
    labels = sorted({LABELS.get(u["emotion"], u["emotion"]) for u in truth} - {"xxx"})
    assert corpus.classes == tuple(labels) and corpus.modalities == ("speech", "text")
    assert corpus.manifest["corpus"] == "table" and corpus.facts.mocap_streams == ()
    assert corpus.utterances == sum(u["emotion"] != "xxx" for u in truth)
    rows = dict(enumerate(csv.DictReader(open(table)), start=2))  # by line
    for record in records(out, corpus.manifest):  # every record is its table row
        row = rows[int(record["utterance_id"].rsplit("_", 1)[1])]  # ids end with the line
        samples, _ = soundfile.read(os.path.join(os.path.dirname(table), row["path"]),
                                    dtype="int16")
        np.testing.assert_array_equal(record["audio"], samples)
        assert (record["label_name"], record["text"], record["speaker"]) == (
            row["label"], row["text"], row["speaker"])
        assert record["session"] == int(row["group"].removeprefix("session"))


@pytest.mark.slow
def test_a_table_trains_the_towers_it_can_feed_and_refuses_the_others(table_release,
                                                                      assets, tmp_path,
                                                                      capsys):
    from experiments import concat, prepare, text
    from tests.helpers import run_args, train

    table, _ = table_release
    out = str(tmp_path / "prepared")
    assert prepare.main(["--corpus", "table", "--source", table, "--out", out, "--quiet"]) == 0
    argv = run_args((out, None), assets, tmp_path / "text", "--no-export", "--protocol",
                    "speaker-folds", "--speaker-folds", "2", "--folds", "1")
    argv[argv.index("--epochs") + 1] = "1"
    train(text.main, argv)
    fold = json.load(open(tmp_path / "text" / "fold1" / "metrics.json"))
    assert fold["leakage"]["train_test"]["speakers"] == 0  # a speaker-folds run, end to end
    speakers = sorted({row["speaker"] for row in csv.DictReader(open(table))})[0::2]
    tested = [row for row in csv.DictReader(open(table))  # dealt in turn: fold 1's speakers
              if row["speaker"] in speakers and row["label"] != "xxx"]
    assert fold["test"]["utterances"] == len(tested)
    assert set(LABELS.values()) <= set(fold["test"]["per_class_recall"])  # named as in the table
    with pytest.raises(SystemExit) as stopped:
        concat.main(run_args((out, None), assets, tmp_path / "all"))
    assert stopped.value.code == 2
    assert f"{out} has no mocap (it holds speech, text)" in capsys.readouterr().err


def test_a_span_of_a_longer_file_is_cut_to_the_millisecond(tmp_path):
    from mer_tf.data.dialog import DialogNotes
    from mer_tf.data.table import _read_span

    _wav(tmp_path / "call.wav", seconds=3.0, rate=22050)  # resampled to 16 kHz first
    table = _write(tmp_path / "t.csv", [["path", "label", "speaker", "start", "end"],
                                        ["call.wav", "sad", "s1", "1.0", "2.5"],
                                        ["call.wav", "sad", "s1", "2.5", "3.5"]])
    (unit,) = index_table(table, ErrorPolicy("stop"))[1]
    notes = DialogNotes()
    assert len(_read_span(unit.utterances[0], notes)) == 24000
    assert notes.resampled == [[unit.utterances[0].audio_path, 22050]]
    with pytest.raises(DataError, match=r"t.csv:3: the span 2.5-3.5 s ends after .*call.wav "
                                        r"\(3.00 s\)"):
        _read_span(unit.utterances[1], notes)


def test_a_table_with_ratings_says_their_scale(tmp_path):
    from mer_tf.data.corpora import check_dimension_scale
    from mer_tf.data.prepare import PrepareConfig

    _wav(tmp_path / "a.wav")
    rows = [["path", "label", "speaker", "arousal", "valence", "dominance"],
            ["a.wav", "sad", "s1", "2", "3", "1"]]
    table = _write(tmp_path / "t.csv", rows)
    index = index_table(table, ErrorPolicy("stop"))
    (utterance,) = index[1][0].utterances
    assert utterance.vad == (3.0, 2.0, 1.0)  # kept as valence, arousal, dominance
    config = PrepareConfig(source=table, out_dir=str(tmp_path / "out"), corpus="table")
    with pytest.raises(ValueError, match="say their scale with --dimension-scale LOW,HIGH"):
        check_dimension_scale(config, index)
    check_dimension_scale(PrepareConfig(source=table, out_dir=str(tmp_path / "out"),
                                         corpus="table", dimension_scale=(1.0, 5.0)), index)
    with pytest.raises(ValueError, match="--dimension-scale is a table's LOW,HIGH"):
        check_dimension_scale(PrepareConfig(source=table, out_dir="x", corpus="crema-d",
                                             dimension_scale=(1.0, 5.0)), index)
    partial = _write(tmp_path / "p.csv", [rows[0], ["a.wav", "sad", "s1", "2", "", ""]])
    with pytest.raises(DataError, match="arousal, valence and dominance go together"):
        index_table(partial, ErrorPolicy("stop"))
