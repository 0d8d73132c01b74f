"""The layers of the wav2vec2 family (wav2vec2, HuBERT, WavLM) in Keras 3: the conv
feature encoder, the positional convolution, self-attention (with WavLM's gated relative
position bias) and the transformer layer. `wav2vec2_encoder` assembles them.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from mer_tf.frames import frames_for_samples
from mer_tf.models.layers import PACKAGE

_ACTIVATIONS = {
    "gelu": lambda x: keras.activations.gelu(x, approximate=False),
    "gelu_new": lambda x: keras.activations.gelu(x, approximate=True),
    "gelu_pytorch_tanh": lambda x: keras.activations.gelu(x, approximate=True),
    "relu": keras.activations.relu,
    "swish": keras.activations.silu,
    "silu": keras.activations.silu,
}
_NEG = -1e9


def activation(name):
    if name not in _ACTIVATIONS:
        raise ValueError(f"unsupported activation {name!r}; known: {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


def zero_mean_unit_var_norm(waveforms, sample_lengths):
    """HF `Wav2Vec2FeatureExtractor(do_normalize=True)`: each waveform's valid samples to zero
    mean and unit variance (population variance + 1e-7); padded samples become 0."""
    valid = ops.cast(ops.arange(ops.shape(waveforms)[1])[None, :] < sample_lengths[:, None],
                     waveforms.dtype)
    count = ops.maximum(ops.sum(valid, axis=1, keepdims=True), 1.0)
    mean = ops.sum(waveforms * valid, axis=1, keepdims=True) / count
    var = ops.sum(ops.square(waveforms - mean) * valid, axis=1, keepdims=True) / count
    return (waveforms - mean) / ops.sqrt(var + 1e-7) * valid


def relative_position_bucket_table(num_buckets, max_distance):
    """WavLM bucket of |relative distance| 0..max_distance (larger distances share the last
    entry), computed in float32 in the order transformers' `_relative_positions_bucket` uses."""
    half = num_buckets // 2
    max_exact = half // 2
    dist = np.arange(max_distance + 1)
    with np.errstate(divide="ignore"):
        large = np.log(dist.astype(np.float32) / np.float32(max_exact))
    large = large / np.float32(math.log(max_distance / max_exact))
    large = large * np.float32(half - max_exact)
    large = np.where(dist < max_exact, 0, (np.float32(max_exact) + large)).astype(np.int64)
    large = np.minimum(large, half - 1)
    return np.where(dist < max_exact, dist, large).astype("int32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelGroupNorm(keras.layers.Layer):
    """torch `GroupNorm(num_groups=C, num_channels=C)` on [B, T, C] (per channel over time),
    with the statistics optionally restricted to the frames where `valid` is true."""

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="beta")

    def call(self, x, valid=None):
        if valid is None:
            mean = ops.mean(x, axis=1, keepdims=True)
            var = ops.mean(ops.square(x - mean), axis=1, keepdims=True)
        else:
            m = ops.cast(valid, x.dtype)[:, :, None]
            n = ops.maximum(ops.sum(m, axis=1, keepdims=True), 1.0)
            mean = ops.sum(x * m, axis=1, keepdims=True) / n
            var = ops.sum(ops.square(x - mean) * m, axis=1, keepdims=True) / n
        return (x - mean) * ops.rsqrt(var + self.epsilon) * self.gamma + self.beta

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


