"""Several prepared corpora trained on as one (`--data-dir A --data-dir B`): their shards
linked into one folder, sessions numbered on, each record's own session verified, the
audit corpus by corpus, and leave-one-corpus-out from `--protocol loso`."""

import json
import os

import numpy as np
import pytest

from mer_tf.synthetic.crema_d import write_crema_d
from mer_tf.synthetic.design import SyntheticConfig
from mer_tf.synthetic.msp_podcast import write_msp_podcast


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory):
    from experiments import prepare

    root = tmp_path_factory.mktemp("two")
    crema = write_crema_d(str(root / "CREMA-D"), actors=(1001, 1002, 1003))
    podcast, _ = write_msp_podcast(str(root / "MSP-PODCAST"),
                                   SyntheticConfig(seed=3, utterances=60, dialogs_per_session=2))
    out = {}
    for name, corpus, source in (("crema", "crema-d", crema), ("podcast", "msp-podcast",
                                                                 podcast)):
        out[name] = str(root / "data" / name)
        assert prepare.main(["--corpus", corpus, "--source", source, "--out", out[name],
                             "--label-set", "cross4", "--quiet"]) == 0
    return out


@pytest.mark.slow
def test_two_corpora_become_one_prepared_folder_that_training_reads(two_corpora, tmp_path):
    import numpy as np

    from mer_tf.config.run import DataConfig
    from mer_tf.data.combine import combine
    from mer_tf.data.corpus import PreparedCorpus, Split
    from mer_tf.training.splits import make_folds

    crema, podcast = (PreparedCorpus.open(two_corpora[k]) for k in ("crema", "podcast"))
    out = str(tmp_path / "both")
    manifest = combine([two_corpora["crema"], two_corpora["podcast"]], out)
    both = PreparedCorpus.open(out)
    assert both.sessions == (1, 2) and both.classes == ("angry", "happy", "neutral", "sad")
    assert both.utterances == crema.utterances + podcast.utterances
    assert both.modalities == ("speech", "text")  # what both have
    assert [c["corpus"] for c in manifest["combined"]["corpora"]] == ["crema-d", "msp-podcast"]
    linked = os.path.join(out, both.shards[-1]["file"])
    source = os.path.join(two_corpora["podcast"], podcast.shards[-1]["file"])
    assert os.path.samefile(linked, source)  # a hard link: no copy of the audio
    both.verify("checksum")  # each record's own session, as the manifest records it
    assert {r["session"]: r["corpus"] for r in both.index} == {1: "crema-d",
                                                               2: "msp-podcast"}
    folds = make_folds(DataConfig(out, protocol="loso"), both)
    assert [(f.name, f.test_sessions) for f in folds] == [("fold1", (1,)), ("fold2", (2,))]
    tested = {r["corpus"] for r in both.rows(folds[1].test_split())}
    trained = {r["corpus"] for r in both.rows(folds[1].train_split())}
    assert (tested, trained) == ({"msp-podcast"}, {"crema-d"})  # leave one corpus out
    from mer_tf.data.readers import WaveformReader

    seen = {}  # every utterance of fold2's test split, read through the pipeline
    for _, labels, meta in both.dataset(folds[1].test_split(), [WaveformReader(8000)], 16,
                                        training=False, with_metadata=True):
        for uid, label in zip(meta["utterance_id"].numpy(), labels.numpy()):
            seen[uid.decode()] = int(label)
    assert seen == {r["utterance_id"]: r["label"] for r in both.rows(folds[1].test_split())}
    # each member's ratings on its own scale, by the row's corpus: the records keep their
    # own session numbers (both members' are 1), so a scale by session would mix them
    rated = {r["utterance_id"]: r for r in both.index}
    for _, labels, meta in both.dataset(Split((1, 2)), [], 16, training=False,
                                        with_metadata=True,
                                        dimensions=both.dimension_scales()):
        for uid, dims in zip(meta["utterance_id"].numpy(), labels["dimensions"].numpy()):
            row = rated[uid.decode()]
            if row["corpus"] == "crema-d":  # not rated: NaN, never zero
                assert np.isnan(dims).all()
            else:
                np.testing.assert_allclose(dims, [(row[k] - 1) / 6 for k in (
                    "arousal", "valence", "dominance")], rtol=1e-6)
    assert combine([two_corpora["crema"], two_corpora["podcast"]], out) == manifest  # kept
    assert manifest["combined"]["shards"] == {"linked": len(both.shards)}
    with pytest.raises(ValueError, match="is given twice"):
        combine([two_corpora["crema"], two_corpora["crema"] + "/"], str(tmp_path / "twice"))


