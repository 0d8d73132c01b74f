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

from mer_tf import io

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


def export_info(config, builder, manifest) -> dict:
    m = config.model
    lengths = builder.input_lengths()
    return {
        "format": "mer_tf SavedModel v1",
        "modalities": list(m.modalities),
        "label_names": list(m.class_names),
        "sample_rate": 16000,
        "waveform_length": lengths.get("waveform", 0),
        "text_length": lengths.get("text", 0),
        "text_preset": m.text.preset if "text" in m.modalities else "",
        "mocap_view": m.mocap.view if "mocap" in m.modalities else "",
        "mocap_frames": lengths.get("mocap", 0),
        "mocap_rate": float(manifest["mocap"]["rate"]),
        "mocap_streams": {k: int(v) for k, v in manifest["mocap"]["streams"].items()},
        "experiment": config.experiment,
        # > 0: trained to do without a dropped modality, so `serve_partial` may be used
        "modality_dropout": float(m.modality_dropout) if len(m.modalities) > 1 else 0.0,
    }


def export_run_model(builder, config, directory: str, preprocessor, manifest) -> str:
    """Exports the fold's trained model to `directory/saved_model`; returns the path."""
    from mer_tf.models.fusion import ModelBuilder

    trained = builder.model()
    weights = trained.get_weights()
    towers = builder.towers
    mocap = towers.get("mocap")
    stats = None
    if mocap is not None:
        stats = (mocap.normalize.mean, mocap.normalize.variance)
    with float32_policy():  # called outside the training strategy's scope
        export_builder = ModelBuilder(
            config.model, mocap_frames=mocap.frames if mocap else None,
            mocap_features=mocap.feature_dim if mocap else None, mocap_stats=stats)
        model = export_builder.model()
        model.set_weights(weights)
        info = export_info(config, export_builder, manifest)
        # shares the layers (and so the weights) of `model`, plus the modality gate
        partial = export_builder.model(presence=True) if info["modality_dropout"] else None
        path = io.join(directory, SAVED_MODEL_DIR)
        export_saved_model(model, preprocessor, info, path, partial)
    return path


def export_saved_model(model, preprocessor, info: dict, path: str, partial_model=None) -> str:
    """Writes `model` with raw-input serving endpoints to `path` (temporary name, then rename).

    With `partial_model` (the same model with a `modality_present` input, for models
    trained with modality dropout), `serve_partial` takes the raw inputs plus
    `modality_present` [B, M] int32 (1: present, 0: missing, in `modalities` order).
    """
    import keras
    import tensorflow as tf

    modalities = info["modalities"]
    names = tf.constant(info["label_names"])
    archive = keras.export.ExportArchive()
    archive.track(model)
    if partial_model is not None:
        archive.track(partial_model)
    if preprocessor is not None:
        if not preprocessor.built:  # built by its first call, which tf.data usually made
            preprocessor(tf.constant(["build"]))
        archive.track(preprocessor)

    def classify(inputs, network=model):
        probabilities = tf.cast(network(inputs, training=False), tf.float32)
        return {"probabilities": probabilities,
                "label": tf.gather(names, tf.argmax(probabilities, axis=-1)),
                "label_names": names}

    def model_inputs(waveform=None, waveform_length=None, transcript=None, mocap=None,
                     mocap_mask=None):
        inputs = {}
        if "speech" in modalities:
            inputs.update(_fit_waveform(waveform, waveform_length, info["waveform_length"]))
        if "text" in modalities:
            tokens = preprocessor(transcript)
            inputs.update({k: tf.cast(tokens[k], tf.int32)
                           for k in ("token_ids", "segment_ids", "padding_mask")})
        if "mocap" in modalities:
            inputs.update(_fit_mocap(mocap, mocap_mask, info["mocap_frames"]))
        return inputs

    specs = _signature_specs(modalities, sum(info["mocap_streams"].values()))
    raw_names = [k for k in specs if k != "wav"]

    def serve(*tensors):
        return classify(model_inputs(**dict(zip(raw_names, tensors))))

    archive.add_endpoint("serve", serve, input_signature=[specs[k] for k in raw_names])
    if partial_model is not None:
        def serve_partial(*tensors):
            present = tensors[-1]
            inputs = model_inputs(**dict(zip(raw_names, tensors[:-1])))
            return classify({**inputs, "modality_present": present}, network=partial_model)

        archive.add_endpoint("serve_partial", serve_partial, input_signature=[
            *(specs[k] for k in raw_names),
            tf.TensorSpec([None, len(modalities)], tf.int32, name="modality_present")])
    if "speech" in modalities:
        wav_names = [k for k in specs if k not in ("waveform", "waveform_length")]

        def serve_wav(*tensors):
            features = dict(zip(wav_names, tensors))
            waveform, length = _decode_wavs(features.pop("wav"), info["sample_rate"])
            return classify(model_inputs(waveform=waveform, waveform_length=length, **features))

        archive.add_endpoint("serve_wav", serve_wav,
                             input_signature=[specs[k] for k in wav_names])
    constants = {k: tf.constant(v) for k, v in _info_tensors(info).items()}
    archive.add_endpoint("metadata", lambda: constants, input_signature=[])
    if "text" in modalities:
        tokenizer = preprocessor.tokenizer

        def token_count(transcript):
            return tokenizer(transcript).row_lengths() + 2  # [CLS] and [SEP]

        archive.add_endpoint("token_count", token_count,
                             input_signature=[tf.TensorSpec([None], tf.string, name="transcript")])
    tmp = io.temp_name(path)
    try:
        archive.write_out(tmp, verbose=False)
        io.write_json_atomic(io.join(tmp, INFO_FILE), info)
        io.move_tree(tmp, path, last="saved_model.pb")
    finally:
        if io.isdir(tmp):
            io.rmtree(tmp)
    print(f"exported SavedModel: {path}", file=sys.stderr)
    return path


