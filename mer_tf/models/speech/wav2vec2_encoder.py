"""wav2vec2, HuBERT and WavLM encoders in pure Keras 3 (`keras.ops` and Keras layers only;
tested under the TensorFlow backend), XLA-compilable and traceable into a `tf.function` /
SavedModel with a dynamic length.

`Wav2Vec2FamilyEncoder(config)` takes the Hugging Face config fields (a dict such as
`config.json`; `hf_checkpoint.load_hf_speech_checkpoint` fills it and its weights):

    out = backbone(waveforms, padding_mask)      # [B, S] float32, [B, S] 1 = real sample
    out["hidden_states"]  # num_hidden_layers + 1 tensors [B, T, hidden]
    out["frame_mask"]     # [B, T] bool, T and the valid frames from the conv geometry

Semantics follow transformers' `output_hidden_states=True`: `hidden_states[0]` is the
input of the first transformer layer (after the positional convolution, and for the
post-norm "base" variant the encoder layer norm), `hidden_states[k]` the output of layer
k; for the `do_stable_layer_norm` ("large") variant the final encoder layer norm is
applied to the last entry only (`hidden_states[-1] == last_hidden_state`, as in
transformers 4.x; transformers 5.x returns the un-normed last layer output there).

Padding. Frame lengths come from sample lengths exactly like HF
`_get_feat_extract_output_lengths`; padded frames are zeroed before the positional
convolution (as HF does), masked out of every attention (as HF does with an
`attention_mask`) and zeroed in the returned hidden states. The one place where HF's
padded-batch result depends on the padding is the group norm of the first conv layer
of `feat_extract_norm="group"` models (its statistics run over the whole padded time
axis). By default (`mask_group_norm=True`) we take those statistics over each
sequence's valid frames only, so every sequence of a padded batch gives exactly what HF
gives for that sequence run alone, unpadded. `mask_group_norm=False` reproduces HF's
padded batch run with `attention_mask` instead. Layer-norm ("large") models agree with
both. A sequence too short for one frame gets an all-False row (HF would index frame -1).
Padding is on the right, as HF assumes (the length is the mask's sum).

With `normalize_waveforms=True` the HF feature extractor's `do_normalize` step (zero
mean, unit variance over each sequence's real samples) runs in the graph first.
No dropout, LayerDrop or SpecAugment is applied (`masked_spec_embed` is not used).
"""

from __future__ import annotations

import keras
from keras import ops

from mer_tf.frames import frames_for_samples
from mer_tf.models.layers import PACKAGE
from mer_tf.models.speech.wav2vec2_layers import (
    EncoderLayer,
    FeatureEncoder,
    PositionalConvEmbedding,
    zero_mean_unit_var_norm,
)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Wav2Vec2FamilyEncoder(keras.Model):
    """wav2vec2 / HuBERT / WavLM encoder; `config` holds HF config fields (see `hf_checkpoint`).

    freeze_feature_encoder: the conv feature encoder's weights are not trainable (the
        standard practice when fine-tuning); `backbone.feature_encoder` is that sublayer.
    mask_group_norm: see the module docstring (True: per-sequence results do not depend
        on padding; False: HF's padded-batch numbers for group-norm models).
    normalize_waveforms: apply HF's feature-extractor normalization (`do_normalize` of
        `preprocessor_config.json`, `zero_mean_unit_var_norm`) in the graph, per sequence.
    """

    def __init__(self, config, freeze_feature_encoder=True, mask_group_norm=True,
                 normalize_waveforms=False, **kwargs):
        super().__init__(**kwargs)
        cfg = self.hf_config = dict(config)
        self.freeze_feature_encoder, self.mask_group_norm = freeze_feature_encoder, mask_group_norm
        self.normalize_waveforms = normalize_waveforms
        self.feature_encoder = FeatureEncoder(cfg, mask_group_norm, name="feature_encoder")
        self.feature_encoder.trainable = not freeze_feature_encoder
        self.projection_norm = None
        if cfg.get("feat_proj_layer_norm", True):
            self.projection_norm = keras.layers.LayerNormalization(epsilon=cfg["layer_norm_eps"],
                                                                   name="projection_norm")
        self.projection = keras.layers.Dense(cfg["hidden_size"], name="projection")
        self.pos_conv = PositionalConvEmbedding(cfg, name="pos_conv")
        self.encoder_norm = keras.layers.LayerNormalization(epsilon=cfg["layer_norm_eps"],
                                                            name="encoder_norm")
        self.encoder_layers = [EncoderLayer(cfg, i, name=f"layer_{i}")
                               for i in range(cfg["num_hidden_layers"])]

    def build(self, input_shape=None):
        cfg = self.hf_config
        hidden, conv_out = (None, None, cfg["hidden_size"]), (None, None, cfg["conv_dim"][-1])
        self.feature_encoder.build((None, None))
        if self.projection_norm is not None:
            self.projection_norm.build(conv_out)
        self.projection.build(conv_out)
        for layer in [self.pos_conv, self.encoder_norm] + self.encoder_layers:
            layer.build(hidden)
        self.built = True

    def frame_lengths(self, sample_lengths):
        return frames_for_samples(sample_lengths, self.hf_config["conv_kernel"],
                                           self.hf_config["conv_stride"])

    def call(self, waveforms, padding_mask=None):
        waveforms = ops.convert_to_tensor(waveforms, dtype=self.compute_dtype)
        if padding_mask is None:
            lengths = ops.full((ops.shape(waveforms)[0],), ops.shape(waveforms)[1], dtype="int32")
        else:
            lengths = ops.sum(ops.cast(padding_mask, "int32"), axis=1)
        if self.normalize_waveforms:
            waveforms = zero_mean_unit_var_norm(waveforms, lengths)
        x = self.feature_encoder(waveforms, lengths)
        frame_mask = ops.arange(ops.shape(x)[1])[None, :] < self.frame_lengths(lengths)[:, None]
        keep = ops.cast(frame_mask, x.dtype)[:, :, None]
        if self.projection_norm is not None:
            x = self.projection_norm(x)
        x = self.projection(x) * keep
        x = x + self.pos_conv(x)
        if not self.hf_config["do_stable_layer_norm"]:
            x = self.encoder_norm(x)
        hidden, position_bias = [x], None
        for layer in self.encoder_layers:
            x, position_bias = layer(x, frame_mask, position_bias)
            hidden.append(x)
        if self.hf_config["do_stable_layer_norm"]:
            hidden[-1] = self.encoder_norm(x)
        return {"hidden_states": [h * keep for h in hidden], "frame_mask": frame_mask}

    def get_config(self):
        return {**super().get_config(), "config": self.hf_config,
                "freeze_feature_encoder": self.freeze_feature_encoder,
                "mask_group_norm": self.mask_group_norm,
                "normalize_waveforms": self.normalize_waveforms}