@pytest.mark.slow
def test_a_member_prepared_again_is_combined_anew_and_an_interrupted_one_resumes(
        two_corpora, tmp_path):
    import shutil

    from experiments import prepare
    from mer_tf.data.corpus import PreparedCorpus

    crema = str(tmp_path / "crema")
    shutil.copytree(two_corpora["crema"], crema)
    out = str(tmp_path / "both")
    assert prepare.main(["--combine", crema, two_corpora["podcast"], "--out", out,
                         "--quiet"]) == 0
    first = PreparedCorpus.open(out)
    # prepared again from fewer actors: new shards renamed into place, a new index
    source = os.path.join(os.path.dirname(two_corpora["crema"]), "..", "CREMA-D")
    assert prepare.main(["--corpus", "crema-d", "--source", source, "--out", crema,
                         "--label-set", "cross4", "--overwrite", "--quiet",
                         "--shard-size", "8"]) == 0
    assert prepare.main(["--combine", crema, two_corpora["podcast"], "--out", out,
                         "--quiet"]) == 0
    again = PreparedCorpus.open(out)
    assert again.digest() != first.digest()
    again.verify("checksum")  # no stale link kept
    assert sorted(n for n in os.listdir(out) if n.endswith(".tfrecord")) == sorted(
        s["file"] for s in again.shards)  # the earlier combination's other shards gone
    os.remove(os.path.join(out, "manifest.json"))  # as a kill before the manifest leaves it
    assert prepare.main(["--combine", crema, two_corpora["podcast"], "--out", out,
                         "--quiet"]) == 0
    assert PreparedCorpus.open(out).digest() == again.digest()


@pytest.mark.slow
def test_data_dir_twice_audits_the_combination_corpus_by_corpus(two_corpora, tmp_path):
    from experiments import audit

    report = tmp_path / "audit.json"
    assert audit.main(["--data-dir", two_corpora["crema"], "--data-dir",
                       two_corpora["podcast"], "--protocol", "speaker-folds",
                       "--speaker-folds", "2", "--json", str(report)]) == 0
    assert os.path.exists(os.path.join(os.path.dirname(two_corpora["crema"]),
                                       "crema+podcast", "manifest.json"))
    for block in json.load(open(report))["folds"]:
        assert set(block["per_corpus"]) == {"crema-d", "msp-podcast"}
        assert all(b["train_test"]["speakers"] == 0 for b in block["per_corpus"].values())


def test_corpora_with_other_classes_or_shared_speakers_are_refused(tmp_path):
    from mer_tf.data.combine import _check

    class Member:
        def __init__(self, name, classes, speakers):
            self.data_dir, self.classes = name, classes
            self.index = [{"speaker": s, "utterance_id": f"{name}-{s}"} for s in speakers]

    with pytest.raises(ValueError, match="prepare each with --label-set cross4"):
        _check([Member("a", ("ang", "sad"), ["x"]), Member("b", ("angry", "sad"), ["y"])])
    with pytest.raises(ValueError, match="speaker 'x' is in both a and b"):
        _check([Member("a", ("sad",), ["x"]), Member("b", ("sad",), ["x"])])


def test_ratings_outside_the_corpus_scale_are_unrated_not_ratings():
    import tensorflow as tf

    from mer_tf.data.targets import unit_scaler

    scale = unit_scaler({"a": (1.0, 5.0), "b": (1.0, 5.0)})  # one scale: no lookup
    np.testing.assert_allclose(scale(tf.constant([2.0, 3.0, 5.0]), "a").numpy(),
                               [0.5, 0.25, 1.0])  # (valence, arousal, dominance) in
    assert np.isnan(scale(tf.constant([0.0, 0.0, 0.0]), "a").numpy()).all()  # older zeros
    mixed = unit_scaler({"a": (1.0, 5.0), "b": (1.0, 7.0), "c": None})
    np.testing.assert_allclose(mixed(tf.constant([7.0, 4.0, 1.0]), tf.constant("b")).numpy(),
                               [0.5, 1.0, 0.0])
    assert np.isnan(mixed(tf.constant([3.0, 3.0, 3.0]), tf.constant("c")).numpy()).all()
    assert np.isnan(mixed(tf.constant([3.0, 3.0, 3.0]), tf.constant("z")).numpy()).all()