def _signature_specs(modalities, mocap_features: int) -> dict:
    import tensorflow as tf

    specs = {}
    if "speech" in modalities:
        specs["waveform"] = tf.TensorSpec([None, None], tf.float32, name="waveform")
        specs["waveform_length"] = tf.TensorSpec([None], tf.int32, name="waveform_length")
        specs["wav"] = tf.TensorSpec([None], tf.string, name="wav")
    if "text" in modalities:
        specs["transcript"] = tf.TensorSpec([None], tf.string, name="transcript")
    if "mocap" in modalities:
        specs["mocap"] = tf.TensorSpec([None, None, mocap_features], tf.float32, name="mocap")
        specs["mocap_mask"] = tf.TensorSpec([None, None], tf.int32, name="mocap_mask")
    return specs


def _info_tensors(info: dict) -> dict:
    return {
        "label_names": info["label_names"],
        "modalities": info["modalities"],
        "sample_rate": info["sample_rate"],
        "waveform_length": info["waveform_length"],
        "text_length": info["text_length"],
        "mocap_view": info["mocap_view"],
        "mocap_frames": info["mocap_frames"],
        "mocap_rate": info["mocap_rate"],
    }


def _fit_waveform(waveform, lengths, target: int) -> dict:
    import tensorflow as tf

    waveform = waveform[:, :target]
    pad = target - tf.shape(waveform)[1]
    waveform = tf.pad(waveform, [[0, 0], [0, pad]])
    waveform = tf.ensure_shape(waveform, [None, target])
    lengths = tf.minimum(tf.cast(lengths, tf.int32), target)
    return {"waveform": waveform, "waveform_length": lengths}


def _fit_mocap(mocap, mask, target: int) -> dict:
    import tensorflow as tf

    mocap = mocap[:, :target]
    mask = tf.cast(mask[:, :target], tf.int32)
    pad = target - tf.shape(mocap)[1]
    mocap = tf.pad(mocap, [[0, 0], [0, pad], [0, 0]])
    mask = tf.pad(mask, [[0, 0], [0, pad]])
    return {"mocap": tf.ensure_shape(mocap, [None, target, mocap.shape[-1]]),
            "mocap_mask": tf.ensure_shape(mask, [None, target])}


def _decode_wavs(wavs, sample_rate: int):
    """Encoded 16-bit WAVs (mono or stereo, downmixed) -> padded float32 batch and lengths."""
    import tensorflow as tf

    def decode(data):
        audio, rate = tf.audio.decode_wav(data)
        tf.debugging.assert_equal(rate, sample_rate, message="WAV sample rate must be 16000 Hz "
                                  "(resample first; mer_tf's predict does it with soxr)")
        return tf.reduce_mean(audio, axis=-1)

    decoded = tf.map_fn(decode, wavs, fn_output_signature=tf.RaggedTensorSpec([None], tf.float32))
    return decoded.to_tensor(), tf.cast(decoded.row_lengths(), tf.int32)
