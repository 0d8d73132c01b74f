"""Speech backbones beyond the paper's: a Hugging Face wav2vec2-family checkpoint and a
keras-hub Whisper preset, each frozen and fine-tuned, with the last layer or SUPERB's
weighted sum, cached and end to end, exported and served without the package."""

import json
import os
import shutil

import keras
import numpy as np
import pytest

from mer_tf.config import ModelConfig, SpeechConfig
from mer_tf.data.corpus import IEMOCAP_FACTS
from mer_tf.models.fusion import ModelBuilder
from mer_tf.models.speech.kinds import speech_backbone_kind
from mer_tf.training.fold import compile_model
from tests import helpers
from tests.helpers import run_args, train

pytestmark = pytest.mark.slow  # builds a corpus, a backbone or a run

FIXTURES = os.path.join(helpers.FIXTURES, "hf_speech")
HF = os.path.join(FIXTURES, "wav2vec2_base")


@pytest.fixture(scope="module")
def whisper(tmp_path_factory):
    from mer_tf.testing.speech_presets import save_tiny_whisper_preset

    return save_tiny_whisper_preset(str(tmp_path_factory.mktemp("whisper") / "tiny"), seconds=1)


def _builder(handle, freeze=False, layers="weighted", head="mean"):
    config = ModelConfig(modalities=("speech",), speech=SpeechConfig(
        model=handle, freeze=freeze, layers=layers, head=head, input_seconds=0.5))
    return ModelBuilder(config, IEMOCAP_FACTS)


def test_the_kind_is_read_from_the_handle(whisper, assets, tmp_path):
    assert [speech_backbone_kind(h) for h in (HF, whisper, assets["speech"])] == [
        "hf", "whisper", "tfhub"]
    assert speech_backbone_kind("whisper_tiny_en") == "whisper"  # a keras-hub preset name
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="model_type 'bert'"):
        speech_backbone_kind(str(tmp_path))
    with pytest.raises(ValueError, match="last layer only"):
        _builder(assets["speech"])


@pytest.mark.parametrize("kind", ["hf", "whisper"])
@pytest.mark.parametrize("freeze", [False, True], ids=["fine-tuned", "frozen"])
def test_one_step_moves_what_it_should(kind, freeze, whisper):
    """Fine-tuning moves the transformer, never the HF conv feature encoder; freezing moves
    no backbone weight; the layer weights and the head always train."""
    keras.utils.set_random_seed(0)
    builder = _builder(HF if kind == "hf" else whisper, freeze)
    tower = builder.towers["speech"]
    assert tower.num_states == 3 and tower.cacheable is freeze
    model = builder.model()
    compile_model(model, keras.optimizers.Adam(1e-2))
    rng = np.random.default_rng(0)
    batch = {"waveform": rng.normal(0, 0.1, (4, 8000)).astype("float32"),
             "waveform_length": np.array([8000, 6000, 3000, 1000], "int32")}
    backbone = tower.backbone.encoder
    frozen_part = backbone.feature_encoder if kind == "hf" else None
    before = {id(v): v.numpy().copy() for v in model.weights}
    model.train_on_batch(batch, np.array([0, 1, 2, 3]))
    moved = {id(v) for v in model.weights if not np.array_equal(before[id(v)], v.numpy())}
    assert id(tower.mix.layer_weights) in moved and id(tower.dense.kernel) in moved
    backbone_moved = {id(v) for v in backbone.weights} & moved
    assert bool(backbone_moved) is not freeze
    if frozen_part is not None:
        assert not {id(v) for v in frozen_part.weights} & moved
    assert not {id(v) for v in backbone.non_trainable_weights} & moved


def test_fine_tuned_hf_run_exports_a_model_that_serves_raw_waveforms(prepared, assets, tmp_path):
    """End to end, every layer weighted, attention pooling; the SavedModel (no mer_tf)
    and `load_run` (back to Keras) give the same probabilities."""
    from experiments import speech
    from mer_tf.training.runs import load_run

    run_dir = tmp_path / "hf"
    train(speech.main, run_args(prepared, assets, run_dir, "--speech-model", HF,
                                "--speech-layers", "weighted", "--speech-head", "attention",
                                "--speech-seconds", "0.5", "--epochs", "1"))
    config = json.load(open(run_dir / "config.json"))
    assert config["backbones"]["speech"]["kind"] == "hf"
    assert config["backbones"]["speech"]["feature_encoder_frozen"] is True
    run = load_run(str(run_dir))
    rng = np.random.default_rng(1)
    waveform = rng.normal(0, 0.1, (3, 8000)).astype("float32")
    lengths = np.array([8000, 5000, 2000], "int32")
    expected = run.calibrated(run.model.predict({"waveform": waveform,
                                                 "waveform_length": lengths}, verbose=0))
    # Plain TensorFlow restores it (the graph alone: no Keras class is looked up; a fresh
    # process without mer_tf serves the concat model in tests/test_export.py).
    import tensorflow as tf

    model = tf.saved_model.load(str(run_dir / "saved_model"))
    long = np.concatenate([waveform, np.zeros((3, 4000), np.float32)], axis=1)  # cut to 0.5 s
    served = model.serve(tf.constant(long), tf.constant(lengths))["probabilities"].numpy()
    np.testing.assert_allclose(served, expected, atol=1e-5)


