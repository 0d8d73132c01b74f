"""wav2vec2 from a TF-Hub handle (or SavedModel) as a Keras 3 layer.

`hub.KerasLayer` is a tf-keras (Keras 2) layer and cannot sit in a Keras 3
model; `keras.layers.TFSMLayer` loads the variables, but their names keep the
`:0` suffix and optimizers then fail (`'proj:0_momentum' is not a valid scope
name`), and it refuses to load under `safe_mode=True`. `TFHubSpeechBackbone` loads
the SavedModel with `tensorflow_hub.load` (URL or local directory), wraps each
of its own `tf.Variable`s in a Keras variable with a clean name (the same
storage, so training updates the SavedModel's weights), and calls its
`__call__` with `training` as a Python bool, as reusable SavedModels expect.
"""

from __future__ import annotations

import dataclasses
import logging

import keras
from keras import ops

from mer_tf.frames import frames_for_samples
from mer_tf.models.layers import PACKAGE
from mer_tf.models.speech.backbone import SpeechBackbone

log = logging.getLogger("mer_tf.models")



def import_tensorflow_hub():
    """`import tensorflow_hub`, also where setuptools no longer ships `pkg_resources`.

    tensorflow_hub 0.16 (the last release) imports `pkg_resources` at import time for
    one version check (`parse_version(tf.__version__)`), and setuptools 81 and later
    no longer ship it: any environment where a newer setuptools got installed fails
    with `No module named 'pkg_resources'`. Only for that import, a module holding
    `packaging.version.parse` (what `parse_version` is) stands in, and is removed
    again, so nothing else in the process sees it.
    """
    import sys

    try:
        import tensorflow_hub
        return tensorflow_hub
    except ModuleNotFoundError as error:
        if error.name != "pkg_resources":
            raise
    import types

    from packaging.version import parse

    shim = types.ModuleType("pkg_resources", "parse_version only, for importing tensorflow_hub")
    shim.parse_version = parse
    previous = sys.modules.get("pkg_resources")
    sys.modules["pkg_resources"] = shim
    try:
        import tensorflow_hub
    finally:
        if previous is None:
            sys.modules.pop("pkg_resources", None)
        else:
            sys.modules["pkg_resources"] = previous
    return tensorflow_hub


def load_hub_model(handle: str):
    """`tensorflow_hub.load` with a message that says what to do offline."""
    hub = import_tensorflow_hub()
    try:
        return hub.load(handle)
    except Exception as error:  # network, cache and format errors all look different
        raise RuntimeError(
            f"could not load the TF-Hub model {handle!r} ({type(error).__name__}: {error}). "
            "Without network access, pass a local SavedModel directory "
            "(for example one written by mer_tf.testing.wav2vec2_savedmodel.save_wav2vec2)."
        ) from error


@dataclasses.dataclass(frozen=True)
class CallConvention:
    """How a wav2vec2 SavedModel is called, read from its `__call__`'s traced functions.

    Both published forms of `vasudevgupta7/wav2vec2/1` are covered: the upload
    (gsoc-wav2vec2 be82ca1) exports `__call__` over one positional
    `TensorSpec((None, 246000), name="speech")` with no `training` argument; the
    September 2021 export (9f32c77) is a Keras 2 model whose `__call__` takes
    `(input_1, attention_mask=None, training)`. Signatures such as `serving_default`
    are never used: the upload's is a stale one of another input length.
    """

    input_length: int | None  # fixed samples per waveform, or None for any length
    frames: int | None  # output frames for that length, when the output says
    hidden_size: int
    takes_training: bool  # False: dropout cannot be switched on while fine-tuning


