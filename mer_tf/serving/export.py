"""SavedModel export with serving signatures on raw inputs.

The exported model needs neither this package nor Keras: `tf.saved_model.load`
(after `import tensorflow_text`, whose ops keras-hub's tokenizer uses) serves

- `serve(waveform [B, N] float32 at 16 kHz, waveform_length [B] int32,
  transcript [B] string, mocap [B, T, D] float32 (NaN = missing marker),
  mocap_mask [B, T] int32)`: any N and T; audio and frames are cropped or
  padded inside the graph, text is tokenized inside the graph;
- `serve_wav(wav [B] string, …)`: the same with encoded 16-bit WAV files at any rate and
  with any channels, decoded by `tf.audio.decode_wav`, downmixed and resampled in the graph;
- `serve_partial(…, modality_present [B, M] int32)` and `serve_wav_partial`, for a model
  trained with modality dropout: a modality marked 0 is dropped as in training (give
  zeros for its inputs), which is how to serve without motion capture;
- `metadata()`: label names, modalities, sample rate, lengths, mocap view and rate,
  and the `temperature` the served probabilities are calibrated with;
- `token_count(transcript [B] string)`: tokens before truncation, so a caller
  can say when a transcript was cut.

A model takes only the inputs of its modalities. Both serving endpoints return
`probabilities` [B, C], the predicted `label` [B] and `label_names` [C].
The model is rebuilt in float32 outside any distribution strategy and given the
trained weights, so models trained on TPU, several GPUs or in mixed precision
all export the same way and serve with float32 inputs and outputs.
"""

from __future__ import annotations

import sys

from mer_tf.frames import SAMPLE_RATE
from mer_tf.io import storage
from mer_tf.layout import INFO_FILE, SAVED_MODEL_FILE, FoldLayout

# Keys of mer_tf.json (and of the `metadata` endpoint) that every model has, whatever its
# towers: models without speech, text or mocap say 0 or "".
# `temperature`: the probabilities served are softmax(log p / temperature), p the network's
# (1.0: as trained).
INFO_DEFAULTS = {"sample_rate": SAMPLE_RATE, "waveform_length": 0, "text_length": 0,
                 "text_preset": "", "mocap_view": "", "mocap_frames": 0, "note": "",
                 "temperature": 1.0,
                 "calibration": ""}
METADATA_KEYS = ("label_names", "modalities", "sample_rate", "waveform_length", "text_length",
                 "mocap_view", "mocap_frames", "mocap_rate", "mocap_features", "serve_inputs",
                 "note", "temperature", "calibration")
CALIBRATION_NOTE = ("temperature scaling fitted on the validation split: probabilities are "
                    "softmax(log p / temperature)")
# What a demo run's model says of itself, in metadata() and on every prediction.
DEMO_NOTE = ("a demo model: trained on the built-in synthetic corpus with small untrained "
             "backbones; its outputs on real speech mean nothing")


def export_info(m, builder, experiment: str = "") -> dict:
    """mer_tf.json of model config `m` built by `builder`."""
    info = {
        "format": "mer_tf SavedModel v1",
        "modalities": list(m.modalities),
        "label_names": list(m.class_names),
        **INFO_DEFAULTS,
        "mocap_rate": float(builder.facts.mocap_rate),
        "mocap_streams": {k: int(v) for k, v in builder.facts.mocap_streams},
        # values per frame: head, hand and rotated markers together (IEMOCAP: 189)
        "mocap_features": int(sum(v for _, v in builder.facts.mocap_streams)),
        "experiment": experiment,
        # > 0: trained to do without a dropped modality, so `serve_partial` may be used
        "modality_dropout": float(m.modality_dropout) if len(m.modalities) > 1 else 0.0,
        # classes, or both: then every endpoint also returns arousal, valence and
        # dominance [B] on [0, 1] (each corpus's rating scale mapped onto it)
        "targets": m.targets,
    }
    for tower in builder.towers.values():
        info.update(tower.export_info())
    return info


