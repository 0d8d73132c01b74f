"""Builds wav2vec2-shaped SavedModels in the call conventions TF-Hub's wav2vec2 was published in.

TF-Hub downloads are impossible here, so the demo and the tests use a small
model built by `save_wav2vec2` that has what the real
`https://tfhub.dev/vasudevgupta7/wav2vec2/1` has: a fixed-length float32
waveform input, a convolutional feature encoder with total stride 320 (kernels
10,3,3,3,3,2,2; strides 5,2,2,2,2,2,2), a convolutional position embedding,
post-norm transformer layers, output [batch, frames, hidden], and the
`variables` / `trainable_variables` / `regularization_losses` attributes of a
reusable SavedModel. `BASE` has wav2vec2-base's shapes (random weights) for
paper-size speed and memory measurements.

The call structure follows the producer, `vasudevgupta7/gsoc-wav2vec2`
(`src/export2hub.py` and `src/wav2vec2/modeling.py`), in one of its two forms:

- `FORM_2021_07`, the published upload (commit be82ca1): `__call__` is a
  `tf.function` over one positional `TensorSpec((None, L), float32, name="speech")`
  with no `training` argument; a stale Keras `serving_default` signature of another
  length (keyword `input_1`, 50 000 samples, output key `output_1`) stays beside it.
- `FORM_2021_09`, the September export (commit 9f32c77): a Keras 2 model saved as
  is, so `__call__(input_1, attention_mask=None, training)` is traced with
  `training` True and False, and `serving_default` takes `input_1` of length L.

`tests/fixtures/make_gsoc_wav2vec2.py` rebuilds both forms, tiny, from the
producer's own code; a test checks that these stand-ins match them.
"""

from __future__ import annotations

import dataclasses
import math

from mer_tf.frames import CONV_KERNELS, CONV_STRIDES

FORM_2021_07 = "2021-07"
FORM_2021_09 = "2021-09"
FORMS = (FORM_2021_07, FORM_2021_09)
STALE_SERVING_LENGTH = 50000  # the Keras build input of the upload's Wav2Vec2Model


@dataclasses.dataclass(frozen=True)
class Wav2Vec2Config:
    conv_channels: int = 512
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    input_length: int = 246000  # samples at 16 kHz, as the TF-Hub model
    dropout: float = 0.1
    seed: int = 0


BASE = Wav2Vec2Config()
TINY = Wav2Vec2Config(conv_channels=32, hidden_size=32, num_layers=2, num_heads=2,
                      intermediate_size=64, pos_conv_kernel=16, pos_conv_groups=4,
                      input_length=48000)


