"""Speech tower: wav2vec2 from a TF-Hub handle inside a Keras 3 functional model.

`hub.KerasLayer` is a tf-keras (Keras 2) layer and cannot sit in a Keras 3
model; `keras.layers.TFSMLayer` loads the variables, but their names keep the
`:0` suffix and optimizers then fail (`'proj:0_momentum' is not a valid scope
name`), and it refuses to load under `safe_mode=True`. `Wav2Vec2Encoder` loads
the SavedModel with `tensorflow_hub.load` (URL or local directory), wraps each
of its own `tf.Variable`s in a Keras variable with a clean name (the same
storage, so training updates the SavedModel's weights), and calls its
`__call__` with `training` as a Python bool, as reusable SavedModels expect.
"""

from __future__ import annotations

import keras

from mer_tf.models.layers import PACKAGE

SPEECH_HEADS = ("mean", "attention", "flatten")


def load_hub_model(handle: str):
    """`tensorflow_hub.load` with a message that says what to do offline."""
    import tensorflow_hub as hub

    try:
        return hub.load(handle)
    except Exception as error:  # network, cache and format errors all look different
        raise RuntimeError(
            f"could not load the TF-Hub model {handle!r} ({type(error).__name__}: {error}). "
            "Without network access, pass a local SavedModel directory "
            "(for example one written by mer_tf.models.wav2vec2_savedmodel.save_wav2vec2)."
        ) from error


def _call_functions(obj):
    call = getattr(obj, "__call__", None)
    functions = list(getattr(call, "concrete_functions", []) or [])
    return call, functions


def read_input_signature(obj) -> tuple[int | None, int]:
    """(fixed input length or None, hidden size) from the SavedModel's own signatures."""
    _, functions = _call_functions(obj)
    for function in functions:
        args, _ = function.structured_input_signature
        output = function.structured_outputs
        if args and hasattr(args[0], "shape") and hasattr(output, "shape"):
            return args[0].shape[-1], output.shape[-1]
    serving = obj.signatures.get("serving_default") if hasattr(obj, "signatures") else None
    if serving is not None:
        spec = next(iter(serving.structured_input_signature[1].values()))
        output = next(iter(serving.structured_outputs.values()))
        return spec.shape[-1], output.shape[-1]
    raise ValueError("the SavedModel has neither a __call__ with a tensor input nor a "
                     "serving_default signature")


def _accepts_training(obj) -> bool:
    _, functions = _call_functions(obj)
    for function in functions:
        args, kwargs = function.structured_input_signature
        if len(args) > 1 or "training" in kwargs:
            return True
    return False


def clean_variable_name(name: str) -> str:
    """`encoder/layer_0/q:0` -> `encoder_layer_0_q` (Keras forbids `/`, optimizers `:`)."""
    return name.split(":")[0].replace("/", "_")


@keras.saving.register_keras_serializable(package=PACKAGE)
class Wav2Vec2Encoder(keras.layers.Layer):
    """A TF-Hub wav2vec2 SavedModel as a Keras 3 layer: waveforms [batch, samples] -> frames.

    Args:
        handle: TF-Hub URL or local SavedModel directory.
        trainable: fine-tune the SavedModel's own variables (False: frozen).

    Example:
        >>> encoder = Wav2Vec2Encoder("/path/to/saved_model")  # doctest: +SKIP
        >>> frames = encoder(waveforms)  # [batch, frames, hidden]  # doctest: +SKIP
    """

    def __init__(self, handle: str, **kwargs):
        kwargs.setdefault("dtype", "float32")  # the SavedModel computes in float32
        super().__init__(**kwargs)
        self.handle = str(handle)
        self._hub = load_hub_model(self.handle)
        self._takes_training = _accepts_training(self._hub)
        self.input_length, self.hidden_size = read_input_signature(self._hub)
        trainable = {id(v) for v in getattr(self._hub, "trainable_variables", [])}
        for variable in getattr(self._hub, "variables", []):
            self._track_variable(keras.Variable(
                initializer=variable, trainable=id(variable) in trainable,
                dtype=variable.dtype, shape=variable.shape,
                name=clean_variable_name(variable.name)))
        self.built = True

    def call(self, waveforms, training=None):
        import tensorflow as tf

        waveforms = tf.cast(waveforms, tf.float32)
        if self._takes_training:
            return self._hub(waveforms, training=bool(training) and self.trainable)
        return self._hub.signatures["serving_default"](waveforms)["last_hidden_state"]

    def compute_output_shape(self, input_shape):
        from mer_tf.models.wav2vec2_savedmodel import frames_for_samples

        frames = None if input_shape[-1] is None else frames_for_samples(input_shape[-1])
        return (input_shape[0], frames, self.hidden_size)

    def get_config(self):
        return {**super().get_config(), "handle": self.handle}


class SpeechTower:
    """wav2vec2 -> frame mask -> head. `features` is the part a frozen run can cache.

    With the pooled-mean head the cacheable output is one vector per utterance;
    with attention pooling or the paper's Flatten head it is the frame sequence.
    """

    name = "speech"

    def __init__(self, config, units: int = 128, sample_rate: int = 16000):
        from mer_tf.models.layers import AttentionPooling, FrameMask, MaskedMeanPooling
        from mer_tf.models.wav2vec2_savedmodel import frames_for_samples

        if config.head not in SPEECH_HEADS:
            raise ValueError(f"speech head must be one of {SPEECH_HEADS}, got {config.head!r}")
        self.config = config
        self.encoder = Wav2Vec2Encoder(config.handle, trainable=not config.freeze, name="wav2vec2")
        fixed = self.encoder.input_length
        self.input_length = int(fixed) if fixed else int(round(config.input_seconds * sample_rate))
        self.frames = int(frames_for_samples(self.input_length))
        self.hidden = int(self.encoder.hidden_size)
        self.frame_mask = FrameMask(self.frames, name="speech_frame_mask")
        self.cacheable = True
        if config.head == "mean":
            self.pool = MaskedMeanPooling(name="speech_pool")
            self.dense = keras.layers.Dense(units, activation="relu", name="speech_dense")
        elif config.head == "attention":
            self.pool = AttentionPooling(name="speech_pool")
            self.dense = keras.layers.Dense(units, activation="relu", name="speech_dense")
        else:
            self.pool = keras.layers.Flatten(name="speech_flatten")
            self.dense = keras.layers.Dense(units, name="speech_dense")

    def raw_inputs(self) -> dict:
        return {
            "waveform": keras.Input((self.input_length,), dtype="float32", name="waveform"),
            "waveform_length": keras.Input((), dtype="int32", name="waveform_length"),
        }

    def feature_inputs(self) -> dict:
        if self.config.head == "mean":
            return {"speech_features": keras.Input((self.hidden,), name="speech_features")}
        return {
            "speech_frames": keras.Input((self.frames, self.hidden), name="speech_frames"),
            "speech_frame_mask": keras.Input((self.frames,), dtype="int32",
                                             name="speech_frame_mask"),
        }

    def features(self, inputs: dict) -> dict:
        frames = self.encoder(inputs["waveform"])
        mask = self.frame_mask(inputs["waveform_length"])
        if self.config.head == "mean":
            return {"speech_features": self.pool(frames, mask)}
        return {"speech_frames": frames, "speech_frame_mask": mask}

    def head(self, features: dict):
        if self.config.head == "mean":
            return self.dense(features["speech_features"])
        if self.config.head == "attention":
            return self.dense(self.pool(features["speech_frames"], features["speech_frame_mask"]))
        return self.dense(self.pool(features["speech_frames"]))