def export_run_model(builder, config, directory: str, temperature: float = 1.0) -> str:
    """Exports the fold's trained model to `directory/saved_model`, serving probabilities
    scaled by `temperature` (fitted on validation); returns the path."""
    from mer_tf.models.fusion import ModelBuilder

    weights = builder.model().get_weights()
    from mer_tf.models.speech.backbone import float32_policy

    with float32_policy():  # called outside the training strategy's scope
        export_builder = ModelBuilder(config.model, builder.facts, builder.statistics)
        model = export_builder.model()
        model.set_weights(weights)
        path = FoldLayout(directory).saved_model
        info = export_info(config.model, export_builder, config.experiment)
        if config.demo:
            info.update(demo=True, note=DEMO_NOTE)
        if temperature != 1.0:
            info.update(temperature=float(temperature), calibration=CALIBRATION_NOTE)
        export_saved_model(export_builder, model, info, path)
    return path


def export_saved_model(builder, model, info: dict, path: str) -> str:
    """Writes `model` with raw-input serving endpoints to `path` (temporary name, then rename).

    Each tower says what its serving inputs are and how they become the model's inputs,
    and which encoded inputs (WAV bytes) it decodes into them.
    A model trained with modality dropout also gets `serve_partial`: the raw inputs plus
    `modality_present` [B, M] int32 (1: present, 0: missing, in `modalities` order),
    served by the same layers (and weights) with a modality gate.
    """
    import tensorflow as tf

    towers = builder.towers
    partial_model = builder.model(presence=True) if info["modality_dropout"] else None
    names = tf.constant(info["label_names"])
    archive = _Archive([model] + ([partial_model] if partial_model is not None else []),
                       [t for tower in towers.values() for t in tower.trackables()])

    temperature = float(info.get("temperature", 1.0))

    def classify(inputs, network=model):
        outputs = network(inputs, training=False)
        dimensions = None
        if isinstance(outputs, dict):  # --targets both: the classes and the dimensions
            dimensions = tf.cast(outputs["dimensions"], tf.float32)
            outputs = outputs["classes"]
        probabilities = tf.cast(outputs, tf.float32)
        if temperature != 1.0:  # calibrated: the argmax is unchanged
            probabilities = tf.nn.softmax(
                tf.math.log(tf.maximum(probabilities, 1e-12)) / temperature, axis=-1)
        served = {"probabilities": probabilities,
                  "label": tf.gather(names, tf.argmax(probabilities, axis=-1)),
                  "label_names": names}
        if dimensions is not None:
            served.update(arousal=dimensions[:, 0], valence=dimensions[:, 1],
                          dominance=dimensions[:, 2])
        return served

    raw_specs = {name: tower.serving_specs() for name, tower in towers.items()}
    info = {**info, "serve_inputs": [s.name for specs in raw_specs.values()
                                     for s in specs.values()]}

    def by_tower(tensors, specs_of) -> dict:
        """An endpoint's flat tensors -> {tower: {input name: tensor}}."""
        out, i = {}, 0
        for name, specs in specs_of.items():
            out[name] = dict(zip(specs, tensors[i:i + len(specs)]))
            i += len(specs)
        return out

    def flat(specs_of) -> list:
        return [spec for specs in specs_of.values() for spec in specs.values()]

    def model_inputs(raw: dict) -> dict:
        return {k: v for name, tower in towers.items()
                for k, v in tower.serving_inputs(raw[name]).items()}

    serve = archive.add_endpoint(
        "serve", lambda *t: classify(model_inputs(by_tower(t, raw_specs))),
        input_signature=flat(raw_specs))
    presence = tf.TensorSpec([None, len(towers)], tf.int32, name="modality_present")
    serve_partial = None
    if partial_model is not None:
        def partial(*tensors):
            inputs = {**model_inputs(by_tower(tensors[:-1], raw_specs)),
                      "modality_present": tensors[-1]}
            return classify(inputs, network=partial_model)

        serve_partial = archive.add_endpoint("serve_partial", partial,
                                             input_signature=[*flat(raw_specs), presence])

    def serve_encoded(name: str, specs_of: dict, target, with_presence: bool = False):
        """Decodes `name`'s encoded inputs and calls `target` (`serve`, or `serve_partial`
        with the presence last): one trace of the model, which the endpoints share."""
        def endpoint(*tensors):
            extra = tensors[-1:] if with_presence else ()
            raw = by_tower(tensors[:len(tensors) - len(extra)], specs_of)
            raw[name] = towers[name].decode_serving_inputs(raw[name])
            return target(*[raw[n][k] for n, specs in raw_specs.items() for k in specs],
                          *extra)
        return endpoint

    for name, tower in towers.items():
        encoded = tower.encoded_serving_specs()
        if encoded:  # serve_wav (and serve_wav_partial): the speech tower's WAV bytes
            specs_of = {**raw_specs, name: encoded}
            endpoint = f"serve_{next(iter(encoded))}"
            archive.add_endpoint(endpoint, serve_encoded(name, specs_of, serve),
                                 input_signature=flat(specs_of))
            if serve_partial is not None:
                archive.add_endpoint(f"{endpoint}_partial",
                                     serve_encoded(name, specs_of, serve_partial, True),
                                     input_signature=[*flat(specs_of), presence])
        for endpoint, (function, signature) in tower.endpoints().items():
            archive.add_endpoint(endpoint, function, input_signature=signature)
    constants = {k: tf.constant(info[k]) for k in METADATA_KEYS}
    archive.add_endpoint("metadata", lambda: constants, input_signature=[])

    tmp = storage.temp_name(path)
    try:
        archive.write_out(tmp)
        storage.write_json_atomic(storage.join(tmp, INFO_FILE), info)
        storage.move_tree(tmp, path, last=SAVED_MODEL_FILE)
    finally:
        if storage.isdir(tmp):
            storage.rmtree(tmp)
    print(f"exported SavedModel: {path}", file=sys.stderr)
    return path