def _build_module(config: Wav2Vec2Config):
    import tensorflow as tf

    class Wav2Vec2Module(tf.Module):
        """wav2vec2 forward pass in plain TF ops (no Keras), so it saves as a bare SavedModel."""

        def __init__(self, c: Wav2Vec2Config):
            super().__init__(name="wav2vec2")
            self.c = c
            seed = [c.seed, 0]
            counter = iter(range(10**6))

            def weight(shape, name, fan_in):
                value = tf.random.stateless_normal(shape, seed=[seed[0], next(counter)],
                                                   stddev=1.0 / math.sqrt(fan_in))
                return tf.Variable(value, name=name)

            def ones(n, name):
                return tf.Variable(tf.ones([n]), name=name)

            def zeros(n, name):
                return tf.Variable(tf.zeros([n]), name=name)

            h = c.hidden_size
            self.conv = []
            in_channels = 1
            for i, kernel in enumerate(CONV_KERNELS):
                self.conv.append(weight([kernel, in_channels, c.conv_channels],
                                        f"feature_encoder/conv_{i}/kernel", kernel * in_channels))
                in_channels = c.conv_channels
            self.group_norm = (ones(c.conv_channels, "feature_encoder/group_norm/gamma"),
                               zeros(c.conv_channels, "feature_encoder/group_norm/beta"))
            self.feature_norm = (ones(c.conv_channels, "feature_projection/layer_norm/gamma"),
                                 zeros(c.conv_channels, "feature_projection/layer_norm/beta"))
            self.projection = (weight([c.conv_channels, h], "feature_projection/projection/kernel",
                                      c.conv_channels),
                               zeros(h, "feature_projection/projection/bias"))
            group = h // c.pos_conv_groups
            self.pos_conv = (weight([c.pos_conv_kernel, group, h], "encoder/pos_conv_embed/kernel",
                                    c.pos_conv_kernel * group),
                             zeros(h, "encoder/pos_conv_embed/bias"))
            self.encoder_norm = (ones(h, "encoder/layer_norm/gamma"),
                                 zeros(h, "encoder/layer_norm/beta"))
            self.layers = []
            for i in range(c.num_layers):
                p = f"encoder/layer_{i}"
                self.layers.append({
                    "q": weight([h, h], f"{p}/attention/q_proj/kernel", h),
                    "k": weight([h, h], f"{p}/attention/k_proj/kernel", h),
                    "v": weight([h, h], f"{p}/attention/v_proj/kernel", h),
                    "o": weight([h, h], f"{p}/attention/out_proj/kernel", h),
                    "qb": zeros(h, f"{p}/attention/q_proj/bias"),
                    "kb": zeros(h, f"{p}/attention/k_proj/bias"),
                    "vb": zeros(h, f"{p}/attention/v_proj/bias"),
                    "ob": zeros(h, f"{p}/attention/out_proj/bias"),
                    "ln1": (ones(h, f"{p}/layer_norm/gamma"), zeros(h, f"{p}/layer_norm/beta")),
                    "ff1": weight([h, c.intermediate_size], f"{p}/feed_forward/intermediate/kernel",
                                  h),
                    "ff1b": zeros(c.intermediate_size, f"{p}/feed_forward/intermediate/bias"),
                    "ff2": weight([c.intermediate_size, h], f"{p}/feed_forward/output/kernel",
                                  c.intermediate_size),
                    "ff2b": zeros(h, f"{p}/feed_forward/output/bias"),
                    "ln2": (ones(h, f"{p}/final_layer_norm/gamma"),
                            zeros(h, f"{p}/final_layer_norm/beta")),
                })

        @staticmethod
        def _layer_norm(x, params, axes=(-1,)):
            mean, variance = tf.nn.moments(x, axes=list(axes), keepdims=True)
            return (x - mean) * tf.math.rsqrt(variance + 1e-5) * params[0] + params[1]

        def _dropout(self, x, training):
            return tf.nn.dropout(x, self.c.dropout) if training and self.c.dropout else x

        def forward(self, waveform, training):
            c = self.c
            x = waveform[:, :, None]
            for i, (kernel, stride) in enumerate(zip(CONV_KERNELS, CONV_STRIDES)):
                x = tf.nn.conv1d(x, self.conv[i], stride=stride, padding="VALID")
                if i == 0:  # group norm with one group per channel: normalise over time
                    x = self._layer_norm(x, self.group_norm, axes=(1,))
                x = tf.nn.gelu(x)
            x = self._layer_norm(x, self.feature_norm)
            x = tf.matmul(x, self.projection[0]) + self.projection[1]
            x = self._dropout(x, training)
            groups = tf.split(x, c.pos_conv_groups, axis=-1)
            kernels = tf.split(self.pos_conv[0], c.pos_conv_groups, axis=-1)
            pos = tf.concat([tf.nn.conv1d(g, k, stride=1, padding="SAME")
                             for g, k in zip(groups, kernels)], axis=-1)
            x = x + tf.nn.gelu(pos + self.pos_conv[1])
            x = self._layer_norm(x, self.encoder_norm)
            heads, size = c.num_heads, c.hidden_size // c.num_heads
            for p in self.layers:
                def split(t):
                    t = tf.reshape(t, [tf.shape(t)[0], tf.shape(t)[1], heads, size])
                    return tf.transpose(t, [0, 2, 1, 3])

                q = split(tf.matmul(x, p["q"]) + p["qb"])
                k = split(tf.matmul(x, p["k"]) + p["kb"])
                v = split(tf.matmul(x, p["v"]) + p["vb"])
                weights = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / math.sqrt(size))
                weights = self._dropout(weights, training)
                attended = tf.transpose(tf.matmul(weights, v), [0, 2, 1, 3])
                attended = tf.reshape(attended, tf.shape(x))
                x = self._layer_norm(x + self._dropout(tf.matmul(attended, p["o"]) + p["ob"],
                                                       training), p["ln1"])
                hidden = tf.nn.gelu(tf.matmul(x, p["ff1"]) + p["ff1b"])
                x = self._layer_norm(x + self._dropout(tf.matmul(hidden, p["ff2"]) + p["ff2b"],
                                                       training), p["ln2"])
            return x

    return Wav2Vec2Module(config)


def save_wav2vec2(path: str, config: Wav2Vec2Config = TINY, form: str = FORM_2021_07) -> str:
    """Writes a wav2vec2-shaped reusable SavedModel to `path` in `form`; returns `path`."""
    import tensorflow as tf

    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    module = _build_module(config)
    root = tf.train.Checkpoint()
    root.model = module
    length = config.input_length
    if form == FORM_2021_07:
        speech = tf.TensorSpec([None, length], tf.float32, name="speech")
        root.__call__ = tf.function(lambda speech: module.forward(speech, False),
                                    input_signature=[speech])
        stale = tf.TensorSpec([None, STALE_SERVING_LENGTH], tf.float32, name="input_1")
        serving = tf.function(lambda input_1: {"output_1": module.forward(input_1, False)},
                              input_signature=[stale])
    else:
        spec = tf.TensorSpec([None, length], tf.float32, name="input_1")

        @tf.function
        def call(input_1, attention_mask=None, training=False):
            del attention_mask  # wav2vec2-base checkpoints take none (modeling.py)
            return module.forward(input_1, training)

        call.get_concrete_function(spec, None, True)
        call.get_concrete_function(spec, None, False)
        root.__call__ = call
        serving = tf.function(lambda input_1: {"output_1": module.forward(input_1, False)},
                              input_signature=[spec])
    root.variables = list(module.variables)
    root.trainable_variables = list(module.trainable_variables)
    root.regularization_losses = []
    tf.saved_model.save(root, path, signatures={"serving_default": serving})
    return path
