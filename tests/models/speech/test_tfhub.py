"""The speech tower on TF-Hub wav2vec2 SavedModels in both forms they were published in.

`tests/fixtures/gsoc_wav2vec2_<form>/` were written by the producer's own code
(`tests/fixtures/make_gsoc_wav2vec2.py`, vasudevgupta7/gsoc-wav2vec2 at be82ca1 and
9f32c77, tiny random weights); the stand-ins the demo and the other tests build must
have the same call structure.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from mer_tf.config import SpeechConfig
from mer_tf.data.corpus import IEMOCAP_FACTS
from mer_tf.models.speech.tfhub import TFHubSpeechBackbone, read_call_convention
from mer_tf.models.towers.speech import SpeechTower
from mer_tf.testing.wav2vec2_savedmodel import FORMS, TINY, save_wav2vec2
from mer_tf.training.fold import compile_model
from tests.helpers import FIXTURES  # noqa: E402

pytestmark = pytest.mark.slow  # builds a corpus, a backbone or a run


def published(form):
    return os.path.join(FIXTURES, f"gsoc_wav2vec2_{form}")


def call_structure(obj):
    """What a caller of the SavedModel sees, without sizes: traces, signatures, attributes."""
    traces = []
    for function in obj.__call__.concrete_functions:
        args, kwargs = function.structured_input_signature
        traces.append((tuple(f"tensor:{a.name}" if hasattr(a, "shape") else repr(a) for a in args),
                       tuple(sorted(kwargs)), function.structured_outputs.shape.rank))
    call_length = obj.__call__.concrete_functions[0].structured_input_signature[0][0].shape[-1]
    signatures = {}
    for name, signature in obj.signatures.items():
        _, kwargs = signature.structured_input_signature
        lengths = {k: v.shape[-1] for k, v in kwargs.items()}
        signatures[name] = (sorted(kwargs), sorted(signature.structured_outputs),
                            "same length" if set(lengths.values()) == {call_length}
                            else "other length")
    attributes = [a for a in ("variables", "trainable_variables", "regularization_losses")
                  if hasattr(obj, a)]
    return sorted(traces), signatures, attributes


@pytest.mark.parametrize("form", FORMS)
def test_stand_in_has_the_published_call_structure(form, tmp_path):
    real = tf.saved_model.load(published(form))
    ours = tf.saved_model.load(save_wav2vec2(str(tmp_path / form), TINY, form=form))
    assert call_structure(ours) == call_structure(real)


@pytest.mark.parametrize("form,takes_training", [("2021-07", False), ("2021-09", True)])
def test_published_forms_fine_tune_one_step(form, takes_training):
    """The upload's stale serving_default (50 000 samples) must not be used: 246 000 is."""
    tower = SpeechTower(SpeechConfig(model=published(form)), 8, IEMOCAP_FACTS)
    encoder = tower.backbone
    assert (encoder.input_length, tower.frames, encoder.hidden_size) == (246000, 768, 16)
    assert encoder.convention.takes_training is takes_training
    assert encoder.describe()["dropout_when_fine_tuning"] is takes_training
    raw = tower.raw_inputs()
    model = keras.Model(raw, keras.layers.Dense(4, activation="softmax")(
        tower.head(tower.features(raw))))
    compile_model(model, keras.optimizers.Adam(0.01))  # ~0.01 a step
    before = [np.array(v.numpy()) for v in encoder.trainable_weights]
    rng = np.random.default_rng(0)
    model.train_on_batch({"waveform": rng.normal(0, 0.1, (2, 246000)).astype("float32"),
                          "waveform_length": np.array([246000, 90000], "int32")},
                         np.array([0, 1]))
    changed = [not np.allclose(b, v.numpy()) for b, v in zip(before, encoder.trainable_weights)]
    # every variable but wav2vec2's spec-augment embedding (unused when exported) gets updated
    assert sum(changed) == len(changed) - 1