def describe_saved_model(obj) -> str:
    """What a SavedModel offers to callers: its `__call__` traces and its signatures."""
    parts = []
    call = getattr(obj, "__call__", None)
    functions = list(getattr(call, "concrete_functions", None) or [])
    if functions:
        for function in functions:
            args, kwargs = function.structured_input_signature
            parts.append(f"__call__{_format_inputs(args, kwargs)} -> "
                         f"{_format_outputs(function.structured_outputs)}")
    else:
        parts.append("no traced __call__")
    for name, signature in sorted(getattr(obj, "signatures", {}).items()):
        _, kwargs = signature.structured_input_signature
        parts.append(f"signature {name!r}({', '.join(sorted(kwargs))}) -> "
                     f"{sorted(signature.structured_outputs)}")
    return "; ".join(parts)


def _format_inputs(args, kwargs) -> str:
    def one(value):
        if hasattr(value, "shape"):
            return f"{value.dtype.name}{list(value.shape)}"
        return repr(value)

    items = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in sorted(kwargs.items())]
    return "(" + ", ".join(items) + ")"


def _format_outputs(outputs) -> str:
    if hasattr(outputs, "shape"):
        return f"{outputs.dtype.name}{list(outputs.shape)}"
    if isinstance(outputs, dict):
        return "{" + ", ".join(sorted(outputs)) + "}"
    return type(outputs).__name__


def _is_waveform_spec(value) -> bool:
    return hasattr(value, "shape") and value.shape.rank == 2 and value.dtype.name == "float32"


def read_call_convention(obj, handle: str = "the SavedModel") -> CallConvention:
    """Reads how to call `obj.__call__` on waveforms, or says what it found instead."""
    call = getattr(obj, "__call__", None)
    usable = []
    takes_training = False
    for function in list(getattr(call, "concrete_functions", None) or []):
        args, kwargs = function.structured_input_signature
        output = function.structured_outputs
        if not args or not _is_waveform_spec(args[0]):
            continue
        extra_tensors = [a for a in args[1:] if hasattr(a, "shape")]
        extra_tensors += [v for k, v in kwargs.items() if hasattr(v, "shape")]
        if extra_tensors or not (hasattr(output, "shape") and output.shape.rank == 3):
            continue
        usable.append((args[0], output))
        # Keras 2 traces `training` positionally (as True and False); a tf.function
        # written with a `training` keyword keeps it in kwargs.
        if "training" in kwargs or any(isinstance(a, bool) for a in args[1:]):
            takes_training = True
    if not usable:
        raise ValueError(
            f"cannot use {handle} as the speech backbone: found {describe_saved_model(obj)}. "
            "Needed: a `__call__` that takes one float32 waveform tensor [batch, samples] "
            "(with or without a `training` argument) and returns frames "
            "[batch, frames, hidden], as the TF-Hub wav2vec2 does.")
    spec, output = usable[0]
    frames = output.shape[1]
    return CallConvention(input_length=spec.shape[-1], frames=frames,
                          hidden_size=int(output.shape[-1]), takes_training=takes_training)


_REPORTED_NO_TRAINING = set()


def clean_variable_name(name: str) -> str:
    """`encoder/layer_0/q:0` -> `encoder_layer_0_q` (Keras forbids `/`, optimizers `:`)."""
    return name.split(":")[0].replace("/", "_")


