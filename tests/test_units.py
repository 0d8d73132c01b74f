"""The fast tier's unit tests (`make test-fast`): flags and their overrides, presets,
config round trips, each layer's config round trip and output, and fold making on a
manifest and index alone. Nothing here builds a corpus, a backbone or a run."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from mer_tf.commands.flags import build_parser, flag_overrides, setting_fields
from mer_tf.commands.runner import given_flags
from mer_tf.config import (
    DataConfig,
    MocapConfig,
    ModelConfig,
    RunConfig,
    SpeechConfig,
    TrainConfig,
    check_choices,
    from_dict,
    presets,
    to_dict,
)
from mer_tf.config.presets import settings_of


def _given(*argv):
    parser = build_parser("x", "")
    return given_flags(parser, list(argv))


def test_only_the_flags_given_override_and_each_lands_on_its_field():
    given = _given("--speech-head", "flatten", "--folds", "4,5", "--no-export",
                   "--speech-feature-encoder", "trainable", "--freeze", "speech,text",
                   "--mixed-precision", "--learning-rate", "3e-4")
    assert set(given) == {"speech_head", "folds", "no_export", "speech_feature_encoder",
                          "freeze", "mixed_precision", "learning_rate"}
    overrides = flag_overrides(given)
    assert overrides["model"]["speech"] == {"head": "flatten", "freeze_feature_encoder": False,
                                            "freeze": True}
    assert overrides["model"]["text"] == {"freeze": True}
    assert overrides["data"] == {"folds": (4, 5)}
    assert overrides["train"] == {"export": False, "mixed_precision": "auto",
                                  "learning_rate": 3e-4}
    assert flag_overrides(_given()) == {"model": {}, "train": {}, "data": {}}
    with pytest.raises(ValueError, match="--freeze takes speech and/or text"):
        flag_overrides(_given("--freeze", "mocap"))


def test_every_declared_flag_parses_and_choices_are_enforced():
    flags = [f.metadata["flag"] for _, _, f in setting_fields()]
    assert len(flags) == len(set(flags)) > 30
    with pytest.raises(SystemExit):
        build_parser("x", "").parse_args(["--speech-head", "max"])
    with pytest.raises(ValueError, match="SpeechConfig.head must be one of mean, attention"):
        check_choices(SpeechConfig(head="max"))
    with pytest.raises(ValueError, match="TrainConfig.optimizer"):
        TrainConfig(optimizer="adagrad")
    with pytest.raises(ValueError, match="DataConfig.subset"):
        DataConfig("d", subset="some")


def test_presets_lay_over_the_defaults_and_overrides_over_presets():
    assert presets.merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}, "d": 4}) == {
        "a": {"b": 1, "c": 3}, "d": 4}
    demo = settings_of("demo")
    assert demo["model"]["mocap"]["max_frames"] == 96 and demo["train"]["batch_size"] == 16
    assert demo["model"]["mocap"]["width"] == MocapConfig().width  # not in the preset
    paper = presets.run_config("e", {"train": {"epochs": 3}}, run_dir="r", data_dir="d")
    assert (paper.train.epochs, paper.train.batch_size, paper.model.text.dropout) == (3, 5, 0.5)
    assert paper.data.data_dir == "d" and not paper.demo
    demo_run = presets.run_config("e", demo_assets={"data_dir": "demo", "speech": "s",
                                                    "text": "t"})
    assert demo_run.demo and demo_run.model.modality_dropout == 0.3
    assert (demo_run.data.data_dir, demo_run.model.speech.model) == ("demo", "s")
    assert demo_run.run_dir.startswith("runs/e/")  # the default run folder
    with pytest.raises(ValueError, match="needs demo_assets"):
        presets.run_config("e")
    with pytest.raises(ValueError, match="unknown preset"):
        presets.preset("huge")


def test_configs_round_trip_through_json():
    config = presets.run_config("concat", {"model": {"modalities": ["text", "speech"]},
                                           "data": {"folds": [4, 5], "protocol": "loso"}},
                                preset_name="demo", run_dir="runs/x", data_dir="data")
    assert config.model.modalities == ("speech", "text")  # canonical order
    again = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.data.folds == (4, 5)
    assert from_dict(ModelConfig, to_dict(ModelConfig())) == ModelConfig()
    assert config.model.class_names == ()  # the corpus's, filled in when training opens it
    assert config.with_classes(("a", "b")).model.class_names == ("a", "b")
    named = dataclasses.replace(config, model=dataclasses.replace(config.model,
                                                                  class_names=("x",)))
    with pytest.raises(ValueError, match=r"the data's classes \['a'\] differ"):
        named.with_classes(("a",))


def test_a_setting_no_longer_known_is_refused_by_its_name(tmp_path):
    """A renamed or misspelt key of config.json never falls back to a default silently."""
    config = presets.run_config("e", data_dir="d", run_dir=str(tmp_path))
    stored = config.to_dict()
    stored["model"]["speech"]["handle"] = stored["model"]["speech"].pop("model")
    with pytest.raises(ValueError, match="unknown setting model.speech.handle"):
        RunConfig.from_dict(stored)
    config.save()
    text = open(tmp_path / "config.json").read().replace('"dropout"', '"drop_out"', 1)
    open(tmp_path / "config.json", "w").write(text)
    with pytest.raises(ValueError, match=r"config.json: unknown setting model\.\w+\.drop_out"):
        RunConfig.load(str(tmp_path))


LAYERS = [
    ("MaskedMeanPooling", {}, [(2, 5, 3), (2, 5)], (2, 3)),
    ("MaskedCentering", {}, [(2, 5, 3), (2, 5)], (2, 5, 3)),
    ("MaskedStatisticsPooling", {}, [(2, 5, 3), (2, 5)], (2, 6)),
    ("AttentionPooling", {}, [(2, 5, 3), (2, 5)], (2, 3)),
    ("FirstToken", {}, [(2, 5, 3)], (2, 3)),
    ("ImputeAndNormalize", {"mean": [0.0, 1.0, 2.0], "variance": [1.0, 4.0, 1.0]},
     [(2, 5, 3)], (2, 5, 3)),
]


@pytest.mark.parametrize("name,kwargs,shapes,output", LAYERS, ids=[row[0] for row in LAYERS])
def test_each_layer_round_trips_its_config_and_gives_its_shape(name, kwargs, shapes, output):
    from mer_tf.models import layers

    layer = getattr(layers, name)(**kwargs)
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=s).astype("float32") if len(s) == 3 else
              np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32") for s in shapes]
    result = layer(*inputs)
    assert tuple(result.shape) == output
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    clone(*inputs)  # built; then the same weights (attention pooling has some)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(*inputs), result, rtol=1e-6)


def test_state_layers_mix_and_pool_as_their_docstrings_say():
    from mer_tf.models.speech.states import LayerMix, MaskedStateMeans

    states = np.random.default_rng(1).normal(size=(2, 3, 4, 5)).astype("float32")  # B N T H
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], "int32")
    np.testing.assert_allclose(LayerMix("last")(states), states[:, -1])
    weighted = LayerMix("weighted")
    np.testing.assert_allclose(weighted(states), states.mean(axis=1), rtol=1e-5)  # equal start
    means = MaskedStateMeans()(states, mask)
    np.testing.assert_allclose(means[0], states[0, :, :2].mean(axis=1), rtol=1e-5)
    # the weighted sum of the means is the mean of the weighted sum (the cache relies on it)
    np.testing.assert_allclose(weighted(means), MaskedStateMeans()(
        weighted(states)[:, None], mask)[:, 0], rtol=1e-5)
    clone = LayerMix.from_config(weighted.get_config())
    assert clone.mode == "weighted"
    with pytest.raises(ValueError, match="last or weighted"):
        LayerMix("sum")


def test_the_frame_geometry_is_the_published_one():
    from mer_tf.frames import RECEPTIVE_FIELD, frames_for_samples

    assert frames_for_samples(246000) == 768 and frames_for_samples(16000) == 49
    assert RECEPTIVE_FIELD == 400 and frames_for_samples(400) == 1 > frames_for_samples(399)
    lengths = np.array([16000, 400, 8000])
    assert list(frames_for_samples(lengths)) == [49, 1, 24]


def _tiny_corpus(tmp_path):
    """A manifest and an utterance index, as preparation writes them, and no shards."""
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
                             "label": i % 4, "text": text})
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


def test_a_full_disk_is_one_line_whichever_layer_says_it(capsys):
    """Python says ENOSPC with an OSError, tf.io.gfile with ResourceExhaustedError; an
    accelerator's out-of-memory (also ResourceExhaustedError) stays a traceback."""
    import errno

    import tensorflow as tf

    from mer_tf.commands.runner import USAGE_EXIT_CODE, reported_as_one_line

    for error in (OSError(errno.ENOSPC, "No space left on device"),
                  tf.errors.ResourceExhaustedError(None, None, "runs/x/checkpoint.tmp; No "
                                                               "space left on device")):
        with pytest.raises(SystemExit) as stopped, reported_as_one_line():
            raise error
        assert stopped.value.code == USAGE_EXIT_CODE
        assert capsys.readouterr().err.startswith("error: the disk is full: ")
    with pytest.raises(tf.errors.ResourceExhaustedError), reported_as_one_line():
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")


