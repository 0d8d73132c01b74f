"""The tf.data pipeline: shapes and masks per modality subset, honest splits."""

import itertools

import numpy as np
import pytest

from mer_tf.config import DataConfig
from mer_tf.data.corpus import PreparedCorpus, Split
from mer_tf.data.pipeline import masked_moments
from mer_tf.data.readers import MocapReader, TextReader, WaveformReader
from mer_tf.models.towers.bert import load_text_preprocessor
from mer_tf.training.splits import make_folds
from tests.helpers import records

pytestmark = pytest.mark.slow  # builds a corpus, a backbone or a run

STREAMS = (("head", 6), ("hand", 18), ("rotated", 165))  # the synthetic widths
SUBSETS = [s for r in (1, 2, 3) for s in itertools.combinations(("speech", "text", "mocap"), r)]


def _mocap(view="frames"):
    return MocapReader(view, 24 if view == "frames" else 200, STREAMS)


def _readers(modalities, assets=None):
    made = {"speech": lambda: WaveformReader(12000),
            "text": lambda: TextReader(load_text_preprocessor(assets["text"], 16)),
            "mocap": _mocap}
    return [made[m]() for m in modalities]


@pytest.mark.parametrize("modalities", SUBSETS, ids=["+".join(s) for s in SUBSETS])
def test_batches_are_shaped_and_masked_for_every_subset(prepared, assets, modalities):
    data_dir, manifest = prepared
    by_id = {r["utterance_id"]: r for r in records(data_dir, manifest)}
    dataset = PreparedCorpus(*prepared).dataset(Split((1, 2)), _readers(modalities, assets), 4,
                                                training=False, with_metadata=True)
    expected = {"speech": {"waveform", "waveform_length"},
                "text": {"token_ids", "segment_ids", "padding_mask"},
                "mocap": {"mocap", "mocap_mask"}}
    seen = 0
    for inputs, labels, meta in dataset:
        assert set(inputs) == set().union(*(expected[m] for m in modalities))
        for i, uid in enumerate(meta["utterance_id"].numpy()):
            record = by_id[uid.decode()]
            assert labels[i] == record["label"]
            if "speech" in modalities:
                n = min(record["audio"].size, 12000)
                assert inputs["waveform"].shape[1:] == (12000,)
                assert inputs["waveform_length"][i] == n
                np.testing.assert_allclose(inputs["waveform"][i, :n], record["audio"][:n] / 32768)
                assert not np.any(inputs["waveform"][i, n:])
            if "text" in modalities:
                mask = inputs["padding_mask"][i].numpy()
                assert inputs["token_ids"].shape[1:] == (16,)
                assert mask[0] == 1 and np.all(inputs["token_ids"][i].numpy()[mask == 0] == 0)
            if "mocap" in modalities:
                frames = min(record["mocap/num_frames"], 24)
                assert inputs["mocap"].shape[1:] == (24, 189)
                assert inputs["mocap_mask"][i].numpy().sum() == frames
                rotated = inputs["mocap"][i, :frames, 24:].numpy()
                present = record["mocap/rotated/present"][:frames]
                assert np.array_equal(np.isnan(rotated), ~present)
                assert not np.any(inputs["mocap"][i, frames:])
        seen += len(labels)
    assert seen == sum(manifest["sessions"][s]["utterances"] for s in ("1", "2"))


def test_chunks_view_is_the_papers_200_by_189(prepared):
    inputs, _ = next(iter(PreparedCorpus(*prepared).dataset(Split((1,)), [_mocap("chunks")], 2,
                                                            training=False)))
    assert inputs["mocap"].shape == (2, 200, 189) and inputs["mocap_mask"].shape == (2, 200)


@pytest.mark.parametrize("protocol,validation", [("session5", "speaker"), ("loso", "speaker"),
                                                 ("session5", "stratified")])
