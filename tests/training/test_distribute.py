"""Accelerator readiness on CPU: static shapes under XLA (what a TPU needs), mixed
precision for every modality subset, and runs on a non-local filesystem."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from mer_tf.config import MODALITIES, MocapConfig, ModelConfig, SpeechConfig, TextConfig
from mer_tf.data.corpus import PreparedCorpus, Split
from mer_tf.models.fusion import ModelBuilder
from mer_tf.training.fold import compile_model
from tests.helpers import run_args, train

pytestmark = pytest.mark.slow  # builds a corpus, a backbone or a run

# Each tower alone and all three: the pairs add no code path (the same fusion layers).
# The full model holds every tower (speech and text alone add nothing it does not compile);
# mocap alone, because its motion layer computes its own masks and statistics.
SUBSETS = [("mocap",), MODALITIES]


def _builder_and_data(prepared, assets, modalities, batch=4):
    corpus = PreparedCorpus(*prepared)
    config = ModelConfig(modalities=modalities, speech=SpeechConfig(model=assets["speech"]),
                         text=TextConfig(preset=assets["text"], sequence_length=16),
                         mocap=MocapConfig(max_frames=24, width=16, heads=2, intermediate=32))
    builder = ModelBuilder(config, corpus.facts)
    # What the trainer does under --strategy tpu or --jit-compile: full batches only.
    dataset = corpus.dataset(Split((1, 2, 3, 4)), builder.readers(), batch, training=True,
                             drop_remainder=True)
    return builder, dataset


def _fully_static(dataset) -> bool:
    return all(None not in spec.shape for spec in tf.nest.flatten(dataset.element_spec))


@pytest.mark.parametrize("modalities", SUBSETS, ids=["+".join(s) for s in SUBSETS])
def test_static_shapes_mixed_precision_and_xla_for_every_tower(prepared, assets, modalities):
    """Trains with the settings --strategy tpu implies (full static batches), bfloat16
    compute and jit_compile=True; float16 on a GPU goes through the same code."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        builder, dataset = _builder_and_data(prepared, assets, modalities)
        assert _fully_static(dataset)  # XLA, and a TPU, compile static shapes only
        model = builder.model()
        assert model.output.dtype == "float32"  # outputs and loss stay float32
        compute = {layer.compute_dtype for layer in model.layers if layer.name.endswith("_dense")}
        assert compute == {"bfloat16"}
        compile_model(model, keras.optimizers.Adam(1e-3), jit_compile=True)
        before = [w.numpy().copy() for w in model.trainable_weights]
        history = model.fit(dataset.repeat(), steps_per_epoch=1, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        assert all(w.dtype == "float32" for w in model.trainable_weights)
        changed = sum(not np.array_equal(b, w.numpy())
                      for b, w in zip(before, model.trainable_weights))
        assert changed > len(before) // 2
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _copy_tree(source, target):
    for directory, _, files in os.walk(source):
        relative = os.path.relpath(directory, source)
        destination = target if relative == "." else f"{target}/{relative}"
        tf.io.gfile.makedirs(destination)
        for name in files:
            tf.io.gfile.copy(os.path.join(directory, name), f"{destination}/{name}", overwrite=True)


def test_data_and_runs_on_a_non_local_filesystem(release, assets, tmp_path, monkeypatch):
    """ram:// is a TensorFlow filesystem, like gs://: any plain open() or os.makedirs
    on a data or run path would fail or leave a local 'ram:' folder behind."""
    from experiments import prepare, text

    monkeypatch.chdir(tmp_path)
    root = "ram://mer_tf_test/IEMOCAP_full_release"
    for session in (3, 4, 5):  # session 4's speaker Ses04F validates: 3 has training data
        _copy_tree(os.path.join(release[0], f"Session{session}"), f"{root}/Session{session}")
    assert prepare.main(["--iemocap", root, "--out", "ram://mer_tf_test/data", "--sessions",
                         "3,4,5", "--quiet"]) == 0
    assert tf.io.gfile.exists("ram://mer_tf_test/data/manifest.json")
    run = "ram://mer_tf_test/runs/text"
    args = run_args(("ram://mer_tf_test/data", None), assets, run, "--protocol", "loso",
                    "--folds", "5")
    train(text.main, args)  # ten training utterances may teach nothing: marked, exit 3
    with tf.io.gfile.GFile(f"{run}/summary.json") as f:
        summary = json.load(f)
    assert summary["folds"][0]["fold"] == "fold5"
    for name in ("config.json", "summary.json", "fold5/metrics.json", "fold5/history.csv",
                 "fold5/predictions.csv",
                 "fold5/confusion_matrix.png", "fold5/checkpoints/best.weights.h5",
                 "fold5/saved_model/saved_model.pb", "fold5/saved_model/mer_tf.json"):
        assert tf.io.gfile.exists(f"{run}/{name}"), name
    assert tf.io.gfile.glob(f"{run}/fold5/logs/train/events.out.tfevents.*")
    import tensorflow_text  # noqa: F401

    served = tf.saved_model.load(f"{run}/fold5/saved_model")
    probabilities = served.serve(tf.constant(["so wonderful"]))["probabilities"].numpy()
    assert probabilities.shape == (1, 4)
    assert not os.path.exists(tmp_path / "ram:")
