"""Motion-capture tower: a Keras transformer over frames, or the paper's CNN.

Input: frames [batch, T, features] (NaN where a marker was missing) and a frame
mask [batch, T]. The transformer: impute and standardise with training-split
statistics -> Dense projection -> learned position embedding -> N keras-hub
`TransformerEncoder` blocks (padding-masked) -> masked mean -> Dense(128).
The CNN (`encoder="cnn"`, for comparison): 4 x Conv2D(3x3, stride 2, relu) with
16/32/64/75 filters -> Flatten -> Dense(128), as in the original notebooks.
"""

from __future__ import annotations

import keras
import numpy as np

from mer_tf.config import MocapConfig
from mer_tf.models.layers import ImputeAndNormalize, MaskedCentering, MaskedMeanPooling
from mer_tf.models.towers.base import Tower

CNN_FILTERS = (16, 32, 64, 75)


def mocap_reader(config: MocapConfig, facts):
    """The pipeline's reader for this view: `frames` crops or pads to `max_frames`;
    `chunks` reads the prepared chunk count."""
    from mer_tf.data.readers import MocapReader

    frames = facts.mocap_chunks if config.view == "chunks" else config.max_frames
    return MocapReader(config.view, int(frames), tuple(facts.mocap_streams))


class MocapTower(Tower):
    """Nothing pretrained: the whole tower trains, and nothing is cached."""

    name = "mocap"
    config_class = MocapConfig
    item_key = "mocap"

    def __init__(self, config: MocapConfig, units: int, facts, statistics=None):
        import keras_hub

        super().__init__(config, units, facts, statistics)
        spec = mocap_reader(config, facts)
        self.frames, self.feature_dim = spec.frames, spec.features
        features = self.feature_dim
        mean, variance = ((statistics["mean"], statistics["variance"]) if statistics
                          else ([0.0] * features, [1.0] * features))
        self.normalize = ImputeAndNormalize(mean, variance, name="mocap_normalize", dtype="float32")
        if config.encoder == "transformer":
            self.center = MaskedCentering(name="mocap_center") if config.center else None
            self.projection = keras.layers.Dense(config.width, name="mocap_projection")
            self.position = keras_hub.layers.PositionEmbedding(self.frames, name="mocap_position")
            self.add = keras.layers.Add(name="mocap_add_position")
            self.blocks = [keras_hub.layers.TransformerEncoder(
                config.intermediate, config.heads, dropout=config.dropout,
                name=f"mocap_transformer_{i}") for i in range(config.layers)]
            self.pool = MaskedMeanPooling(name="mocap_pool")
            self.dense = keras.layers.Dense(units, activation="relu", name="mocap_dense")
        else:
            self.reshape = keras.layers.Reshape((self.frames, self.feature_dim, 1),
                                                name="mocap_image")
            self.convs = [keras.layers.Conv2D(f, 3, strides=2, activation="relu",
                                              name=f"mocap_conv_{i}")
                          for i, f in enumerate(CNN_FILTERS)]
            self.flatten = keras.layers.Flatten(name="mocap_flatten")
            self.dense = keras.layers.Dense(units, name="mocap_dense")

    def raw_inputs(self) -> dict:
        return {
            "mocap": keras.Input((self.frames, self.feature_dim), dtype="float32", name="mocap"),
            "mocap_mask": keras.Input((self.frames,), dtype="int32", name="mocap_mask"),
        }

    def head(self, inputs: dict):
        x = self.normalize(inputs["mocap"])
        if self.config.encoder == "cnn":
            x = self.reshape(x)
            for conv in self.convs:
                x = conv(x)
            return self.dense(self.flatten(x))
        mask = inputs["mocap_mask"]
        if self.center is not None:
            x = self.center(x, mask)
        x = self.projection(x)
        x = self.add([x, self.position(x)])
        for block in self.blocks:
            x = block(x, padding_mask=mask)
        return self.dense(self.pool(x, mask))

    @classmethod
    def statistics(cls, config, facts, corpus, split) -> dict:
        """Per-feature mean and variance of the present values of the training split."""
        from mer_tf.data.pipeline import masked_moments

        mean, variance = masked_moments(corpus, split, mocap_reader(config, facts), "mocap",
                                        "mocap_mask")
        return {"mean": mean, "variance": variance}

    def reader(self):
        return mocap_reader(self.config, self.facts)

    def hparams(self) -> dict:
        return {"mocap_encoder": self.config.encoder}

    # -- export ----------------------------------------------------------------------------
    def export_info(self) -> dict:
        return {"mocap_view": self.config.view, "mocap_frames": self.frames}

    def serving_specs(self) -> dict:
        import tensorflow as tf

        return {"mocap": tf.TensorSpec([None, None, self.feature_dim], tf.float32, name="mocap"),
                "mocap_mask": tf.TensorSpec([None, None], tf.int32, name="mocap_mask")}

    def serving_inputs(self, tensors: dict) -> dict:
        """Any number of frames -> the model's frame count (cropped or padded, masked)."""
        import tensorflow as tf

        target = self.frames
        mocap = tensors["mocap"][:, :target]
        mask = tf.cast(tensors["mocap_mask"][:, :target], tf.int32)
        pad = target - tf.shape(mocap)[1]
        mocap = tf.pad(mocap, [[0, 0], [0, pad], [0, 0]])
        mask = tf.pad(mask, [[0, 0], [0, pad]])
        return {"mocap": tf.ensure_shape(mocap, [None, target, mocap.shape[-1]]),
                "mocap_mask": tf.ensure_shape(mask, [None, target])}

    # -- inference -------------------------------------------------------------------------
    @classmethod
    def prepare_item(cls, item: dict, info: dict, notes: list, model) -> dict:
        values = np.asarray(item["mocap"], dtype=np.float32)
        mask = item.get("mocap_mask")
        features = sum(info["mocap_streams"].values())
        if values.ndim != 2 or values.shape[1] != features:
            streams = ", ".join(f"{k} {v}" for k, v in info["mocap_streams"].items())
            raise ValueError(f"mocap must be [frames, {features}] ({streams}, in that order), "
                             f"got shape {values.shape}")
        if values.shape[0] == 0:
            raise ValueError("mocap has no frames")
        mask = np.ones(values.shape[0], np.int32) if mask is None else np.asarray(mask, np.int32)
        if mask.shape != (values.shape[0],):
            raise ValueError(f"mocap_mask must be [{values.shape[0]}], got {mask.shape}")
        if info["mocap_view"] == "frames" and values.shape[0] > info["mocap_frames"]:
            notes.append(f"mocap has {values.shape[0]} frames; the model reads the first "
                         f"{info['mocap_frames']}")
        return {"mocap": values, "mocap_mask": mask}

    @classmethod
    def batch_items(cls, prepared: list, info: dict) -> list:
        frames = max(p["mocap"].shape[0] for p in prepared)
        values = np.zeros((len(prepared), frames, prepared[0]["mocap"].shape[1]), np.float32)
        masks = np.zeros((len(prepared), frames), np.int32)
        for i, p in enumerate(prepared):
            values[i, :p["mocap"].shape[0]] = p["mocap"]
            masks[i, :p["mocap"].shape[0]] = p["mocap_mask"]
        return [values, masks]

    @classmethod
    def placeholder(cls, info: dict) -> dict:
        return {"mocap": np.zeros((1, sum(info["mocap_streams"].values())), np.float32),
                "mocap_mask": np.zeros(1, np.int32)}