def test_frozen_whisper_with_cached_features_trains_its_layer_weights(prepared, assets,
                                                                     whisper, tmp_path):
    from experiments import speech
    from mer_tf.training.runs import load_run

    data = tmp_path / "data"  # a copy: the feature cache goes beside the data
    shutil.copytree(prepared[0], data, ignore=shutil.ignore_patterns("feature_cache"))
    prepared = (str(data), prepared[1])
    run_dir = tmp_path / "whisper"
    train(speech.main, run_args(prepared, assets, run_dir, "--speech-model", whisper,
                                "--speech-layers", "weighted", "--freeze", "speech",
                                "--cache-features", "--epochs", "2"))
    caches = [n for n in os.listdir(os.path.join(prepared[0], "feature_cache"))
              if n.startswith("speech-")]
    assert caches
    run = load_run(str(run_dir))
    weights = run.builder.towers["speech"].mix.layer_weights.numpy()
    assert weights.shape == (3,) and np.ptp(weights) > 0  # moved from equal, on the cache
    assert os.path.exists(run_dir / "saved_model" / "saved_model.pb")


def test_the_feature_cache_cuts_batches_to_their_longest_and_equals_the_padded(prepared,
                                                                                tmp_path):
    """Building the cache runs utterances sorted by length, each batch only as long as its
    longest, through one traced function for every length; what it stores, in shard order,
    equals the features of each utterance padded to the model's input length."""
    import tensorflow as tf

    from mer_tf.data.corpus import PreparedCorpus, Split
    from mer_tf.data.pipeline import make_dataset
    from mer_tf.training.feature_cache import FeatureCache

    data = tmp_path / "data"
    shutil.copytree(prepared[0], data, ignore=shutil.ignore_patterns("feature_cache"))
    corpus = PreparedCorpus.open(str(data))
    config = ModelConfig(modalities=("speech",), speech=SpeechConfig(
        model=HF, freeze=True, layers="weighted", head="attention", input_seconds=2.0))
    builder = ModelBuilder(config, corpus.facts)
    cache = FeatureCache(corpus, builder, ("speech",))
    assert cache.ensure(batch_size=3, progress=False) == len(corpus.shards)
    assert cache.extractors["speech"].experimental_get_tracing_count() == 1

    shard = corpus.shard_paths()[0]
    inputs, _, meta = next(iter(make_dataset(corpus, Split(()), builder.readers(), 1000,
                                             training=False, with_metadata=True,
                                             files=[shard])))
    lengths = inputs["waveform_length"].numpy()
    assert len(set(lengths)) > 3 and lengths.max() < 2 * 16000  # mixed lengths, padded
    expected = builder.feature_model(("speech",)).predict_on_batch(
        {key: inputs[key] for key in ("waveform", "waveform_length")})
    records = [tf.io.parse_single_example(r, cache.parse_spec())
               for r in tf.data.TFRecordDataset(cache.path_for(shard))]
    assert [r["utterance_id"].numpy() for r in records] == list(meta["utterance_id"].numpy())
    cached = {key: np.stack([cache.decode(r)[key].numpy() for r in records])
              for key in ("speech_frames", "speech_frame_mask")}
    np.testing.assert_array_equal(cached["speech_frame_mask"], expected["speech_frame_mask"])
    np.testing.assert_allclose(cached["speech_frames"], expected["speech_frames"], atol=1e-5)


def test_the_cache_key_of_the_same_weights_is_the_same_in_the_next_build():
    """The next fold or run in the same process builds the backbone again (Keras names it
    `…_1`): its features are the same, so must be its cache key."""
    fingerprints = set()
    for _ in range(2):
        builder = _builder(HF, freeze=True)
        builder.model()
        fingerprints.add(builder.backbone_fingerprint("speech"))
    assert len(fingerprints) == 1
    other = _builder(HF, freeze=True)
    other.backbone("speech").weights[-1].assign(other.backbone("speech").weights[-1] + 1.0)
    assert other.backbone_fingerprint("speech") not in fingerprints


@pytest.mark.parametrize("kind", ["tfhub", "hf", "whisper"])
def test_each_kind_meets_the_backbone_contract(kind, assets, whisper):
    """Every kind of speech backbone is held to the one contract (`tests.harness`)."""
    from mer_tf.models.speech.kinds import load_speech_backbone
    from tests.harness import run_speech_backbone_test

    handle = {"tfhub": assets["speech"], "whisper": whisper, "hf": HF}[kind]
    backbone = load_speech_backbone(SpeechConfig(model=handle))
    assert backbone.kind == kind
    states, _ = run_speech_backbone_test(backbone, seconds=1.0)
    assert states.shape[1] == (1 if kind == "tfhub" else backbone.num_states)