class _Archive:
    """Serving endpoints over Keras models, written with `tf.saved_model.save`: the
    layout of `keras.export.ExportArchive` (the models' variables in `variables`,
    `trainable_variables` and `non_trainable_variables`, each endpoint an attribute and a
    signature, the first also `serving_default`), with each endpoint traced once, inside
    the save. ExportArchive traces every endpoint once more before saving, to list the
    variables it captures, and each model's default signature to find lookup tables: a
    third of an export's time. Here the variables are the models' own, and objects that
    serving calls besides the models (a tokenizer) are saved whole, with what they hold.
    """

    def __init__(self, models: list, trackables: list):
        import tensorflow as tf

        self.root = tf.train.Checkpoint()
        variables = {id(v): v for m in models for v in m.variables}
        trainable = {id(v): v for m in models for v in m.trainable_variables}
        self.root.variables = list(variables.values())
        self.root.trainable_variables = list(trainable.values())
        self.root.non_trainable_variables = [v for i, v in variables.items()
                                             if i not in trainable]
        self.root.serving_objects = list(trackables)
        self.signatures = {}

    def add_endpoint(self, name: str, fn, input_signature):
        """`fn` over `input_signature`, callable positionally or with the specs' names as
        keywords (`model.serve(waveform=…, transcript=…)`), as its signature is."""
        import inspect

        import tensorflow as tf

        names = [spec.name for spec in input_signature]

        def endpoint(*tensors):
            return fn(*tensors)

        endpoint.__signature__ = inspect.Signature(
            [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
        function = tf.function(endpoint, input_signature=input_signature, autograph=False)
        setattr(self.root, name, function)
        self.signatures[name] = function
        self.signatures.setdefault("serving_default", function)
        return function

    def write_out(self, path: str):
        import tensorflow as tf

        tf.saved_model.save(self.root, path, signatures=self.signatures)
