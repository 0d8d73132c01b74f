"""wav2vec2 / HuBERT / WavLM in Keras against transformers' own outputs (fixtures made by
tests/fixtures/make_hf_speech.py in a scratch env; torch is not needed here)."""

import json
import os
import shutil

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

from mer_tf.models.speech.hf_checkpoint import load_hf_speech_checkpoint  # noqa: E402
from tests import helpers  # noqa: E402

pytestmark = pytest.mark.slow  # builds a corpus, a backbone or a run

FIXTURES = os.path.join(helpers.FIXTURES, "hf_speech")
NAMES = ("wav2vec2_base", "wav2vec2_large", "hubert_base", "wavlm_base", "wavlm_large")
ATOL = 1e-4


def _data(name):
    folder = os.path.join(FIXTURES, name)
    load = lambda f: dict(np.load(os.path.join(folder, f)))  # noqa: E731
    return folder, load("inputs.npz"), load("expected.npz")


def _reference(expected, prefix, k, num_layers):
    return expected[f"{prefix}_last"] if k == num_layers else expected[f"{prefix}_hidden_{k}"]


def _max_diff_vs_hf(out, expected, mode):
    """Max |ours - HF| over every hidden state and every sequence's valid frames.

    mode "single": HF ran each sequence alone, unpadded (row 0 has no padding: the batch run);
    mode "batch": HF ran the padded batch with attention_mask."""
    hidden = [np.asarray(h) for h in out["hidden_states"]]
    num_layers = len(hidden) - 1
    lengths = expected["frame_lengths"]
    worst = 0.0
    for k in range(num_layers + 1):
        for b, n in enumerate(lengths):
            prefix = "batch" if mode == "batch" or b == 0 else f"single{b}"
            ref = _reference(expected, prefix, k, num_layers)
            ref = ref[b, :n] if prefix == "batch" else ref[0]
            assert ref.shape == hidden[k][b, :n].shape
            worst = max(worst, float(np.abs(hidden[k][b, :n] - ref).max()))
    return worst


@pytest.mark.parametrize("name", NAMES)
def test_every_hidden_state_matches_transformers(name):
    folder, inputs, expected = _data(name)
    cfg = json.load(open(os.path.join(folder, "config.json")))
    backbone = load_hf_speech_checkpoint(folder)
    out = backbone(inputs["waveforms"], inputs["padding_mask"])
    assert len(out["hidden_states"]) == cfg["num_hidden_layers"] + 1
    frame_mask = np.asarray(out["frame_mask"])
    np.testing.assert_array_equal(frame_mask.sum(axis=1), expected["frame_lengths"])
    assert frame_mask.shape[1] == expected["batch_hidden_0"].shape[1]
    for h in out["hidden_states"]:  # padded frames are zeroed
        assert not np.asarray(h)[~frame_mask].any()
    # default: each sequence as HF computes it alone, unpadded
    assert _max_diff_vs_hf(out, expected, "single") < ATOL
    # no padding-dependent statistics: also HF's padded batch
    if cfg["feat_extract_norm"] == "layer":
        assert _max_diff_vs_hf(out, expected, "batch") < ATOL
    # mask_group_norm=False: HF's padded batch run with attention_mask, for every family
    hf_batch = load_hf_speech_checkpoint(folder, mask_group_norm=False)
    assert _max_diff_vs_hf(hf_batch(inputs["waveforms"], inputs["padding_mask"]), expected,
                           "batch") < ATOL


@pytest.mark.parametrize("name", NAMES)
def test_feature_extractor_normalization_in_the_graph(name):
    """The fixtures' expectations are HF's feature extractor + model; `do_normalize` comes from
    preprocessor_config.json, and the model alone on HF's normalized input agrees too."""
    from mer_tf.models.speech.wav2vec2_encoder import zero_mean_unit_var_norm

    folder, inputs, expected = _data(name)
    do_normalize = json.load(open(os.path.join(folder, "preprocessor_config.json")))["do_normalize"]
    backbone = load_hf_speech_checkpoint(folder)
    assert backbone.normalize_waveforms is do_normalize
    lengths = inputs["padding_mask"].sum(axis=1).astype(np.int32)
    if do_normalize:
        ours = np.asarray(zero_mean_unit_var_norm(inputs["waveforms"], lengths))
        np.testing.assert_allclose(ours, inputs["hf_input_values"], atol=1e-5)
    else:
        np.testing.assert_array_equal(inputs["waveforms"], inputs["hf_input_values"])
    plain = load_hf_speech_checkpoint(folder, normalize_waveforms=False)
    assert _max_diff_vs_hf(plain(inputs["hf_input_values"], inputs["padding_mask"]), expected,
                           "single") < ATOL


