"""Text tower: BERT -> [CLS] -> Dropout -> Dense(128, relu) -> Dropout, as the paper
(dropout 0.5). The [CLS] vector is the part a frozen run can cache. Tokenization runs in
tf.data (training) and inside the exported graph (serving), through keras-hub's
preprocessor of the same preset.
"""

from __future__ import annotations

from mer_tf.config import TextConfig
from mer_tf.models.towers.base import Tower

TOKEN_KEYS = ("token_ids", "segment_ids", "padding_mask")


class TextTower(Tower):
    name = "text"
    config_class = TextConfig
    item_key = "transcript"
    # BERT's tanh pooler is not used (the tower reads [CLS] from the sequence output), so
    # its two variables never get gradients, and Keras warns at every training-step trace.
    ignored_warnings = (r"Gradients do not exist for variables \['pooled_dense",)

    def __init__(self, config: TextConfig, units: int, facts, statistics=None):
        import keras

        from mer_tf.models.layers import FirstToken
        from mer_tf.models.towers.bert import load_bert_backbone

        super().__init__(config, units, facts, statistics)
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
        self._preprocessor = None
        self._tokenize = None

    @property
    def preprocessor(self):
        """keras-hub's BERT preprocessor of the preset (loaded on first use)."""
        if self._preprocessor is None:
            from mer_tf.models.towers.bert import load_text_preprocessor

            self._preprocessor = load_text_preprocessor(self.config.preset,
                                                        self.sequence_length)
        return self._preprocessor

    @property
    def tokenize(self):
        """The preprocessor as one tf.function, traced once and then called by every
        dataset's pipeline: each dataset's map would trace keras-hub's tokenizer again
        (about a second each, four datasets a fold)."""
        if self._tokenize is None:
            import tensorflow as tf

            self._tokenize = tf.function(self.preprocessor, autograph=False,
                                         input_signature=[tf.TensorSpec([None], tf.string)])
        return self._tokenize

    def reader(self):
        from mer_tf.data.readers import TextReader

        return TextReader(self.tokenize)

    def raw_inputs(self) -> dict:
        import keras

        return {key: keras.Input((self.sequence_length,), dtype="int32", name=key)
                for key in TOKEN_KEYS}

    def feature_inputs(self) -> dict:
        import keras

        return {"text_features": keras.Input((self.hidden,), name="text_features")}

    def features(self, raw: dict) -> dict:
        outputs = self.backbone({k: raw[k] for k in TOKEN_KEYS})
        return {"text_features": self.first_token(outputs["sequence_output"])}

    def input_lengths(self, raw: dict):
        # keras-hub encoders mask padding out of attention, and positions count from the
        # start, so the first token's state does not depend on the padding after it.
        return raw["padding_mask"].sum(axis=1)

    def trim(self, raw: dict, length: int) -> dict:
        return {**raw, **{key: raw[key][:, :max(length, 1)] for key in TOKEN_KEYS}}

    def head(self, features: dict):
        return self.dropout_out(self.dense(self.dropout_in(features["text_features"])))

    def cache_key(self):
        return [self.config.preset, self.config.sequence_length]

    # -- export ----------------------------------------------------------------------------
    def export_info(self) -> dict:
        return {"text_length": self.sequence_length, "text_preset": self.config.preset}

    def serving_specs(self) -> dict:
        import tensorflow as tf

        return {"transcript": tf.TensorSpec([None], tf.string, name="transcript")}

    def serving_inputs(self, tensors: dict) -> dict:
        import tensorflow as tf

        tokens = self.tokenize(tensors["transcript"])  # one trace for serve and serve_partial
        return {k: tf.cast(tokens[k], tf.int32) for k in TOKEN_KEYS}

    def trackables(self) -> list:
        import tensorflow as tf

        if not self.preprocessor.built:  # built by its first call, which tf.data usually made
            self.preprocessor(tf.constant(["build"]))
        return [self.preprocessor]

    def endpoints(self) -> dict:
        """`token_count(transcript)`: tokens before truncation, so a caller can say when a
        transcript was cut."""
        import tensorflow as tf

        tokenizer = self.preprocessor.tokenizer

        def token_count(transcript):
            return tokenizer(transcript).row_lengths() + 2  # [CLS] and [SEP]

        return {"token_count": (token_count,
                                [tf.TensorSpec([None], tf.string, name="transcript")])}

    # -- inference -------------------------------------------------------------------------
    @classmethod
    def prepare_item(cls, item: dict, info: dict, notes: list, model) -> dict:
        transcript = item["transcript"]
        if not isinstance(transcript, str):
            raise ValueError(f"transcript must be a string, got {type(transcript).__name__}")
        if not transcript.strip():
            notes.append("empty transcript")
        count = int(model.token_count([transcript]).numpy()[0])
        limit = info["text_length"]
        if count > limit:
            notes.append(f"transcript has {count} tokens; truncated to the model's {limit}")
        return {"transcript": transcript}

    @classmethod
    def batch_items(cls, prepared: list, info: dict) -> list:
        import numpy as np

        return [np.array([p["transcript"] for p in prepared], dtype=object)]

    @classmethod
    def placeholder(cls, info: dict) -> dict:
        return {"transcript": "missing"}