def test_splits_never_mix_sessions_or_validation_and_test(prepared, protocol, validation):
    corpus = PreparedCorpus(*prepared)
    folds = make_folds(DataConfig(corpus.data_dir, protocol=protocol, validation=validation),
                       corpus)
    assert len(folds) == (5 if protocol == "loso" else 1)
    for fold in folds:
        assert not set(fold.train_sessions) & set(fold.test_sessions)

        def ids(split):
            found = []
            for _, _, meta in corpus.dataset(split, [_mocap()], 8, training=False,
                                             with_metadata=True):
                found += [(u.decode(), int(s), p.decode()) for u, s, p in zip(
                    meta["utterance_id"].numpy(), meta["session"].numpy(),
                    meta["speaker"].numpy())]
            return found

        train = ids(fold.train_split())
        valid = ids(fold.validation_split())
        test = ids(fold.test_split())
        assert (len(train), len(valid), len(test)) == tuple(
            corpus.count(s) for s in (fold.train_split(), fold.validation_split(),
                                      fold.test_split()))
        assert {s for _, s, _ in train} <= set(fold.train_sessions)
        assert {s for _, s, _ in valid} <= set(fold.train_sessions)
        assert {s for _, s, _ in test} == set(fold.test_sessions)
        assert valid and not {u for u, _, _ in train} & {u for u, _, _ in valid}
        all_train = {r["utterance_id"] for r in corpus.rows(Split(fold.train_sessions))}
        assert {u for u, _, _ in train} | {u for u, _, _ in valid} == all_train
        if validation == "speaker":
            assert {p for _, _, p in valid} == set(fold.validation_speakers)
            assert not {p for _, _, p in train} & set(fold.validation_speakers)
            assert fold.validation_speakers[0][3:5] == f"{max(fold.train_sessions):02d}"


def test_training_shuffle_is_seeded_and_padding_keeps_every_example(prepared):
    corpus = PreparedCorpus(*prepared)
    manifest = corpus.manifest

    def order(seed):
        dataset = corpus.dataset(Split((1, 2, 3)), [_mocap()], 4, training=True, seed=seed,
                                 with_metadata=True)
        return [u for _, _, m in dataset for u in m["utterance_id"].numpy()]

    assert order(1) == order(1) and order(1) != order(2)
    n = manifest["sessions"]["5"]["utterances"]
    padded = corpus.dataset(Split((5,)), [_mocap()], 4, training=False, with_metadata=True,
                            pad_final_batch=True, num_examples=n)
    batches = list(padded)
    assert len(batches) == -(-n // 4) == padded.cardinality().numpy()
    assert all(b[1].shape[0] == 4 for b in batches)
    assert sum(int(b[2]["valid"].numpy().sum()) for b in batches) == n


def test_mocap_statistics_come_from_the_training_split_only(prepared):
    data_dir, manifest = prepared
    corpus = PreparedCorpus(*prepared)
    mean, variance = masked_moments(corpus, Split((1, 2, 3, 4), exclude_speakers=("Ses04F",)),
                                    _mocap(), "mocap", "mocap_mask")
    rows = [r for r in records(data_dir, manifest)
            if r["session"] <= 4 and r["speaker"] != "Ses04F"]
    frames = np.concatenate([np.where(np.concatenate([r[f"mocap/{s}/present"] for s, _ in STREAMS],
                                                     axis=1)[:24],
                                      np.concatenate([r[f"mocap/{s}/values"] for s, _ in STREAMS],
                                                     axis=1)[:24], np.nan) for r in rows])
    np.testing.assert_allclose(mean, np.nanmean(frames, axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(variance, np.nanvar(frames, axis=0), rtol=1e-4, atol=1e-6)
    everything, _ = masked_moments(corpus, Split((1, 2, 3, 4, 5)), _mocap(), "mocap",
                                   "mocap_mask")
    assert not np.allclose(mean, everything)


def test_fillers_weigh_nothing_in_validation_loss_and_metrics(prepared):
    """Static shapes pad the last batch with copies of the first utterance; Keras'
    val_loss, val_accuracy and val_ua must be those of the real utterances alone."""
    import keras

    from mer_tf.config import MocapConfig, ModelConfig
    from mer_tf.evaluation.metrics import UnweightedAccuracy
    from mer_tf.models.fusion import ModelBuilder
    from mer_tf.training.fold import compile_model

    corpus = PreparedCorpus(*prepared)
    count = corpus.count(Split((5,)))
    batch = 8 if count % 8 else 7
    assert count % batch  # there are fillers to ignore
    keras.utils.set_random_seed(0)
    config = ModelConfig(modalities=("mocap",), mocap=MocapConfig(max_frames=24, width=16,
                                                                  heads=2, intermediate=32))
    model = ModelBuilder(config, corpus.facts).model()
    compile_model(model, "adam",  # as the trainer compiles
                  weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                                    UnweightedAccuracy(4)])
    plain = corpus.dataset(Split((5,)), [_mocap()], batch, training=False)
    padded = corpus.dataset(Split((5,)), [_mocap()], batch, training=False,
                            pad_final_batch=True, weight_fillers=True, num_examples=count)
    assert sum(int(x["mocap"].shape[0]) for x, _, _ in padded) > count
    np.testing.assert_allclose(model.evaluate(padded, verbose=0),
                               model.evaluate(plain, verbose=0), rtol=1e-5)
