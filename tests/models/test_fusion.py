"""Towers and fusion: shapes, masking, fine-tuning the SavedModel's own weights,
loading BERT from local presets, every modality subset end to end."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from mer_tf.config import MODALITIES, MocapConfig, ModelConfig, SpeechConfig, TextConfig
from mer_tf.data.corpus import IEMOCAP_FACTS, DataFacts
from mer_tf.frames import frames_for_samples
from mer_tf.models.fusion import ModelBuilder
from mer_tf.models.layers import AttentionPooling, MaskedMeanPooling
from mer_tf.models.speech.tfhub import TFHubSpeechBackbone
from mer_tf.models.towers.bert import load_bert_backbone, load_text_preprocessor
from mer_tf.training.fold import compile_model
from tests.helpers import write_hf_bert_checkpoint

FRAMES, FEATURES, SEQ = 12, 9, 16
FACTS = DataFacts((("head", 3), ("hand", 3), ("rotated", 3)), 30.0, 200)  # 9 features


def _config(assets, modalities=MODALITIES, **speech):
    return ModelConfig(modalities=modalities,
                       speech=SpeechConfig(model=assets["speech"], **speech),
                       text=TextConfig(preset=assets["text"], sequence_length=SEQ),
                       mocap=MocapConfig(max_frames=FRAMES, width=16, heads=2, intermediate=32))


def _batch(assets, size=4, seed=0):
    rng = np.random.default_rng(seed)
    tokens = load_text_preprocessor(assets["text"], SEQ)(
        tf.constant(["so great i love it", "i hate this", "okay fine", "i miss you"][:size]))
    return {
        "waveform": rng.normal(0, 0.1, (size, 16000)).astype("float32"),
        "waveform_length": np.array([16000, 9000, 4000, 1200][:size], "int32"),
        **{k: v.numpy().astype("int32") for k, v in tokens.items()},
        "mocap": rng.normal(0, 1, (size, FRAMES, FEATURES)).astype("float32"),
        "mocap_mask": (np.arange(FRAMES)[None] < np.array([12, 7, 3, 1][:size])[:, None]
                       ).astype("int32"),
    }


def _builder(assets, modalities=MODALITIES, **speech):
    return ModelBuilder(_config(assets, modalities, **speech), FACTS)


@pytest.mark.slow
def test_wav2vec2_layer_reads_length_and_shape_from_the_signature(assets):
    backbone = TFHubSpeechBackbone(assets["speech"])
    assert (backbone.input_length, backbone.hidden_size) == (16000, 16 * 2)
    assert frames_for_samples(246000) == 768  # the TF-Hub model's 768 x 768 output
    states, mask = backbone(np.zeros((2, 16000), "float32"), np.array([16000, 4000], "int32"))
    frames = frames_for_samples(16000)
    assert tuple(states.shape) == (2, 1, frames, 32)  # the contract: [B, N, T, H], N = 1
    np.testing.assert_array_equal(np.sum(mask, axis=1), [frames, frames_for_samples(4000)])
    assert all(":" not in v.name and "/" not in v.name for v in backbone.weights)
    assert len(backbone.trainable_weights) == len(backbone._hub.trainable_variables) > 0


@pytest.mark.slow
def test_tower_output_shapes_and_frame_mask(assets):
    builder = _builder(assets)
    model = builder.model()
    assert model.output_shape == (None, 4)
    frames = frames_for_samples(16000)
    _, mask = builder.towers["speech"].backbone(np.zeros((3, 16000), "float32"),
                                                np.array([16000, 4000, 0], "int32"))
    assert mask.shape == (3, frames)
    np.testing.assert_array_equal(np.sum(mask, axis=1),
                                  [frames, frames_for_samples(4000), 0])
    readers = {r.modality: r for r in builder.readers()}
    assert (readers["speech"].length, readers["mocap"].frames) == (16000, FRAMES)
    assert builder.towers["text"].sequence_length == SEQ
    assert [r.modality for r in builder.readers(cached=("speech",))] == ["text", "mocap"]


@pytest.mark.parametrize("pool", [MaskedMeanPooling, AttentionPooling])
def test_padding_does_not_change_pooled_outputs(pool):
    layer = pool()
    x = np.random.default_rng(0).normal(size=(2, 6, 5)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], "int32")
    changed = x.copy()
    changed[mask == 0] = 1e3
    np.testing.assert_allclose(layer(x, mask), layer(changed, mask), rtol=1e-5)
    assert not np.allclose(layer(x, mask), layer(x, np.ones_like(mask)))


@pytest.mark.slow
def test_towers_ignore_padded_steps(assets):
    builder = _builder(assets, head="attention")
    speech = builder.towers["speech"]
    batch = _batch(assets)
    noisy = {k: v.copy() for k, v in batch.items()}
    noisy["mocap"][noisy["mocap_mask"] == 0] = 50.0
    pad = noisy["padding_mask"] == 0
    noisy["token_ids"][pad] = 7
    model = builder.model()
    np.testing.assert_allclose(model(batch, training=False), model(noisy, training=False),
                               rtol=1e-4, atol=1e-6)
    # The speech head pools only the frames that the valid samples made.
    states, mask = speech.backbone(batch["waveform"], batch["waveform_length"])
    altered = np.where(np.asarray(mask)[:, None, :, None] == 1, states, 99.0).astype("float32")
    head = lambda f: speech.head({"speech_frames": np.asarray(f),  # noqa: E731
                                  "speech_frame_mask": mask})  # states [B, 1, T, H]
    frames = states
    np.testing.assert_allclose(head(frames), head(altered), rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
@pytest.mark.parametrize("freeze", [False, True])
def test_one_step_changes_the_savedmodel_weights_only_when_trainable(assets, optimizer, freeze):
    builder = _builder(assets, ("speech",), freeze=freeze)
    model = builder.model()
    compile_model(model, keras.optimizers.get({"class_name": optimizer,
                                               "config": {"learning_rate": 1e-2}}))
    hub_variables = builder.towers["speech"].backbone._hub.trainable_variables
    before = [v.numpy().copy() for v in hub_variables]
    head_before = model.get_layer("speech_dense").kernel.numpy().copy()
    batch = _batch(assets)
    model.train_on_batch({k: batch[k] for k in ("waveform", "waveform_length")},
                         np.array([0, 1, 2, 3]))
    changed = sum(not np.array_equal(a, v.numpy()) for a, v in zip(before, hub_variables))
    if freeze:
        assert changed == 0
    else:
        assert changed >= len(before) - 2  # key biases have no gradient through softmax
    assert not np.array_equal(head_before, model.get_layer("speech_dense").kernel.numpy())


@pytest.mark.slow
def test_bert_loads_from_a_local_preset_and_a_hugging_face_directory(assets, tmp_path):
    backbone = load_bert_backbone(assets["text"])
    preprocessor = load_text_preprocessor(assets["text"], SEQ)
    vocabulary = preprocessor.tokenizer.get_vocabulary()
    hf_dir = write_hf_bert_checkpoint(backbone, vocabulary, str(tmp_path / "hf_bert"))
    from_hf = load_bert_backbone(hf_dir)
    hf_preprocessor = load_text_preprocessor(hf_dir, SEQ)
    texts = tf.constant(["I really love this wonderful day", "so sorry"])
    tokens = preprocessor(texts)
    np.testing.assert_array_equal(tokens["token_ids"], hf_preprocessor(texts)["token_ids"])
    np.testing.assert_allclose(backbone(tokens)["sequence_output"],
                               from_hf(tokens)["sequence_output"], rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="could not load the keras-hub preset"):
        load_bert_backbone(str(tmp_path / "no_such_preset"))


SUBSETS = [s for r in (1, 2, 3) for s in itertools.combinations(MODALITIES, r)]


@pytest.mark.slow
@pytest.mark.parametrize("modalities", SUBSETS, ids=["+".join(s) for s in SUBSETS])
def test_every_subset_trains_and_round_trips_through_keras_files(assets, modalities, tmp_path):
    model = _builder(assets, modalities).model()
    compile_model(model, keras.optimizers.Adam(1e-3))
    batch = _batch(assets)
    inputs = {name: batch[name] for name in model.input}
    labels = np.array([0, 1, 2, 3])
    losses = [model.train_on_batch(inputs, labels) for _ in range(2)]
    assert np.isfinite(losses).all()
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(model(inputs, training=False), loaded(inputs, training=False),
                               rtol=1e-6, atol=1e-7)
    names = {layer.name for layer in model.layers}
    assert ("wav2vec2" in names) == ("speech" in modalities)
    assert ("bert" in names) == ("text" in modalities)
    assert ("mocap_transformer_0" in names) == ("mocap" in modalities)


@pytest.mark.slow
def test_paper_heads_and_cnn_mocap_encoder(assets):
    config = ModelConfig(speech=SpeechConfig(model=assets["speech"], head="flatten"),
                         text=TextConfig(preset=assets["text"], sequence_length=SEQ),
                         mocap=MocapConfig(encoder="cnn", view="chunks"))
    builder = ModelBuilder(config, IEMOCAP_FACTS)
    model = builder.model()
    frames = frames_for_samples(16000)
    assert model.get_layer("speech_dense").count_params() == frames * 32 * 128 + 128
    assert model.get_layer("mocap_flatten").output.shape[-1] == 11 * 10 * 75
    batch = _batch(assets, size=2)
    inputs = {k: batch[k] for k in ("waveform", "waveform_length", "token_ids", "segment_ids",
                                    "padding_mask")}
    inputs["mocap"] = np.zeros((2, 200, 189), "float32")
    inputs["mocap_mask"] = np.ones((2, 200), "int32")
    probabilities = model.predict(inputs, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_cached_feature_model_shares_layers_with_the_raw_model(assets):
    config = _config(assets, ("speech", "text"), freeze=True)
    config = ModelConfig(modalities=config.modalities, speech=config.speech,
                         text=TextConfig(preset=assets["text"], sequence_length=SEQ, freeze=True))
    builder = ModelBuilder(config, FACTS)
    assert builder.cacheable() == ("speech", "text")
    batch = _batch(assets)
    raw = {k: batch[k] for k in builder.model().input}
    features = builder.feature_model(("speech", "text")).predict(raw, verbose=0)
    cached = builder.model(cached=("speech", "text"))
    np.testing.assert_allclose(cached.predict(features, verbose=0),
                               builder.model().predict(raw, verbose=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="frozen"):
        _builder(assets, ("speech",)).model(cached=("speech",))


@pytest.mark.parametrize("targets,outputs", [("classes", None), ("both", ["classes",
                                                                           "dimensions"]),
                                              ("dimensions", ["dimensions"])])
def test_the_heads_follow_the_targets(targets, outputs):
    config = ModelConfig(modalities=("mocap",), targets=targets,
                         mocap=MocapConfig(max_frames=8, width=16, heads=2, layers=1))
    model = ModelBuilder(config, IEMOCAP_FACTS).model()
    x = {"mocap": np.random.default_rng(0).normal(size=(2, 8, 189)).astype(np.float32),
         "mocap_mask": np.ones((2, 8), np.int32)}
    y = model(x)
    if outputs is None:  # classes alone: one tensor, as every earlier model
        assert tuple(y.shape) == (2, 4)
        return
    assert sorted(y) == outputs
    dims = np.asarray(y["dimensions"])
    assert dims.shape == (2, 3) and ((dims > 0) & (dims < 1)).all()  # sigmoid: on [0, 1]
    if "classes" in y:
        np.testing.assert_allclose(np.asarray(y["classes"]).sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="targets"):
        ModelConfig(targets="vad")
