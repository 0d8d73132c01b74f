"""A fourth modality in one file: the utterance's duration, as seconds of audio and of
motion capture. Registering `DurationTower` is all it takes to train, cache, export and
serve it beside the others (tests/test_registry.py proves it); nothing else changes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mer_tf.data.readers import Reader
from mer_tf.models.towers.base import Tower


@dataclasses.dataclass(frozen=True)
class DurationConfig:
    units: int = 8


@dataclasses.dataclass(frozen=True)
class DurationReader(Reader):
    mocap_rate: float
    modality: str = "duration"

    def record_keys(self):
        return ("audio/num_samples", "mocap/num_frames")

    def decode(self, features):
        import tensorflow as tf

        seconds = tf.stack([tf.cast(features["audio/num_samples"], tf.float32) / 16000.0,
                            tf.cast(features["mocap/num_frames"], tf.float32) / self.mocap_rate])
        return {"duration": tf.ensure_shape(seconds, [2])}


class DurationTower(Tower):
    name = "duration"
    config_class = DurationConfig
    item_key = "duration"

    def __init__(self, config, units, facts, statistics=None):
        import keras

        super().__init__(config, units, facts, statistics)
        self.hidden = keras.layers.Dense(config.units, activation="relu", name="duration_hidden")
        self.dense = keras.layers.Dense(units, activation="relu", name="duration_dense")

    def reader(self):
        return DurationReader(self.facts.mocap_rate)

    def raw_inputs(self):
        import keras

        return {"duration": keras.Input((2,), name="duration")}

    def head(self, features):
        return self.dense(self.hidden(features["duration"]))

    def export_info(self):
        return {"duration_units": "seconds of audio, seconds of motion capture"}

    def serving_specs(self):
        import tensorflow as tf

        return {"duration": tf.TensorSpec([None, 2], tf.float32, name="duration")}

    def serving_inputs(self, tensors):
        return {"duration": tensors["duration"]}

    @classmethod
    def prepare_item(cls, item, info, notes, model):
        value = np.asarray(item["duration"], np.float32)
        if value.shape != (2,) or not np.all(value >= 0):
            raise ValueError(f"duration must be two non-negative seconds, got {value!r}")
        return {"duration": value}

    @classmethod
    def batch_items(cls, prepared, info):
        return [np.stack([p["duration"] for p in prepared])]

    @classmethod
    def placeholder(cls, info):
        return {"duration": np.zeros(2, np.float32)}
