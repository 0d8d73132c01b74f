"""A fourth modality is one file plus registration: it trains beside a cached frozen
text tower, exports and serves without this package, and predicts through
`EmotionRecognizer`, with no edit to the pipeline, the cache, export or inference."""

import json
import os
import shutil

import numpy as np
import pytest

from mer_tf import registry
from tests.helpers import run_args, train


@pytest.fixture
def duration_modality():
    registry.register_modality("duration", "tests.fourth_modality:DurationTower")
    yield "duration"
    registry.unregister_modality("duration")


@pytest.mark.slow
def test_a_registered_fourth_modality_trains_caches_exports_and_serves(
        duration_modality, prepared, assets, release, tmp_path):
    from mer_tf.commands.experiment import run_single
    from mer_tf.serving.recognizer import EmotionRecognizer

    assert registry.modalities()[-1] == "duration"
    data = tmp_path / "data"  # a copy: the feature cache goes beside the data
    shutil.copytree(prepared[0], data, ignore=shutil.ignore_patterns("feature_cache"))
    prepared = (str(data), prepared[1])
    run_dir = tmp_path / "run"
    summary = train(lambda argv: run_single("duration", ("text", "duration"), "", argv),
                    run_args(prepared, assets, run_dir, "--freeze", "text", "--cache-features"))
    metrics = json.load(open(run_dir / "summary.json"))
    assert metrics["modalities"] == ["text", "duration"]
    assert summary is None or summary["modalities"] == ["text", "duration"]
    caches = os.listdir(os.path.join(prepared[0], "feature_cache"))
    assert any(name.startswith("text-") for name in caches)  # text cached, duration read raw

    saved_model = str(run_dir / "saved_model")
    info = json.load(open(os.path.join(saved_model, "mer_tf.json")))
    assert info["modalities"] == ["text", "duration"] and "duration_units" in info
    truth = release[1][:3]
    durations = np.array([[u.end - u.start] * 2 for u in truth], np.float32)
    recognizer = EmotionRecognizer(saved_model)
    predictions = recognizer.predict_many([{"transcript": u.transcript, "duration": d}
                                           for u, d in zip(truth, durations)])
    assert [p.label for p in predictions] and all(
        abs(sum(p.probabilities.values()) - 1) < 1e-4 for p in predictions)
    with pytest.raises(ValueError, match=r"missing: duration \(it was trained without "
                                         "modality dropout"):
        recognizer.predict_many([{"transcript": "hello"}])
    with pytest.raises(ValueError, match="duration must be two non-negative seconds"):
        recognizer.predict_many([{"transcript": "hello", "duration": [1.0]}])

    # Plain TensorFlow serves it: the signature takes the new input by its name (restored
    # from the graph alone; a fresh process without mer_tf serves in tests/test_export.py).
    import tensorflow as tf

    model = tf.saved_model.load(saved_model)
    out = model.serve(tf.constant([u.transcript for u in truth]), tf.constant(durations))
    expected = np.array([[p.probabilities[n] for n in recognizer.label_names]
                         for p in predictions])
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)


def test_unknown_modalities_are_refused_by_name():
    from mer_tf.config import ModelConfig

    with pytest.raises(ValueError, match="subset of"):
        ModelConfig(modalities=("speech", "smell"))
    with pytest.raises(ValueError, match="unknown modality 'smell'"):
        registry.tower_class("smell")
