"""The one builder of stand-in backbones: the demo, the benchmarks and the tests call it.

Each backbone is built under a temporary name and renamed, and reused when it is
already there, so an interrupted build never leaves half a SavedModel behind.
"""

from __future__ import annotations

import dataclasses

from mer_tf.frames import SAMPLE_RATE
from mer_tf.io import storage
from mer_tf.layout import SAVED_MODEL_FILE

# The demo's and benchmarks' tiny BERT; tests shrink it further.
TINY_BERT = {"vocabulary_size": 400, "num_layers": 2, "num_heads": 2, "hidden_dim": 32,
             "intermediate_dim": 64, "max_sequence_length": 128}


def tiny_backbones(root: str, texts, audio_seconds: float = 3.0, bert: dict | None = None,
                   speech_form: str | None = None) -> dict:
    """A wav2vec2-shaped SavedModel taking `audio_seconds` of 16 kHz audio and a tiny BERT
    preset whose word-piece vocabulary is computed from `texts` (unsupervised: words only).

    Returns {"speech": SavedModel directory, "text": preset directory}.
    """
    from mer_tf.testing.bert_preset import save_tiny_bert_preset
    from mer_tf.testing.wav2vec2_savedmodel import FORM_2021_07, TINY, save_wav2vec2

    bert = {**TINY_BERT, **(bert or {})}
    form = speech_form or FORM_2021_07
    samples = int(round(audio_seconds * SAMPLE_RATE))
    suffix = "" if form == FORM_2021_07 else f"_{form}"
    speech = storage.join(root, f"wav2vec2_tiny{suffix}" if samples == 48000
                          else f"wav2vec2_tiny_{samples}{suffix}")
    text = storage.join(root, "bert_tiny" if bert == TINY_BERT
                        else "bert_tiny_" + "_".join(str(bert[k]) for k in sorted(bert)))
    if not storage.exists(storage.join(speech, SAVED_MODEL_FILE)):
        config = dataclasses.replace(TINY, input_length=samples)
        build_atomically(speech, lambda path: save_wav2vec2(path, config, form=form))
    if not storage.exists(storage.join(text, "config.json")):
        texts = list(texts)
        build_atomically(text, lambda path: save_tiny_bert_preset(path, texts, **bert))
    return {"speech": speech, "text": text}


def paper_size_backbones(root: str) -> dict:
    """wav2vec2-base and BERT-base shapes with random weights (for speed and memory)."""
    from mer_tf.testing.wav2vec2_savedmodel import BASE, save_wav2vec2

    speech = storage.join(root, "wav2vec2-base-random")
    if not storage.exists(storage.join(speech, SAVED_MODEL_FILE)):
        build_atomically(speech, lambda path: save_wav2vec2(path, BASE))
    return {"speech": speech, "text": bert_base_random(root)}


def bert_base_random(root: str) -> str:
    """A keras-hub preset of BERT-base's shape with random weights, under `root`."""
    from mer_tf.models.towers.bert import SPECIAL_TOKENS

    text = storage.join(root, "bert-base-random")
    if not storage.exists(storage.join(text, "config.json")):
        def build(path):
            import keras_hub

            vocabulary = list(SPECIAL_TOKENS) + [f"[unused{i}]" for i in range(30522 - 5)]
            keras_hub.models.BertBackbone(vocabulary_size=30522, num_layers=12, num_heads=12,
                                          hidden_dim=768, intermediate_dim=3072,
                                          max_sequence_length=512).save_to_preset(path)
            keras_hub.models.BertTokenizer(vocabulary=vocabulary,
                                           lowercase=True).save_to_preset(path)

        build_atomically(text, build)
    return text


def build_atomically(path: str, build) -> None:
    tmp = path + ".tmp-build"
    storage.rmtree(tmp)
    storage.makedirs(tmp)
    build(tmp)
    storage.rmtree(path)
    storage.rename(tmp, path)
