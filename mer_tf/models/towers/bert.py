"""BERT from keras-hub: the backbone and its preprocessor, loaded from a preset.

`BertBackbone.from_preset` takes a preset name (`bert_base_en_uncased`, a
Kaggle download), a local keras-hub preset directory, or a local Hugging Face
BERT-family checkpoint directory (config.json, model.safetensors, vocab.txt,
tokenizer_config.json). The tokenizer always comes from the same preset, and
tokenization runs in tf.data through keras-hub's preprocessor, never by hand.
"""

from __future__ import annotations

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