def test_dropout_follows_training_only_where_the_saved_model_takes_it(tmp_path):
    config = TINY.__class__(**{**TINY.__dict__, "input_length": 4000, "dropout": 0.5})
    waves = np.random.default_rng(1).normal(0, 0.1, (2, 4000)).astype("float32")
    for form, differs in (("2021-09", True), ("2021-07", False)):
        encoder = TFHubSpeechBackbone(save_wav2vec2(str(tmp_path / form), config, form=form))
        assert differs == (not np.allclose(encoder.encode(waves, training=True),
                                           encoder.encode(waves, training=False)))


def test_a_saved_model_that_cannot_be_called_is_described(tmp_path):
    module = tf.Module()
    module.__call__ = tf.function(
        lambda waveform: {"last_hidden_state": tf.zeros([tf.shape(waveform)[0], 3, 4])},
        input_signature=[tf.TensorSpec([None, 800], tf.float32, name="waveform")])
    tf.saved_model.save(module, str(tmp_path / "dict_output"))
    with pytest.raises(ValueError) as error:
        read_call_convention(tf.saved_model.load(str(tmp_path / "dict_output")), "dict_output")
    message = str(error.value)
    assert "__call__(float32[None, 800]) -> {last_hidden_state}" in message
    assert "one float32 waveform tensor" in message


def test_tf_hub_loads_where_setuptools_ships_no_pkg_resources(assets):
    """setuptools >= 81 has no pkg_resources; tensorflow_hub 0.16 imports it."""
    script = (
        "import sys; sys.modules['pkg_resources'] = None\n"  # import pkg_resources fails
        "from mer_tf.models.speech.tfhub import TFHubSpeechBackbone\n"
        f"encoder = TFHubSpeechBackbone({assets['speech']!r})\n"
        "assert 'pkg_resources' not in sys.modules or sys.modules['pkg_resources'] is None\n"
        "print('loaded', encoder.input_length)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "loaded 16000" in result.stdout


def test_a_keras_file_naming_a_remote_handle_is_refused_under_safe_mode(assets, tmp_path):
    import json
    import zipfile

    inputs = keras.Input((16000,)), keras.Input((), dtype="int32")
    model = keras.Model(inputs, TFHubSpeechBackbone(assets["speech"], name="wav2vec2")(*inputs))
    path = str(tmp_path / "model.keras")
    model.save(path)
    crafted = str(tmp_path / "crafted.keras")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(crafted, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                data = data.replace(json.dumps(assets["speech"])[1:-1].encode(),
                                    b"https://tfhub.dev/someone/else/1")
            target.writestr(item, data)
    assert keras.saving.load_model(path, safe_mode=True).get_layer("wav2vec2").handle == \
        assets["speech"]
    with pytest.raises(ValueError, match="remote handle 'https://tfhub.dev/someone/else/1'"):
        keras.saving.load_model(crafted, safe_mode=True)


def test_a_fixed_length_saved_model_decides_the_audio_and_refuses_another_length(assets):
    """input_seconds 0 (the default) takes the SavedModel's own length, the one config.json
    records; any other length is refused rather than noted and ignored."""
    from mer_tf.data.corpus import IEMOCAP_FACTS
    from mer_tf.models.towers.speech import SpeechTower

    tower = SpeechTower(SpeechConfig(model=assets["speech"]), 8, IEMOCAP_FACTS)
    assert tower.describe()["input_seconds"] == 1.0 == tower.input_length / 16000
    assert SpeechTower(SpeechConfig(model=assets["speech"], input_seconds=1.0), 8,
                       IEMOCAP_FACTS).input_length == 16000
    with pytest.raises(ValueError, match=r"takes 1 s of audio, not 3: --speech-seconds applies "
                                         "to Hugging Face and Whisper backbones"):
        SpeechTower(SpeechConfig(model=assets["speech"], input_seconds=3.0), 8, IEMOCAP_FACTS)
