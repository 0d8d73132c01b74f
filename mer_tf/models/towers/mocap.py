"""Motion-capture tower: a Keras transformer over frames, or the paper's CNN.

Input: frames [batch, T, features] (NaN where a marker was missing) and a frame
mask [batch, T]. The transformer: each marker's position minus the utterance's mean
pose and its velocity from frame to frame, scaled by their standard deviations over
the training split, missing markers at 0 and frames with none measured masked
(`MotionFeatures`) -> Dense projection -> learned (or sinusoidal) position encoding ->
N keras-hub `TransformerEncoder` blocks (pre-norm, padding-masked) -> masked mean and
standard deviation over frames -> Dense(128). Why each of these: docs/results.md's
motion-capture table (a post-norm block rescales every frame to unit size, and a mean
of an oscillation is near zero, so the old tower could not see how much anyone moved).
The CNN (`encoder="cnn"`, for comparison): impute and standardise -> 4 x Conv2D(3x3,
stride 2, relu) with 16/32/64/75 filters -> Flatten -> Dense(128), as in the original
notebooks.
"""

from __future__ import annotations

import keras
import numpy as np

from mer_tf.config import MocapConfig
from mer_tf.models.layers import (
    ImputeAndNormalize,
    MaskedMeanPooling,
    MaskedStatisticsPooling,
    MotionFeatures,
    motion_features,
    motion_width,
)
from mer_tf.models.towers.base import Tower

CNN_FILTERS = (16, 32, 64, 75)


def mocap_reader(config: MocapConfig, facts):
    """The pipeline's reader for this view: `frames` crops or pads to `max_frames`;
    `chunks` reads the prepared chunk count."""
    from mer_tf.data.readers import MocapReader

    frames = facts.mocap_chunks if config.view == "chunks" else config.max_frames
    return MocapReader(config.view, int(frames), tuple(facts.mocap_streams))


def motion_options(config: MocapConfig, facts) -> dict:
    """The `motion_features` options of a transformer tower's settings (and the data's
    marker groups: its streams)."""
    return {"centre": config.center, "derivatives": len(config.features.split("+")) - 1,
            "per_utterance_scale": config.scale == "utterance", "magnitudes": True,
            "groups": tuple(width for _, width in mocap_reader(config, facts).streams)}


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
        if config.encoder == "transformer":
            options = motion_options(config, facts)
            if self.feature_dim % 3:
                raise ValueError(f"the mocap transformer reads markers as (x, y, z) triples, "
                                 f"but the streams have {self.feature_dim} values a frame")
            width = motion_width(self.feature_dim, **{k: v for k, v in options.items()
                                                     if k != "centre"})
            variance = statistics["variance"] if statistics else [1.0] * width
            self.motion = MotionFeatures(variance, **options, name="mocap_motion",
                                         dtype="float32")
            self.projection = keras.layers.Dense(config.width, name="mocap_projection")
            self.position = (
                keras_hub.layers.PositionEmbedding(self.frames, name="mocap_position")
                if config.position == "learned"
                else keras_hub.layers.SinePositionEncoding(name="mocap_position"))
            self.add = keras.layers.Add(name="mocap_add_position")
            self.blocks = [keras_hub.layers.TransformerEncoder(
                config.intermediate, config.heads, dropout=config.dropout,
                normalize_first=config.block == "pre-norm", name=f"mocap_transformer_{i}")
                for i in range(config.layers)]
            self.pool = (MaskedStatisticsPooling(name="mocap_pool") if config.pool == "mean+std"
                         else MaskedMeanPooling(name="mocap_pool"))
            self.dense = keras.layers.Dense(units, activation="relu", name="mocap_dense")
        else:
            mean, variance = ((statistics["mean"], statistics["variance"]) if statistics
                              else ([0.0] * self.feature_dim, [1.0] * self.feature_dim))
            self.normalize = ImputeAndNormalize(mean, variance, name="mocap_normalize",
                                                dtype="float32")
            self.reshape = keras.layers.Reshape((self.frames, self.feature_dim, 1),
                                                name="mocap_image")
            self.convs = [keras.layers.Conv2D(f, 3, strides=2, activation="relu",
                                              name=f"mocap_conv_{i}")
                          for i, f in enumerate(CNN_FILTERS)]
            self.flatten = keras.layers.Flatten(name="mocap_flatten")
            self.dense = keras.layers.Dense(units, name="mocap_dense")

    def own_learning_rate(self) -> float:
        """The transformer's rate; the paper's CNN trains at the run's (better for it on the
        demo: docs/results.md's motion-capture table)."""
        return float(self.config.learning_rate) if self.config.encoder == "transformer" else 0.0

    def own_variables(self) -> list:
        layers = ([self.normalize, self.reshape, *self.convs, self.flatten, self.dense]
                  if self.config.encoder == "cnn" else
                  [self.motion, self.projection, self.position, *self.blocks, self.pool,
                   self.dense])
        return [v for layer in layers for v in layer.trainable_weights]

    def raw_inputs(self) -> dict:
        return {
            "mocap": keras.Input((self.frames, self.feature_dim), dtype="float32", name="mocap"),
            "mocap_mask": keras.Input((self.frames,), dtype="int32", name="mocap_mask"),
        }

    def head(self, inputs: dict):
        if self.config.encoder == "cnn":
            x = self.reshape(self.normalize(inputs["mocap"]))
            for conv in self.convs:
                x = conv(x)
            return self.dense(self.flatten(x))
        x, mask = self.motion(inputs["mocap"], inputs["mocap_mask"])
        x = self.projection(x)
        x = self.add([x, self.position(x)])
        for block in self.blocks:
            x = block(x, padding_mask=mask)
        return self.dense(self.pool(x, mask))

    @classmethod
    def statistics(cls, config, facts, corpus, split) -> dict:
        """Per-feature mean and variance over the training split of what the tower's first
        layer reads: raw values for the CNN, centred positions and velocities for the
        transformer (present values only)."""
        from mer_tf.data.pipeline import masked_moments

        transform = None
        if config.encoder == "transformer":
            def transform(values, mask):
                return motion_features(values, mask, **motion_options(config, facts))

        mean, variance = masked_moments(corpus, split, mocap_reader(config, facts), "mocap",
                                        "mocap_mask", transform=transform)
        return {"mean": mean, "variance": variance}

    def reader(self):
        return mocap_reader(self.config, self.facts)

    def hparams(self) -> dict:
        c = self.config
        if c.encoder == "cnn":
            return {"mocap_encoder": c.encoder}  # the rest stay "-" (HPARAM_DEFAULTS)
        return {"mocap_encoder": c.encoder, "mocap_features": c.features,
                "mocap_scale": c.scale,
                "mocap_position": c.position, "mocap_block": c.block, "mocap_pool": c.pool}

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
