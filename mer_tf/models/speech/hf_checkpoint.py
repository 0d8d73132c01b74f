"""Builds a `Wav2Vec2FamilyEncoder` from a local Hugging Face checkpoint, offline and strictly.

    # config.json + model.safetensors
    backbone = load_hf_speech_checkpoint("path/to/wavlm-base-plus")

`config.json`'s `model_type` must be wav2vec2, hubert or wavlm. The weights are read with
`safetensors.numpy` (no torch). Name mapping (`NAME_MAP` below, HF key -> attribute path
of our backbone -> transform; `{i}` = conv layer, `{j}` = transformer layer):

- torch Linear `[out, in]` is transposed to a Keras Dense kernel `[in, out]`;
- torch Conv1d `[out, in/groups, k]` becomes a Keras Conv1D kernel `[k, in/groups, out]`;
- the positional convolution's weight norm is folded into a plain kernel,
  `w = g * v / ||v||` (norm over all axes but the kernel axis, torch `dim=2`); accepted as
  `parametrizations.weight.original0/original1` (torch >= 2.1), `weight_g/weight_v`
  (older), or an already folded `weight`;
- a checkpoint of a model with a head (`Wav2Vec2ForCTC`, `...ForPreTraining`, ...)
  stores the encoder under `wav2vec2.` / `hubert.` / `wavlm.`: that prefix is stripped
  and the top-level keys listed in `HEAD_PREFIXES` (CTC / classification heads,
  quantizer, ...) are ignored;
- `masked_spec_embed` (the SpecAugment time-mask vector, training-time only) is
  ignored on purpose.

`preprocessor_config.json`, when present, decides (by its `do_normalize`) whether the
backbone normalizes each waveform in the graph, as HF's feature extractor would.

Any other key that the table does not know, a key the configuration needs that the file
lacks, or a shape that disagrees raises a ValueError naming the key and the file.
"""

from __future__ import annotations

import json
import os

import numpy as np

from mer_tf.frames import CONV_KERNELS, CONV_STRIDES

SUPPORTED_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm")
IGNORED_KEYS = ("masked_spec_embed",)
HEAD_PREFIXES = ("lm_head.", "quantizer.", "project_hid.", "project_q.", "projector.",
                 "classifier.", "layer_weights", "tdnn.", "feature_extractor.", "objective.",
                 "label_embeddings_concat", "final_proj.", "dropout_features")
WEIGHT_NORM_FORMS = (("parametrizations.weight.original0", "parametrizations.weight.original1"),
                     ("weight_g", "weight_v"), ("weight",))
_LAYER_LINEARS = (("attention.q_proj", "attention.q_proj"),
                  ("attention.k_proj", "attention.k_proj"),
                  ("attention.v_proj", "attention.v_proj"),
                  ("attention.out_proj", "attention.out_proj"),
                  ("feed_forward.intermediate_dense", "intermediate_dense"),
                  ("feed_forward.output_dense", "output_dense"))
_CONV = "feature_extractor.conv_layers.{i}"
_LAYER, _OURS = "encoder.layers.{j}", "encoder_layers.{j}"

# (HF key template, our attribute path template, transform, when it applies)
NAME_MAP = (
    (f"{_CONV}.conv.weight", "feature_encoder.convs.{i}.kernel", "conv", "always"),
    (f"{_CONV}.conv.bias", "feature_encoder.convs.{i}.bias", "copy", "conv_bias"),
    (f"{_CONV}.layer_norm.weight", "feature_encoder.norms.{i}.gamma", "copy", "conv_norm"),
    (f"{_CONV}.layer_norm.bias", "feature_encoder.norms.{i}.beta", "copy", "conv_norm"),
    ("feature_projection.layer_norm.weight", "projection_norm.gamma", "copy", "proj_norm"),
    ("feature_projection.layer_norm.bias", "projection_norm.beta", "copy", "proj_norm"),
    ("feature_projection.projection.weight", "projection.kernel", "linear", "always"),
    ("feature_projection.projection.bias", "projection.bias", "copy", "always"),
    ("encoder.pos_conv_embed.conv.<weight_norm>", "pos_conv.conv.kernel", "weight_norm", "always"),
    ("encoder.pos_conv_embed.conv.bias", "pos_conv.conv.bias", "copy", "always"),
    ("encoder.layer_norm.weight", "encoder_norm.gamma", "copy", "always"),
    ("encoder.layer_norm.bias", "encoder_norm.beta", "copy", "always"),
) + tuple(
    (f"{_LAYER}.{hf}.weight", f"{_OURS}.{ours}.kernel", "linear", "always")
    for hf, ours in _LAYER_LINEARS
) + tuple(
    (f"{_LAYER}.{hf}.bias", f"{_OURS}.{ours}.bias", "copy", "always")
    for hf, ours in _LAYER_LINEARS
) + (
    (f"{_LAYER}.layer_norm.weight", f"{_OURS}.layer_norm.gamma", "copy", "always"),
    (f"{_LAYER}.layer_norm.bias", f"{_OURS}.layer_norm.beta", "copy", "always"),
    (f"{_LAYER}.final_layer_norm.weight", f"{_OURS}.final_layer_norm.gamma", "copy", "always"),
    (f"{_LAYER}.final_layer_norm.bias", f"{_OURS}.final_layer_norm.beta", "copy", "always"),
    (f"{_LAYER}.attention.gru_rel_pos_const", f"{_OURS}.attention.gru_rel_pos_const", "copy",
     "wavlm"),
    (f"{_LAYER}.attention.gru_rel_pos_linear.weight",
     f"{_OURS}.attention.gru_rel_pos_linear.kernel", "linear", "wavlm"),
    (f"{_LAYER}.attention.gru_rel_pos_linear.bias", f"{_OURS}.attention.gru_rel_pos_linear.bias",
     "copy", "wavlm"),
    (f"{_LAYER}.attention.rel_attn_embed.weight", f"{_OURS}.attention.rel_attn_embed", "copy",
     "wavlm_first_layer"),
)

