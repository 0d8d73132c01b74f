"""SavedModel export with serving signatures on raw inputs.

The exported model needs neither this package nor Keras: `tf.saved_model.load`
(after `import tensorflow_text`, whose ops keras-hub's tokenizer uses) serves

- `serve(waveform [B, N] float32 at 16 kHz, waveform_length [B] int32,
  transcript [B] string, mocap [B, T, D] float32 (NaN = missing marker),
  mocap_mask [B, T] int32)`: any N and T; audio and frames are cropped or
  padded inside the graph, text is tokenized inside the graph;
- `serve_wav(wav [B] string, …)`: the same with encoded 16 kHz WAV files,
  decoded by `tf.audio.decode_wav`;
- `metadata()`: label names, modalities, sample rate, lengths, mocap view and rate;
- `token_count(transcript [B] string)`: tokens before truncation, so a caller
  can say when a transcript was cut.

A model takes only the inputs of its modalities. Both serving endpoints return
`probabilities` [B, C], the predicted `label` [B] and `label_names` [C].
The model is rebuilt in float32 outside any distribution strategy and given the
trained weights, so models trained on TPU, several GPUs or in mixed precision
all export the same way and serve with float32 inputs and outputs.
"""

from __future__ import annotations

import contextlib
import sys

from mer_tf import storage

SAVED_MODEL_DIR = "saved_model"
INFO_FILE = "mer_tf.json"


@contextlib.contextmanager
def float32_policy():
    import keras

    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


# Keys of mer_tf.json (and of the `metadata` endpoint) that every model has, whatever its
# towers: models without speech, text or mocap say 0 or "".
INFO_DEFAULTS = {"sample_rate": 16000, "waveform_length": 0, "text_length": 0, "text_preset": "",
                 "mocap_view": "", "mocap_frames": 0}
METADATA_KEYS = ("label_names", "modalities", "sample_rate", "waveform_length", "text_length",
                 "mocap_view", "mocap_frames", "mocap_rate")


def export_info(m, builder, experiment: str = "") -> dict:
    """mer_tf.json of model config `m` built by `builder`."""
    info = {
        "format": "mer_tf SavedModel v1",
        "modalities": list(m.modalities),
        "label_names": list(m.class_names),
        **INFO_DEFAULTS,
        "mocap_rate": float(builder.facts.mocap_rate),
        "mocap_streams": {k: int(v) for k, v in builder.facts.mocap_streams},
        "experiment": experiment,
        # > 0: trained to do without a dropped modality, so `serve_partial` may be used
        "modality_dropout": float(m.modality_dropout) if len(m.modalities) > 1 else 0.0,
    }
    for tower in builder.towers.values():
        info.update(tower.export_info())
    return info


def export_run_model(builder, config, directory: str) -> str:
    """Exports the fold's trained model to `directory/saved_model`; returns the path."""
    from mer_tf.models.fusion import ModelBuilder

    weights = builder.model().get_weights()
    with float32_policy():  # called outside the training strategy's scope
        export_builder = ModelBuilder(config.model, builder.facts, builder.statistics)
        model = export_builder.model()
        model.set_weights(weights)
        path = storage.join(directory, SAVED_MODEL_DIR)
        export_saved_model(export_builder, model, export_info(config.model, export_builder, config.experiment), path)
    return path


def export_saved_model(builder, model, info: dict, path: str) -> str:
    """Writes `model` with raw-input serving endpoints to `path` (temporary name, then rename).

    Each tower says what its serving inputs are and how they become the model's inputs.
    A model trained with modality dropout also gets `serve_partial`: the raw inputs plus
    `modality_present` [B, M] int32 (1: present, 0: missing, in `modalities` order),
    served by the same layers (and weights) with a modality gate.
    """
    import keras
    import tensorflow as tf

    towers = builder.towers
    partial_model = builder.model(presence=True) if info["modality_dropout"] else None
    names = tf.constant(info["label_names"])
    archive = keras.export.ExportArchive()
    archive.track(model)
    if partial_model is not None:
        archive.track(partial_model)
    for tower in towers.values():
        for trackable in tower.trackables():
            archive.track(trackable)

    def classify(inputs, network=model):
        probabilities = tf.cast(network(inputs, training=False), tf.float32)
        return {"probabilities": probabilities,
                "label": tf.gather(names, tf.argmax(probabilities, axis=-1)),
                "label_names": names}

    def endpoint_inputs(encoded: str | None = None):
        """(serving specs in call order, tensors -> model inputs); `encoded` names the tower
        whose encoded-file inputs replace its raw ones."""
        specs, parts = [], []
        for name, tower in towers.items():
            mine = tower.encoded_serving_specs() if name == encoded else tower.serving_specs()
            convert = tower.encoded_serving_inputs if name == encoded else tower.serving_inputs
            parts.append((list(mine), convert))
            specs.extend(mine.values())

        def to_model_inputs(tensors):
            inputs, i = {}, 0
            for keys, convert in parts:
                inputs.update(convert(dict(zip(keys, tensors[i:i + len(keys)]))))
                i += len(keys)
            return inputs

        return specs, to_model_inputs

    specs, to_inputs = endpoint_inputs()
    archive.add_endpoint("serve", lambda *t: classify(to_inputs(t)), input_signature=specs)
    if partial_model is not None:
        def serve_partial(*tensors):
            inputs = {**to_inputs(tensors[:-1]), "modality_present": tensors[-1]}
            return classify(inputs, network=partial_model)

        archive.add_endpoint("serve_partial", serve_partial, input_signature=[
            *specs, tf.TensorSpec([None, len(towers)], tf.int32, name="modality_present")])
    def serve_with(convert):
        return lambda *tensors: classify(convert(tensors))

    for name, tower in towers.items():
        if tower.encoded_serving_specs():  # serve_wav: the speech tower's WAV bytes
            encoded_specs, encoded_inputs = endpoint_inputs(encoded=name)
            archive.add_endpoint(f"serve_{next(iter(tower.encoded_serving_specs()))}",
                                 serve_with(encoded_inputs), input_signature=encoded_specs)
        for endpoint, (function, signature) in tower.endpoints().items():
            archive.add_endpoint(endpoint, function, input_signature=signature)
    constants = {k: tf.constant(info[k]) for k in METADATA_KEYS}
    archive.add_endpoint("metadata", lambda: constants, input_signature=[])

    tmp = storage.temp_name(path)
    try:
        archive.write_out(tmp, verbose=False)
        storage.write_json_atomic(storage.join(tmp, INFO_FILE), info)
        storage.move_tree(tmp, path, last="saved_model.pb")
    finally:
        if storage.isdir(tmp):
            storage.rmtree(tmp)
    print(f"exported SavedModel: {path}", file=sys.stderr)
    return path
