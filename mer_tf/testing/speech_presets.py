"""Tiny stand-ins of the speech backbones that are downloads elsewhere, written the way
their producers write them: a keras-hub Whisper preset (`save_to_preset` of the backbone
and of its audio converter) and a Hugging Face wav2vec2-family checkpoint
(`config.json` + `model.safetensors`, HF's key names; see `save_hf_speech_checkpoint`)."""

from __future__ import annotations

import json
import os


def save_tiny_whisper_preset(path: str, seconds: int = 2, hidden_dim: int = 16,
                             num_layers: int = 2, seed: int = 3) -> str:
    """A random Whisper preset with a `seconds`-long window (released ones: 30 s)."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)
    os.makedirs(path, exist_ok=True)
    backbone = keras_hub.models.WhisperBackbone(
        vocabulary_size=32, num_layers=num_layers, num_heads=2, hidden_dim=hidden_dim,
        intermediate_dim=2 * hidden_dim, num_mels=80, max_encoder_sequence_length=100 * seconds,
        max_decoder_sequence_length=8)
    backbone.save_to_preset(path)
    keras_hub.layers.WhisperAudioConverter(max_audio_length=seconds).save_to_preset(path)
    return path


# wav2vec2-base's architecture (facebook/wav2vec2-base config.json), for benchmarks.
WAV2VEC2_BASE = {
    "model_type": "wav2vec2", "hidden_size": 768, "num_hidden_layers": 12,
    "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu",
    "layer_norm_eps": 1e-5, "feat_extract_norm": "group", "do_stable_layer_norm": False,
    "conv_dim": [512] * 7, "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2], "conv_bias": False, "feat_extract_activation": "gelu",
    "num_conv_pos_embeddings": 128, "num_conv_pos_embedding_groups": 16,
    "feat_proj_layer_norm": True, "architectures": ["Wav2Vec2Model"],
}


# WavLM-large's architecture (microsoft/wavlm-large config.json), for benchmarks.
WAVLM_LARGE = {
    **WAV2VEC2_BASE, "model_type": "wavlm", "hidden_size": 1024, "num_hidden_layers": 24,
    "num_attention_heads": 16, "intermediate_size": 4096, "feat_extract_norm": "layer",
    "do_stable_layer_norm": True, "conv_bias": False, "num_buckets": 320,
    "max_bucket_distance": 800, "architectures": ["WavLMModel"],
}


def save_hf_speech_checkpoint(path: str, config: dict, seed: int = 0) -> str:
    """A random-weight checkpoint of `config` in Hugging Face's layout, built by our Keras
    model and written under HF's key names (the loader's name map, inverted): the loader
    reads it back through the same strict path as a downloaded checkpoint."""
    import keras
    import numpy as np
    from safetensors.numpy import save_file

    from mer_tf.models.speech.hf_checkpoint import _resolve, expected_entries, read_config
    from mer_tf.models.speech.wav2vec2_encoder import Wav2Vec2FamilyEncoder

    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    cfg = read_config(os.path.join(path, "config.json"))
    keras.utils.set_random_seed(seed)
    backbone = Wav2Vec2FamilyEncoder(cfg)
    backbone.build()
    tensors = {}
    for hf_key, (attr, transform) in expected_entries(cfg).items():
        array = np.asarray(keras.ops.convert_to_numpy(_resolve(backbone, attr)), np.float32)
        if transform in ("conv", "weight_norm"):  # Keras [k, in, out] -> torch [out, in, k]
            array = array.transpose(2, 1, 0)
        elif transform == "linear":
            array = array.T
        if transform == "weight_norm":  # written folded, as a plain weight (the loader takes it)
            hf_key = hf_key.replace("<weight_norm>", "weight")
        tensors[hf_key] = np.ascontiguousarray(array)
    save_file(tensors, os.path.join(path, "model.safetensors"))
    return path