# HF config defaults for fields that older config.json files may omit.
CONFIG_DEFAULTS = dict(
    hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
    hidden_act="gelu", layer_norm_eps=1e-5, feat_extract_norm="group",
    feat_extract_activation="gelu", conv_bias=False,
    conv_dim=(512,) * 7, conv_stride=CONV_STRIDES, conv_kernel=CONV_KERNELS,
    num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16, do_stable_layer_norm=False,
    feat_proj_layer_norm=True, num_buckets=320, max_bucket_distance=800,
)


def read_config(config_path):
    """The backbone's config fields from a HF `config.json`; unsupported variants raise
    ValueError."""
    with open(config_path) as f:
        raw = json.load(f)
    model_type = raw.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(f"{config_path}: field 'model_type' is {model_type!r}; supported: "
                         f"{SUPPORTED_MODEL_TYPES}")
    cfg = {k: raw.get(k, v) for k, v in CONFIG_DEFAULTS.items()}
    cfg["model_type"] = model_type
    if model_type != "hubert":
        cfg["feat_proj_layer_norm"] = True  # wav2vec2 / WavLM always have it
    for k in ("conv_dim", "conv_stride", "conv_kernel"):
        cfg[k] = [int(v) for v in cfg[k]]
    problems = {
        "feat_extract_norm": cfg["feat_extract_norm"] not in ("group", "layer"),
        "conv_stride": not (len(cfg["conv_dim"]) == len(cfg["conv_kernel"])
                            == len(cfg["conv_stride"])
                            == raw.get("num_feat_extract_layers", len(cfg["conv_dim"]))),
        "add_adapter": bool(raw.get("add_adapter", False)),
        "adapter_attn_dim": raw.get("adapter_attn_dim") is not None,
        "conv_pos_batch_norm": bool(raw.get("conv_pos_batch_norm", False)),
    }
    for field, bad in problems.items():
        if bad:
            raise ValueError(f"{config_path}: field {field!r} = {raw.get(field)!r} is not "
                             "supported")
    return cfg


def _applies(condition, cfg, i=None, j=None):
    return {"always": True, "conv_bias": cfg["conv_bias"],
            "conv_norm": i is not None and (cfg["feat_extract_norm"] == "layer" or i == 0),
            "proj_norm": cfg["feat_proj_layer_norm"], "wavlm": cfg["model_type"] == "wavlm",
            "wavlm_first_layer": cfg["model_type"] == "wavlm" and j == 0}[condition]


def expected_entries(cfg):
    """{HF key: (attribute path, transform)} that this configuration needs, in table order."""
    out = {}
    for hf, ours, transform, cond in NAME_MAP:
        if "{i}" in hf:
            index = [dict(i=i) for i in range(len(cfg["conv_dim"]))]
        elif "{j}" in hf:
            index = [dict(j=j) for j in range(cfg["num_hidden_layers"])]
        else:
            index = [{}]
        for ix in index:
            if _applies(cond, cfg, **ix):
                out[hf.format(**ix)] = (ours.format(**ix), transform)
    return out