@keras.saving.register_keras_serializable(package=PACKAGE)
class TFHubSpeechBackbone(SpeechBackbone):
    """A TF-Hub wav2vec2 SavedModel behind the speech-backbone contract: its last layer's
    frames as one state, and the frame mask from the lengths (the SavedModel takes no mask;
    `mer_tf.frames` gives its geometry).

    Calls the SavedModel's `__call__` (see `CallConvention`), passing `training`
    where the SavedModel takes it. Where it does not (the published TF-Hub form), its
    dropout stays off while fine-tuning, as under the paper's `hub.KerasLayer`;
    `describe()` says which (for config.json), and it is logged once per handle.

    Args:
        handle: TF-Hub URL or local SavedModel directory.
        trainable: fine-tune the SavedModel's own variables (False: frozen).

    Example:
        >>> backbone = TFHubSpeechBackbone("/path/to/saved_model")  # doctest: +SKIP
        >>> states, mask = backbone(waveforms, lengths)  # [B, 1, T, H], [B, T]  # doctest: +SKIP
    """

    kind = "tfhub"

    def __init__(self, handle: str, **kwargs):
        kwargs.setdefault("dtype", "float32")  # the SavedModel computes in float32
        super().__init__(**kwargs)
        self.handle = str(handle)
        self._hub = load_hub_model(self.handle)
        self.convention = read_call_convention(self._hub, self.handle)
        self.input_length = self.convention.input_length
        self.hidden_size = self.convention.hidden_size
        self.num_states = 1
        trainable = {id(v) for v in getattr(self._hub, "trainable_variables", [])}
        for variable in getattr(self._hub, "variables", []):
            self._track_variable(keras.Variable(
                initializer=variable, trainable=id(variable) in trainable,
                dtype=variable.dtype, shape=variable.shape,
                name=clean_variable_name(variable.name)))
        self.built = True
        if self.trainable and not self.convention.takes_training:
            if self.handle not in _REPORTED_NO_TRAINING:
                _REPORTED_NO_TRAINING.add(self.handle)
                log.warning("%s: its __call__ takes no `training` argument (the published "
                            "TF-Hub form), so its dropout stays off while fine-tuning, as "
                            "under the paper's hub.KerasLayer", self.handle)

    def frames_for(self, samples: int) -> int:
        return int(self.convention.frames or frames_for_samples(samples))

    def cache_key(self) -> list:
        return []  # the handle and input length say it all (as before the contract)

    def describe(self) -> dict:
        """Facts about the loaded SavedModel, for the run's config.json."""
        return {"kind": self.kind, "handle": self.handle, "input_length": self.input_length,
                "hidden_size": self.hidden_size, "trainable": self.trainable,
                "takes_training_argument": self.convention.takes_training,
                "dropout_when_fine_tuning": self.convention.takes_training and self.trainable}

    def encode(self, waveforms, training=None):
        """The SavedModel's own output: frames [B, T, H] of its last layer."""
        import tensorflow as tf

        waveforms = tf.cast(waveforms, tf.float32)
        if self.convention.takes_training:
            return self._hub(waveforms, training=bool(training) and self.trainable)
        return self._hub(waveforms)

    def call(self, waveform, waveform_length, training=None):
        frames = self.encode(waveform, training)
        valid = ops.maximum(frames_for_samples(ops.cast(waveform_length, "int32")), 0)
        positions = ops.arange(ops.shape(frames)[1], dtype="int32")
        mask = ops.cast(positions[None, :] < valid[:, None], "int32")
        return ops.expand_dims(frames, 1), mask

    def compute_output_spec(self, waveform, waveform_length, training=None):
        frames = self.frames_for(waveform.shape[-1]) if waveform.shape[-1] else None
        return (keras.KerasTensor((waveform.shape[0], 1, frames, self.hidden_size), "float32"),
                keras.KerasTensor((waveform.shape[0], frames), "int32"))

    def get_config(self):
        return {**super().get_config(), "handle": self.handle}

    @classmethod
    def from_config(cls, config):
        """Loading a `.keras` file loads the SavedModel its `handle` names. A remote handle
        (a URL) is refused under `safe_mode` (Keras' default): a file from elsewhere must
        not make this process fetch and run a graph from anywhere it says."""
        from keras.src.saving import serialization_lib

        handle = str(config.get("handle", ""))
        if "://" in handle and serialization_lib.in_safe_mode() is True:
            raise ValueError(
                f"this .keras file's speech backbone is the remote handle {handle!r}; under "
                "safe_mode it is not fetched. Load the file with safe_mode=False only if you "
                "trust it, or replace the handle with a local SavedModel directory.")
        return cls(**config)