@pytest.mark.parametrize("name", ("wav2vec2_base", "wavlm_large"))
def test_unequal_lengths_equal_each_sequence_alone(name):
    folder, inputs, expected = _data(name)
    backbone = load_hf_speech_checkpoint(folder)
    waves = inputs["waveforms"].copy()
    waves[inputs["padding_mask"] == 0] = 7.0  # what lies in the padding must not matter
    batch = backbone(waves, inputs["padding_mask"])
    for b, n in enumerate(inputs["padding_mask"].sum(axis=1)):
        alone = backbone(waves[b:b + 1, :n])
        frames = int(np.asarray(alone["frame_mask"]).sum())
        assert frames == expected["frame_lengths"][b]
        for hb, ha in zip(batch["hidden_states"], alone["hidden_states"]):
            np.testing.assert_allclose(np.asarray(hb)[b, :frames], np.asarray(ha)[0], atol=1e-5)


def test_sequences_shorter_than_one_frame_stay_finite():
    folder, inputs, _ = _data("wav2vec2_base")
    backbone = load_hf_speech_checkpoint(folder)
    mask = np.zeros_like(inputs["padding_mask"])
    mask[0, :] = 1
    mask[1, :12] = 1  # under the 10 + 5 * 2 samples one frame needs; row 2 empty
    out = backbone(inputs["waveforms"], mask)
    np.testing.assert_array_equal(np.asarray(out["frame_mask"]).sum(axis=1), [399, 0, 0])
    assert all(np.isfinite(np.asarray(h)).all() for h in out["hidden_states"])


@pytest.mark.parametrize("name", ("wav2vec2_base", "wavlm_base"))
def test_xla_compiled_gives_the_same(name):
    folder, inputs, _ = _data(name)
    backbone = load_hf_speech_checkpoint(folder)
    eager = backbone(inputs["waveforms"], inputs["padding_mask"])
    compiled = tf.function(lambda w, m: backbone(w, m), jit_compile=True)(
        tf.constant(inputs["waveforms"]), tf.constant(inputs["padding_mask"]))
    np.testing.assert_array_equal(np.asarray(compiled["frame_mask"]),
                                  np.asarray(eager["frame_mask"]))
    for a, b in zip(compiled["hidden_states"], eager["hidden_states"]):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


@pytest.mark.parametrize("name", ("wav2vec2_base", "wavlm_base"))
def test_mixed_bfloat16_runs_and_stays_near_float32(name):
    """The padding mask and the WavLM bias stay float32 when Keras casts call inputs to
    bfloat16 (TensorFlow refuses to add the two dtypes; JAX silently promotes)."""
    import keras

    folder, inputs, _ = _data(name)
    reference = load_hf_speech_checkpoint(folder)(inputs["waveforms"], inputs["padding_mask"])
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = load_hf_speech_checkpoint(folder)(inputs["waveforms"], inputs["padding_mask"])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for a, b in zip(mixed["hidden_states"], reference["hidden_states"]):
        assert a.dtype == tf.bfloat16
        a, b = np.asarray(tf.cast(a, tf.float32)), np.asarray(b)
        assert np.isfinite(a).all()
        assert np.abs(a - b).max() < 0.05 * np.abs(b).max()  # bfloat16 keeps ~3 digits


def test_saved_model_round_trip_with_dynamic_length(tmp_path):
    folder, inputs, expected = _data("wavlm_base")
    backbone = load_hf_speech_checkpoint(folder)
    module = tf.Module()
    module.backbone = backbone
    module.serve = tf.function(lambda w, m: backbone(w, m), input_signature=[
        tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, None], tf.int32)])
    tf.saved_model.save(module, str(tmp_path / "sm"))
    restored = tf.saved_model.load(str(tmp_path / "sm"))
    for cut in (4000, 2500):  # two lengths through the one dynamic signature
        w, m = inputs["waveforms"][:, :cut], np.minimum(inputs["padding_mask"][:, :cut], 1)
        ours, back = backbone(w, m), restored.serve(tf.constant(w), tf.constant(m))
        for a, b in zip(ours["hidden_states"], back["hidden_states"]):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    served = restored.serve(tf.constant(inputs["waveforms"]), tf.constant(inputs["padding_mask"]))
    assert _max_diff_vs_hf(served, expected, "single") < ATOL