class FeatureEncoder(keras.layers.Layer):
    """The convolutional feature encoder (HF `feature_extractor`): [B, S] ->
    [B, T, conv_dim[-1]]."""

    def __init__(self, cfg, mask_group_norm=True, **kwargs):
        super().__init__(**kwargs)
        self.cfg, self.mask_group_norm = cfg, mask_group_norm
        self.act = activation(cfg["feat_extract_activation"])
        geometry = zip(cfg["conv_dim"], cfg["conv_kernel"], cfg["conv_stride"])
        self.convs = [keras.layers.Conv1D(dim, k, strides=s, use_bias=cfg["conv_bias"],
                                          name=f"conv_{i}")
                      for i, (dim, k, s) in enumerate(geometry)]
        if cfg["feat_extract_norm"] == "group":
            self.norms = [ChannelGroupNorm(name="norm_0")]
        else:
            self.norms = [keras.layers.LayerNormalization(epsilon=1e-5, name=f"norm_{i}")
                          for i in range(len(self.convs))]

    def build(self, input_shape):
        channels = 1
        for i, conv in enumerate(self.convs):
            conv.build((None, None, channels))
            channels = self.cfg["conv_dim"][i]
            if i < len(self.norms):
                self.norms[i].build((None, None, channels))

    def call(self, waveforms, sample_lengths):
        x = waveforms[:, :, None]
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.norms):
                if isinstance(self.norms[i], ChannelGroupNorm):
                    valid = None
                    if self.mask_group_norm:
                        lengths = frames_for_samples(sample_lengths, self.cfg["conv_kernel"][:1],
                                                     self.cfg["conv_stride"][:1])
                        valid = ops.arange(ops.shape(x)[1])[None, :] < lengths[:, None]
                    x = self.norms[i](x, valid=valid)
                else:
                    x = self.norms[i](x)
            x = self.act(x)
        return x


def grouped_conv1d(x, kernel, groups):
    """A grouped 'valid' convolution computed as one convolution per group, concatenated.

    Same numbers as `ops.conv` with `groups` (kernel [width, in/groups, out], output
    channels of group g after those of g - 1), but TensorFlow's CPU kernels have no
    fast gradient for a grouped convolution: for wav2vec2-base's positional convolution
    (width 128, 16 groups) its backward pass took 12.7 s where this one takes 0.4 s, 90 %
    of a fine-tuning step (`benchmarks.speech_backbones`). The forward pass is no slower.
    """
    size_in, size_out = x.shape[-1] // groups, kernel.shape[-1] // groups
    return ops.concatenate([
        ops.conv(x[..., g * size_in:(g + 1) * size_in],
                 kernel[:, :, g * size_out:(g + 1) * size_out], padding="valid")
        for g in range(groups)], axis=-1)


class PositionalConvEmbedding(keras.layers.Layer):
    """Grouped 'same' convolution (weight norm folded into `conv.kernel` at load time)."""

    def __init__(self, cfg, **kwargs):
        super().__init__(**kwargs)
        self.width = cfg["num_conv_pos_embeddings"]
        self.groups = cfg["num_conv_pos_embedding_groups"]
        self.conv = keras.layers.Conv1D(cfg["hidden_size"], self.width, groups=self.groups,
                                        name="conv")  # holds the weights; see `call`
        self.act = activation(cfg["feat_extract_activation"])

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, x):
        # In float32 whatever the policy: oneDNN's bfloat16 kernels on CPUs with AMX
        # (Intel Xeon 4th generation and later) computed this convolution wrong by as much
        # as its own size (mixed_bfloat16 against float32, 1.31 of 1.37), where the other
        # layers stay within 2 %; it is a small part of the model's work.
        pad = self.width // 2
        padded = ops.pad(ops.cast(x, "float32"), ((0, 0), (pad, pad), (0, 0)))
        kernel = ops.cast(self.conv.kernel, "float32")
        y = grouped_conv1d(padded, kernel, self.groups) + ops.cast(self.conv.bias, "float32")
        y = self.act(y[:, : ops.shape(x)[1], :])  # HF's SamePad drops the extra frame
        return ops.cast(y, x.dtype)


