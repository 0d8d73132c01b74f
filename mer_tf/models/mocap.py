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

from mer_tf.config import MocapConfig
from mer_tf.models.layers import ImputeAndNormalize, MaskedCentering, MaskedMeanPooling

CNN_FILTERS = (16, 32, 64, 75)


class MocapTower:
    """Builds the mocap tower's layers once; `head` applies them to model inputs."""

    name = "mocap"
    cacheable = False  # nothing pretrained to freeze: the whole tower trains

    def __init__(self, config: MocapConfig, frames: int, features: int, stats=None,
                 units: int = 128):
        import keras_hub

        self.config = config
        self.frames = int(frames)
        self.feature_dim = int(features)
        mean, variance = stats if stats is not None else ([0.0] * features, [1.0] * features)
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
            self.reshape = keras.layers.Reshape((self.frames, self.feature_dim, 1), name="mocap_image")
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

    def features(self, inputs: dict) -> dict:
        """Nothing to cache: the tower has no frozen backbone."""
        return inputs

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