def test_length_batches_group_similar_lengths_and_cover_every_row_once():
    from mer_tf.training.feature_cache import LENGTH_SPREAD, length_batches

    rng = np.random.default_rng(0)
    lengths = rng.integers(8000, 120000, 300)
    batches = length_batches(lengths, 16)
    rows = np.concatenate(batches)
    assert sorted(rows) == list(range(300))  # every row once
    assert all(1 <= len(b) <= 16 for b in batches)
    assert all(lengths[b].max() <= LENGTH_SPREAD * lengths[b].min() for b in batches)
    assert np.mean([len(b) for b in batches]) > 8  # a full window still fills its batches
    padded = sum(len(b) * lengths[b].max() for b in batches)
    assert padded < LENGTH_SPREAD * lengths.sum()  # what the cut batches compute
    assert [list(b) for b in length_batches(np.array([5, 50, 5, 0]), 4)] == [[3], [0, 2], [1]]


def test_a_long_confusion_matrix_title_stays_inside_the_figure():
    """The run's title (experiment, folder, fold, UA, best epoch) is wider than the figure;
    it was cut off on the left."""
    from mer_tf.evaluation.plots import confusion_figure

    title = "concat/20261207-120000/session5 (speech+text+mocap): test UA 0.847, best epoch 14"
    figure = confusion_figure(np.eye(4, dtype=int) * 5, ["ang", "exc", "neu", "sad"], title)
    figure.canvas.draw()
    box = figure.axes[0].title.get_window_extent(figure.canvas.get_renderer())
    assert 0 <= box.x0 and box.x1 <= figure.bbox.width
    assert figure.axes[0].get_title().replace("\n", " ") == title


def test_turn_rows_give_times_to_the_millisecond():
    from mer_tf.serving.timeline import TurnPrediction, rows_as_jsonl

    row = TurnPrediction(13.049999999999999, 14.200000000000001, None, None, "neu",
                         {"neu": 1.0}, [])
    assert json.loads(rows_as_jsonl([row]))["start"] == 13.05
    assert '"start": 13.05, "end": 14.2,' in rows_as_jsonl([row])