class SelfAttention(keras.layers.Layer):
    """Multi-head self-attention; for WavLM with the gated relative position bias."""

    def __init__(self, cfg, relative=False, has_bias_table=False, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.heads = cfg["hidden_size"], cfg["num_attention_heads"]
        self.head_dim = self.hidden // self.heads
        self.relative, self.has_bias_table = relative, has_bias_table
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            setattr(self, n, keras.layers.Dense(self.hidden, name=n))
        if relative:
            self.num_buckets, self.max_distance = cfg["num_buckets"], cfg["max_bucket_distance"]
            self.gru_rel_pos_linear = keras.layers.Dense(8, name="gru_rel_pos_linear")

    def build(self, input_shape):
        for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
            getattr(self, n).build((None, None, self.hidden))
        if self.relative:
            self.gru_rel_pos_linear.build((None, None, None, self.head_dim))
            self.gru_rel_pos_const = self.add_weight(shape=(1, self.heads, 1, 1),
                                                     initializer="ones", name="gru_rel_pos_const")
            if self.has_bias_table:
                self.rel_attn_embed = self.add_weight(shape=(self.num_buckets, self.heads),
                                                      name="rel_attn_embed")

    def _split(self, x, b, t):
        return ops.transpose(ops.reshape(x, (b, t, self.heads, self.head_dim)), (0, 2, 1, 3))

    def compute_bias(self, t):
        """[heads, T, T] ungated relative position bias (first WavLM layer only)."""
        table = ops.convert_to_tensor(relative_position_bucket_table(self.num_buckets,
                                                                     self.max_distance))
        pos = ops.arange(t)
        rel = pos[None, :] - pos[:, None]  # memory - context
        distance = ops.minimum(ops.abs(rel), self.max_distance)
        bucket = ops.where(rel > 0, self.num_buckets // 2, 0) + ops.take(table, distance)
        return ops.transpose(ops.take(self.rel_attn_embed, bucket, axis=0), (2, 0, 1))

    def call(self, x, frame_mask, position_bias=None):
        """`frame_mask` [B, T] bool: the additive mask is made here, in float32, because
        Keras casts a layer's float call inputs to its compute dtype (bfloat16 under mixed
        precision), and a boolean passes through unchanged."""
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        q = self._split(self.q_proj(x), b, t) * (self.head_dim ** -0.5)
        k, v = self._split(self.k_proj(x), b, t), self._split(self.v_proj(x), b, t)
        scores = ops.cast(ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))), "float32")
        scores = scores + ops.where(frame_mask, 0.0, _NEG)[:, None, None, :]
        if self.relative:
            if position_bias is None:
                position_bias = self.compute_bias(t)
            proj = self.gru_rel_pos_linear(ops.reshape(x, (b, t, self.heads, self.head_dim)))
            proj = ops.sigmoid(ops.sum(ops.reshape(proj, (b, t, self.heads, 2, 4)), axis=-1))
            const = ops.reshape(self.gru_rel_pos_const, (1, 1, self.heads))
            gate = proj[..., 0] * (proj[..., 1] * const - 1.0) + 2.0  # [B, T, H]
            gate = ops.cast(ops.transpose(gate, (0, 2, 1))[..., None], "float32")
            scores = scores + gate * ops.cast(position_bias[None], "float32")
        out = ops.matmul(ops.cast(ops.softmax(scores, axis=-1), v.dtype), v)  # softmax in float32
        out = ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (b, t, self.hidden))
        return self.out_proj(out), position_bias


class EncoderLayer(keras.layers.Layer):
    """Post-norm (base) or pre-norm (`do_stable_layer_norm`) transformer layer."""

    def __init__(self, cfg, index, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.stable = cfg["hidden_size"], cfg["do_stable_layer_norm"]
        wavlm = cfg["model_type"] == "wavlm"
        self.attention = SelfAttention(cfg, relative=wavlm, has_bias_table=wavlm and index == 0,
                                       name="attention")
        eps = cfg["layer_norm_eps"]
        self.layer_norm = keras.layers.LayerNormalization(epsilon=eps, name="layer_norm")
        self.final_layer_norm = keras.layers.LayerNormalization(epsilon=eps,
                                                                name="final_layer_norm")
        self.intermediate_dense = keras.layers.Dense(cfg["intermediate_size"],
                                                     name="intermediate_dense")
        self.output_dense = keras.layers.Dense(self.hidden, name="output_dense")
        self.act = activation(cfg["hidden_act"])

    def build(self, input_shape):
        shape = (None, None, self.hidden)
        for layer in (self.attention, self.layer_norm, self.final_layer_norm,
                      self.intermediate_dense):
            layer.build(shape)
        self.output_dense.build((None, None, self.intermediate_dense.units))

    def _ffn(self, x):
        return self.output_dense(self.act(self.intermediate_dense(x)))

    def call(self, x, frame_mask, position_bias=None):
        if self.stable:
            a, position_bias = self.attention(self.layer_norm(x), frame_mask, position_bias)
            x = x + a
            return x + self._ffn(self.final_layer_norm(x)), position_bias
        a, position_bias = self.attention(x, frame_mask, position_bias)
        x = self.layer_norm(x + a)
        return self.final_layer_norm(x + self._ffn(x)), position_bias
