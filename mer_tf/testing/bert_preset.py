"""A tiny BERT saved as a keras-hub preset, the way keras-hub writes real ones.

`BertBackbone(...).save_to_preset` and `BertTokenizer(...).save_to_preset` are the
calls keras-hub's own conversion scripts end with, so `BertBackbone.from_preset`
and `BertTextClassifierPreprocessor.from_preset` load it through the real path.
"""

from __future__ import annotations

import os

from mer_tf.models.towers.bert import SPECIAL_TOKENS


def save_tiny_bert_preset(path: str, texts, vocabulary_size: int = 400, num_layers: int = 2,
                          num_heads: int = 2, hidden_dim: int = 32, intermediate_dim: int = 64,
                          max_sequence_length: int = 128, seed: int = 0) -> str:
    """A small BERT with a word-piece vocabulary computed from `texts`, saved as a
    local keras-hub preset (backbone and tokenizer), for offline demos and tests."""
    import keras
    import keras_hub
    import tensorflow as tf

    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        tf.data.Dataset.from_tensor_slices(list(texts)), vocabulary_size=vocabulary_size,
        lowercase=True, reserved_tokens=list(SPECIAL_TOKENS))
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=num_layers, num_heads=num_heads,
        hidden_dim=hidden_dim, intermediate_dim=intermediate_dim,
        max_sequence_length=max_sequence_length)
    os.makedirs(path, exist_ok=True)
    backbone.save_to_preset(path)
    tokenizer.save_to_preset(path)
    return path