def test_keras_serialization_round_trip(tmp_path):
    folder, inputs, _ = _data("wav2vec2_large")
    backbone = load_hf_speech_checkpoint(folder)
    backbone.save(str(tmp_path / "b.keras"))
    restored = keras.saving.load_model(str(tmp_path / "b.keras"))
    assert restored.get_config()["config"] == backbone.get_config()["config"]
    a, b = backbone(inputs["waveforms"], inputs["padding_mask"]), restored(inputs["waveforms"],
                                                                           inputs["padding_mask"])
    for x, y in zip(a["hidden_states"], b["hidden_states"]):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=1e-6)


def test_the_positional_convolution_by_group_equals_one_grouped_convolution():
    """Values and gradients: the per-group form (TensorFlow's CPU gradient of a grouped
    convolution is ~30x slower) is the same function as `ops.conv` with groups."""
    from mer_tf.models.speech.wav2vec2_layers import grouped_conv1d

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, 40, 12)).astype("float32"))
    kernel = tf.constant(rng.normal(size=(9, 3, 12)).astype("float32"))
    results = []
    for conv in (lambda x, k: keras.ops.conv(x, k), lambda x, k: grouped_conv1d(x, k, 4)):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            y = conv(x, kernel)
            loss = tf.reduce_sum(y * tf.range(12, dtype="float32"))
        results.append([y, *tape.gradient(loss, [x, kernel])])
    for ours, reference in zip(results[1], results[0]):
        np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=1e-5)


def test_feature_encoder_frozen_by_default():
    folder, _, _ = _data("wav2vec2_base")
    frozen = load_hf_speech_checkpoint(folder)
    free = load_hf_speech_checkpoint(folder, freeze_feature_encoder=False)
    encoder_vars = {id(v) for v in frozen.feature_encoder.weights}
    assert encoder_vars and not encoder_vars & {id(v) for v in frozen.trainable_weights}
    assert len(free.trainable_weights) == len(frozen.trainable_weights) + len(encoder_vars)


def _copy(tmp_path, name, edit=None, config_edit=None):
    src, dst = os.path.join(FIXTURES, name), tmp_path / name
    shutil.copytree(src, dst)
    if edit is not None:
        tensors = safetensors_numpy.load_file(str(dst / "model.safetensors"))
        safetensors_numpy.save_file(edit(tensors), str(dst / "model.safetensors"))
    if config_edit is not None:
        cfg = json.load(open(dst / "config.json"))
        config_edit(cfg)
        json.dump(cfg, open(dst / "config.json", "w"))
    return str(dst)


