"""Folds: speaker-independent, as the protocol says."""

import json

from mer_tf.config import (
    DataConfig,
)


def _tiny_corpus(tmp_path, split_of=None):
    """A manifest and an utterance index, as preparation writes them, and no shards;
    `split_of(session, gender, i)` names each row's official split."""
    from mer_tf.data.corpus import INDEX, MANIFEST, PreparedCorpus
    from mer_tf.data.schema import SCHEMA_VERSION
    from mer_tf.io.storage import sha256_of

    rows, sessions = [], {}
    for session in range(1, 6):
        speakers = {}
        for gender in "FM":
            for i in range(4):
                kind = "script" if i < 2 else "impro"
                text = f"line {i}" if kind == "script" else f"own words {session}{gender}{i}"
                rows.append({"utterance_id": f"Ses0{session}F_{kind}01_{gender}00{i}",
                             "session": session, "speaker": f"Ses0{session}{gender}",
                             "dialog": f"Ses0{session}F_{kind}01", "kind": kind,
                             "script": "script01_1" if kind == "script" else "",
                             "label": i % 4, "text": text,
                             "split": split_of(session, gender, i) if split_of else ""})
                speakers[f"Ses0{session}{gender}"] = speakers.get(f"Ses0{session}{gender}", 0) + 1
        sessions[str(session)] = {"utterances": 8, "speakers": speakers,
                                  "classes": {"ang": 2, "exc": 2, "neu": 2, "sad": 2}}
    (tmp_path / INDEX).write_text(json.dumps({"utterances": rows}))
    manifest = {"schema_version": SCHEMA_VERSION, "classes": ["ang", "exc", "neu", "sad"],
                "utterances": 40, "sessions": sessions, "shards": [],
                "index": {"file": INDEX, "sha256": sha256_of(str(tmp_path / INDEX))}}
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    return PreparedCorpus.open(str(tmp_path))


def test_folds_are_speaker_independent_and_follow_the_protocol(tmp_path):
    from mer_tf.training.splits import make_folds

    corpus = _tiny_corpus(tmp_path)
    (fold,) = make_folds(DataConfig(corpus.data_dir), corpus)
    assert (fold.name, fold.train_sessions, fold.test_sessions) == ("session5", (1, 2, 3, 4),
                                                                    (5,))
    assert fold.validation_speakers == ("Ses04F",)
    assert corpus.count(fold.train_split()) == 28 and corpus.count(fold.validation_split()) == 4
    loso = make_folds(DataConfig(corpus.data_dir, protocol="loso", folds=(2, 4)), corpus)
    assert [(f.name, f.test_sessions) for f in loso] == [("fold2", (2,)), ("fold4", (4,))]
    assert loso[1].validation_speakers == ("Ses05F",)  # the highest training session's
    dropped = make_folds(DataConfig(corpus.data_dir, text_overlap="drop"), corpus)[0]
    assert len(dropped.dropped_ids) == 16  # "line 0", "line 1" of the training sessions
    assert all("_script" in u for u in dropped.dropped_ids)
    improvised = make_folds(DataConfig(corpus.data_dir, subset="improvised"), corpus)[0]
    assert {r["kind"] for r in corpus.rows(improvised.test_split())} == {"impro"}
    stratified = make_folds(DataConfig(corpus.data_dir, validation="stratified"), corpus)[0]
    assert len(stratified.validation_ids) == 4 and not stratified.validation_speakers


def test_speaker_folds_test_every_speaker_once_and_never_train_on_it(tmp_path):
    import pytest

    from mer_tf.training.splits import make_folds

    corpus = _tiny_corpus(tmp_path)
    folds = make_folds(DataConfig(corpus.data_dir, protocol="speaker-folds"), corpus)
    assert [f.name for f in folds] == ["fold1", "fold2", "fold3", "fold4", "fold5"]
    assert folds[0].test_speakers == ("Ses01F", "Ses03M")  # sorted, dealt in turn
    tested = []
    for fold in folds:
        test = {r["speaker"] for r in corpus.rows(fold.test_split())}
        train = {r["speaker"] for r in corpus.rows(fold.train_split())}
        validation = {r["speaker"] for r in corpus.rows(fold.validation_split())}
        assert test == set(fold.test_speakers) and not test & (train | validation)
        assert not train & validation and len(validation) == 1
        assert len(train) + len(test) + 1 == 10
        tested += sorted(test)
    assert sorted(tested) == sorted({r["speaker"] for r in corpus.index})
    two = make_folds(DataConfig(corpus.data_dir, protocol="speaker-folds", speaker_folds=2,
                                folds=(2,), text_overlap="drop"), corpus)
    assert [f.test_speakers for f in two] == [tuple(sorted(f"Ses0{s}{g}" for s in range(1, 6)
                                                           for g in "FM")[1::2])]
    assert two[0].dropped_ids and all("_script" in u for u in two[0].dropped_ids)
    assert not {u for u in two[0].dropped_ids} & {r["utterance_id"]
                                                  for r in corpus.rows(two[0].test_split())}
    with pytest.raises(ValueError, match="at least 11 speakers"):
        make_folds(DataConfig(corpus.data_dir, protocol="speaker-folds", speaker_folds=10),
                   corpus)
    with pytest.raises(ValueError, match="at least 2"):
        DataConfig(corpus.data_dir, protocol="speaker-folds", speaker_folds=1)


def test_the_official_split_trains_validates_and_tests_on_its_own_parts(tmp_path):
    import pytest

    (tmp_path / "scripted").mkdir()
    from mer_tf.training.splits import make_folds

    names = {1: "Train", 2: "Train", 3: "Train", 4: "Development", 5: "Test1"}
    corpus = _tiny_corpus(tmp_path, lambda s, g, i: "Test2" if (s, g) == (5, "M")
                          else names[s])
    (fold,) = make_folds(DataConfig(corpus.data_dir, protocol="official"), corpus)
    parts = {name: corpus.rows(split) for name, split in (
        ("train", fold.train_split()), ("validation", fold.validation_split()),
        ("test", fold.test_split()))}
    assert {r["session"] for r in parts["train"]} == {1, 2, 3}
    assert {r["session"] for r in parts["validation"]} == {4}
    assert {r["speaker"] for r in parts["test"]} == {"Ses05F"}  # Test1; Test2 stays out
    assert fold.name == "official" and "24 training, 8 development" in fold.describe()
    dropped = make_folds(DataConfig(corpus.data_dir, protocol="official",
                                    text_overlap="drop"), corpus)[0]
    assert len(dropped.dropped_ids) == 16  # "line 0" and "line 1" of sessions 1-4
    assert not set(dropped.dropped_ids) & {r["utterance_id"] for r in parts["test"]}
    validation = corpus.rows(dropped.validation_split())
    assert validation and {r["session"] for r in validation} == {4}  # Development alone
    assert {r["kind"] for r in validation} == {"impro"}
    # Development all scripted: dropping the overlap would leave no validation at all,
    # which is refused, never read as "validate on everything"
    scripted = _tiny_corpus(tmp_path / "scripted", lambda s, g, i: "Development" if (
        s == 4 and i < 2) else ("Train" if s < 4 else "Test1" if s == 5 else "none"))
    with pytest.raises(ValueError, match="removes every validation utterance"):
        make_folds(DataConfig(scripted.data_dir, protocol="official", text_overlap="drop"),
                   scripted)
    (tmp_path / "none").mkdir()
    none = _tiny_corpus(tmp_path / "none")
    with pytest.raises(ValueError, match="needs the corpus's train and validation and test "
                                         "split; .* has none"):
        make_folds(DataConfig(none.data_dir, protocol="official"), none)
