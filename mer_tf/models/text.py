"""Text tower: BERT from keras-hub, and the tiny stand-in the demo and tests load.

`BertBackbone.from_preset` takes a preset name (`bert_base_en_uncased`, a
Kaggle download), a local keras-hub preset directory, or a local Hugging Face
BERT-family checkpoint directory (config.json, model.safetensors, vocab.txt,
tokenizer_config.json). The tokenizer always comes from the same preset, and
tokenization runs in tf.data through keras-hub's preprocessor, never by hand.
"""

from __future__ import annotations

import os
import warnings

# BERT's tanh pooler is not used (the tower reads [CLS] from the sequence output), so its
# two variables never get gradients, and Keras warns about it at every training step trace.
warnings.filterwarnings("ignore", message=r"Gradients do not exist for variables \['pooled_dense")

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _explain(preset: str, error: Exception) -> RuntimeError:
    return RuntimeError(
        f"could not load the keras-hub preset {preset!r} ({type(error).__name__}: {error}). "
        "Without network access, pass a local keras-hub preset directory or a local "
        "Hugging Face BERT checkpoint directory (config.json, model.safetensors, vocab.txt).")


def load_bert_backbone(preset: str, **kwargs):
    import keras_hub

    try:
        return keras_hub.models.BertBackbone.from_preset(preset, **kwargs)
    except (OSError, ValueError, ConnectionError) as error:
        raise _explain(preset, error) from error
    except Exception as error:  # kagglehub raises its own types when offline
        if "kaggle" in type(error).__module__ or "http" in str(error).lower():
            raise _explain(preset, error) from error
        raise


def load_text_preprocessor(preset: str, sequence_length: int):
    """keras-hub's BERT preprocessor: strings -> token_ids, segment_ids, padding_mask."""
    import keras_hub

    try:
        return keras_hub.models.BertTextClassifierPreprocessor.from_preset(
            preset, sequence_length=sequence_length)
    except (OSError, ValueError, ConnectionError) as error:
        raise _explain(preset, error) from error


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


class TextTower:
    """BERT -> [CLS] -> Dropout(0.5) -> Dense(128, relu) -> Dropout(0.5), as the paper.

    `features` (the [CLS] vector) is the part a frozen run can cache.
    """

    name = "text"
    cacheable = True

    def __init__(self, config, units: int = 128):
        import keras

        from mer_tf.models.layers import FirstToken

        self.config = config
        self.backbone = load_bert_backbone(config.preset, name="bert")
        self.backbone.trainable = not config.freeze
        self.hidden = int(self.backbone.hidden_dim)
        self.sequence_length = int(config.sequence_length)
        limit = getattr(self.backbone, "max_sequence_length", None)
        if limit is not None and self.sequence_length > limit:
            raise ValueError(f"text sequence length {self.sequence_length} exceeds the preset's "
                             f"max_sequence_length {limit}")
        self.first_token = FirstToken(name="text_cls")
        self.dropout_in = keras.layers.Dropout(config.dropout, name="text_dropout_in")
        self.dense = keras.layers.Dense(units, activation="relu", name="text_dense")
        self.dropout_out = keras.layers.Dropout(config.dropout, name="text_dropout_out")

    def raw_inputs(self) -> dict:
        import keras

        shape = (self.sequence_length,)
        return {
            "token_ids": keras.Input(shape, dtype="int32", name="token_ids"),
            "segment_ids": keras.Input(shape, dtype="int32", name="segment_ids"),
            "padding_mask": keras.Input(shape, dtype="int32", name="padding_mask"),
        }

    def feature_inputs(self) -> dict:
        import keras

        return {"text_features": keras.Input((self.hidden,), name="text_features")}

    def features(self, inputs: dict) -> dict:
        outputs = self.backbone({k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")})
        return {"text_features": self.first_token(outputs["sequence_output"])}

    def head(self, features: dict):
        return self.dropout_out(self.dense(self.dropout_in(features["text_features"])))