def _with(tensors, **changes):
    out = dict(tensors)
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            out.pop(key)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("edit, key", [
    (lambda t: {**t, "encoder.layers.0.attention.extra.weight": np.zeros(3, np.float32)},
     "encoder.layers.0.attention.extra.weight"),
    (lambda t: _with(t, encoder__layers__1__feed_forward__output_dense__weight=np.zeros(
        (16, 31), np.float32)),
     "encoder.layers.1.feed_forward.output_dense.weight"),
    (lambda t: _with(t, encoder__layers__0__attention__rel_attn_embed__weight=None),
     "encoder.layers.0.attention.rel_attn_embed.weight"),
    (lambda t: _with(t, **{
        "encoder__pos_conv_embed__conv__parametrizations__weight__original1": None}),
     "encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
])
def test_bad_checkpoint_names_the_key_and_file(tmp_path, edit, key):
    folder = _copy(tmp_path, "wavlm_base", edit=edit)
    with pytest.raises(ValueError) as err:
        load_hf_speech_checkpoint(folder)
    assert key in str(err.value) and "model.safetensors" in str(err.value)


def test_unsupported_model_type_names_file_and_field(tmp_path):
    folder = _copy(tmp_path, "hubert_base",
                   config_edit=lambda c: c.update(model_type="data2vec-audio"))
    with pytest.raises(ValueError, match=r"config\.json.*'model_type'.*data2vec-audio"):
        load_hf_speech_checkpoint(folder)


def test_old_weight_norm_names_and_head_checkpoints_load(tmp_path):
    """weight_g/weight_v (older torch) and a `wavlm.`-prefixed checkpoint with a CTC head."""
    base = "encoder.pos_conv_embed.conv."

    def old_style_with_head(t):
        t = dict(t)
        t[base + "weight_g"] = t.pop(base + "parametrizations.weight.original0")
        t[base + "weight_v"] = t.pop(base + "parametrizations.weight.original1")
        t = {f"wavlm.{k}": v for k, v in t.items()}
        t["lm_head.weight"] = np.zeros((5, 16), np.float32)
        return t

    name = "wavlm_large"
    _, inputs, expected = _data(name)
    folder = _copy(tmp_path, name, edit=old_style_with_head)
    out = load_hf_speech_checkpoint(folder)(inputs["waveforms"], inputs["padding_mask"])
    assert _max_diff_vs_hf(out, expected, "single") < ATOL


# --- Whisper: keras-hub's encoder from raw waveforms -------------------------------------------

WHISPER_SECONDS = 2  # a tiny window; released checkpoints use 30 s (3000 mel frames)


@pytest.fixture(scope="module")
def whisper_preset(tmp_path_factory):
    """A tiny random Whisper preset written the way keras-hub writes presets."""
    from mer_tf.testing.speech_presets import save_tiny_whisper_preset

    return save_tiny_whisper_preset(str(tmp_path_factory.mktemp("whisper_tiny")),
                                    seconds=WHISPER_SECONDS)


def _whisper_inputs():
    rng = np.random.default_rng(5)
    waves = (0.3 * rng.standard_normal((3, 24000))).astype(np.float32)
    mask = np.zeros(waves.shape, np.int32)
    for b, n in enumerate((24000, 20000, 9000)):
        mask[b, :n] = 1
    return waves, mask


def test_whisper_encoder_matches_keras_hub_backbone(whisper_preset):
    import keras_hub

    from mer_tf.models.speech.whisper import whisper_encoder_from_preset

    encoder = whisper_encoder_from_preset(whisper_preset)
    reference = keras_hub.models.WhisperBackbone.from_preset(whisper_preset)
    waves, mask = _whisper_inputs()
    out = encoder(waves, mask)
    hidden = [np.asarray(h) for h in out["hidden_states"]]
    assert len(hidden) == reference.num_layers + 1
    assert all(h.shape == (3, 100 * WHISPER_SECONDS // 2, 16) for h in hidden)
    # ceil(ceil(n/160)/2)
    np.testing.assert_array_equal(np.asarray(out["frame_mask"]).sum(axis=1), [75, 63, 29])
    features = np.asarray(encoder.features(waves, mask))
    expected = reference({"encoder_features": features,
                          "decoder_token_ids": np.ones((3, 4), np.int32),
                          "decoder_padding_mask": np.ones((3, 4), np.int32)})
    expected = expected["encoder_sequence_output"]
    np.testing.assert_allclose(np.asarray(encoder.encode(features)[-1]), np.asarray(expected),
                               atol=1e-5)
    np.testing.assert_allclose(hidden[-1], np.asarray(expected), atol=1e-5)
    # the intermediate states are the backbone's own encoder layers applied in turn
    layers = encoder.backbone.encoder_transformer_layers
    for k, layer in enumerate(layers):
        step = np.asarray(layer(hidden[k]))
        if k == len(layers) - 1:
            step = np.asarray(encoder.backbone.encoder_layer_norm(step))
        np.testing.assert_allclose(hidden[k + 1], step, atol=1e-5)
    # what lies in the padding does not matter; audio past the window is dropped
    noisy = np.where(mask == 1, waves, 5.0).astype(np.float32)
    np.testing.assert_allclose(np.asarray(encoder(noisy, mask)["hidden_states"][-1]), hidden[-1],
                               atol=1e-5)
    longer = np.concatenate([waves, waves], axis=1)[:, :16000 * WHISPER_SECONDS + 5000]
    assert np.asarray(encoder(longer)["hidden_states"][-1]).shape == hidden[-1].shape


def test_whisper_saved_model_takes_raw_waveforms(whisper_preset, tmp_path):
    from mer_tf.models.speech.whisper import whisper_encoder_from_preset

    encoder = whisper_encoder_from_preset(whisper_preset)
    module = tf.Module()
    module.encoder = encoder
    module.serve = tf.function(lambda w, m: encoder(w, m), input_signature=[
        tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, None], tf.int32)])
    tf.saved_model.save(module, str(tmp_path / "whisper_sm"))
    restored = tf.saved_model.load(str(tmp_path / "whisper_sm"))
    waves, mask = _whisper_inputs()
    for cut in (24000, 12000):
        w, m = waves[:, :cut], mask[:, :cut]
        ours, back = encoder(w, m), restored.serve(tf.constant(w), tf.constant(m))
        np.testing.assert_array_equal(np.asarray(back["frame_mask"]),
                                      np.asarray(ours["frame_mask"]))
        for a, b in zip(ours["hidden_states"], back["hidden_states"]):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-4)