def _resolve(obj, path):
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def _fold_weight_norm(tensors, base, path):
    for form in WEIGHT_NORM_FORMS:
        keys = [f"{base}.{suffix}" for suffix in form]
        if all(k in tensors for k in keys):
            used = set(keys)
            if len(form) == 1:
                return tensors[keys[0]], used
            g, v = (tensors[k].astype(np.float32) for k in keys)
            norm = np.sqrt(np.sum(np.square(v), axis=(0, 1), keepdims=True))
            if g.ndim != 3 or g.shape[2] != v.shape[2]:
                raise ValueError(f"{path}: key {keys[0]!r} has shape {g.shape}; expected "
                                 f"(1, 1, {v.shape[2]}) (weight norm over the kernel axis, "
                                 "dim=2)")
            return g * v / norm, used
    raise ValueError(f"{path}: missing key {base}.parametrizations.weight.original0/original1 "
                     f"(or {base}.weight_g/weight_v, or {base}.weight)")


_TRANSFORMS = {"copy": lambda a: a, "linear": lambda a: a.T, "conv": lambda a: a.transpose(2, 1, 0),
               "weight_norm": lambda a: a.transpose(2, 1, 0)}


def _strip_prefix(tensors, model_type, path):
    prefix = f"{model_type}."
    if not any(k.startswith(prefix) for k in tensors):
        return tensors
    out = {}
    for k, v in tensors.items():
        if k.startswith(prefix):
            out[k[len(prefix):]] = v
        elif not k.startswith(HEAD_PREFIXES):
            raise ValueError(f"{path}: unknown key {k!r} (neither under {prefix!r} nor a known "
                             "head)")
    return out


def read_do_normalize(directory):
    """`do_normalize` of `directory`/preprocessor_config.json (HF's feature extractor), False
    if absent."""
    path = os.path.join(directory, "preprocessor_config.json")
    if not os.path.exists(path):
        return False
    with open(path) as f:
        value = json.load(f).get("do_normalize", False)
    if not isinstance(value, bool):
        raise ValueError(f"{path}: field 'do_normalize' is {value!r}, not true/false")
    return value


def load_hf_speech_checkpoint(directory, freeze_feature_encoder=True, mask_group_norm=True,
                              normalize_waveforms=None):
    """A built `Wav2Vec2FamilyEncoder` with the weights of `directory`/model.safetensors.

    normalize_waveforms: None (default) follows `do_normalize` of the checkpoint's
    `preprocessor_config.json` (False without one), so the backbone takes raw waveforms
    the way HF's feature extractor + model pipeline does; True / False force it."""
    from safetensors.numpy import load_file

    from mer_tf.models.speech.wav2vec2_encoder import Wav2Vec2FamilyEncoder

    cfg = read_config(os.path.join(directory, "config.json"))
    path = os.path.join(directory, "model.safetensors")
    if not os.path.exists(path):
        raise ValueError(f"{path}: not found (only safetensors checkpoints are read; no "
                         "pytorch_model.bin)")
    tensors = _strip_prefix(load_file(path), cfg["model_type"], path)
    if normalize_waveforms is None:
        normalize_waveforms = read_do_normalize(directory)
    backbone = Wav2Vec2FamilyEncoder(cfg, freeze_feature_encoder=freeze_feature_encoder,
                                     mask_group_norm=mask_group_norm,
                                     normalize_waveforms=normalize_waveforms)
    backbone.build()
    used, assigned = set(IGNORED_KEYS), set()
    for hf_key, (attr, transform) in expected_entries(cfg).items():
        if transform == "weight_norm":
            base = hf_key.rsplit(".", 1)[0]
            array, keys = _fold_weight_norm(tensors, base, path)
            used |= keys
            hf_key = sorted(keys)[-1]
        elif hf_key not in tensors:
            raise ValueError(f"{path}: missing key {hf_key!r} (needed by this config.json)")
        else:
            array = tensors[hf_key]
            used.add(hf_key)
        variable = _resolve(backbone, attr)
        value = _TRANSFORMS[transform](np.asarray(array, dtype=np.float32))
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"{path}: key {hf_key!r} has shape {tuple(array.shape)}, which "
                             f"does not fit {attr} {tuple(variable.shape)} (after the "
                             f"'{transform}' transform)")
        variable.assign(value)
        assigned.add(id(variable))
    unknown = sorted(set(tensors) - used)
    if unknown:
        more = f" (and {len(unknown) - 1} more: {unknown[1:6]})" if len(unknown) > 1 else ""
        raise ValueError(f"{path}: unknown key {unknown[0]!r}{more}")
    left = [v.path for v in backbone.weights if id(v) not in assigned]
    if left:  # a bug in NAME_MAP, not in the file
        raise RuntimeError(f"NAME_MAP leaves backbone variables unassigned: {left}")
    return backbone
