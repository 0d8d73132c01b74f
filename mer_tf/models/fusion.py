"""Fusion of any non-empty subset of {speech, text, mocap} by concatenation. Every variant
(each tower alone, the three pairs, all three) comes from the same code: each tower's
128-d vector, concatenated -> Dense(128, relu) -> Dense(n_classes, softmax), and with
`--targets dimensions|both` Dense(3, sigmoid) for arousal, valence and dominance beside
it (outputs {"classes", "dimensions"}). Towers expose one small interface (`raw_inputs`,
`features` for the part a frozen run may cache, `head`), so fusion never asks which
backbone is inside.

A `ModelBuilder` creates each layer once. The model it returns for training on
cached features and the model on raw inputs share those layers, so training one
trains the other: the raw-input model is what gets evaluated and exported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from mer_tf.config import ModelConfig
from mer_tf.models.layers import ModalityDropout
from mer_tf.registry import tower_class

if TYPE_CHECKING:  # annotations only: the data layer is not imported to build a model
    from mer_tf.data.corpus import DataFacts


class ModelBuilder:
    """Builds the towers and fusion layers for `config`, then models from them.

    Args:
        config: the model's configuration.
        facts: `DataFacts` of the data (mocap streams and view sizes).
        statistics: {modality: what its tower's `statistics()` computed on the training
            split}, for towers that need any (mocap normalisation).
    """

    def __init__(self, config: ModelConfig, facts: DataFacts,
                 statistics: dict | None = None):
        self.config = config
        self.facts = facts
        self.statistics = dict(statistics or {})
        self.towers = {}
        for name in config.modalities:
            cls = tower_class(name)
            self.towers[name] = cls(config.tower_config(name, cls.config_class),
                                    config.tower_units, facts, self.statistics.get(name))
        self.modality_dropout = (ModalityDropout(config.modality_dropout, name="modality_dropout")
                                 if config.modality_dropout and len(config.modalities) > 1
                                 else None)
        self.concat = keras.layers.Concatenate(name="fusion_concat")
        self.fusion = keras.layers.Dense(config.fusion_units, activation="relu",
                                         name="fusion_dense")
        self.classifier = (keras.layers.Dense(config.num_classes, activation="softmax",
                                              dtype="float32", name="classifier")
                           if config.predicts_classes else None)
        # arousal, valence, dominance on [0, 1] (each corpus's scale mapped onto it)
        self.regressor = (keras.layers.Dense(3, activation="sigmoid", dtype="float32",
                                             name="dimensions")
                          if config.predicts_dimensions else None)

    def cacheable(self) -> tuple[str, ...]:
        """Modalities whose frozen backbone output can be computed once and cached."""
        return tuple(name for name, tower in self.towers.items() if tower.cacheable)

    def readers(self, cached=()) -> tuple:
        """The data pipeline's readers: one per tower that reads raw input."""
        return tuple(t.reader() for name, t in self.towers.items() if name not in cached)

    def model(self, cached: tuple[str, ...] = (), presence: bool = False) -> keras.Model:
        """The classifier; towers named in `cached` take cached features instead of raw input.

        `presence` adds an input `modality_present` [M] (1: present, 0: missing) that zeroes
        a missing modality's vector, as modality dropout does in training: for serving a
        model trained with it on inputs that lack a modality.
        """
        for name in cached:
            if name not in self.cacheable():
                raise ValueError(f"{name} can be cached only when its tower exists and is frozen")
        inputs, vectors = {}, []
        for name in self.config.modalities:
            tower = self.towers[name]
            if name in cached:
                features = tower.feature_inputs()
                inputs.update(features)
            else:
                raw = tower.raw_inputs()
                inputs.update(raw)
                features = tower.features(raw)
            vectors.append(tower.head(features))
        if presence:
            from mer_tf.models.layers import ModalityGate

            inputs["modality_present"] = keras.Input((len(vectors),), dtype="int32",
                                                     name="modality_present")
            vectors = ModalityGate(name="modality_gate")(vectors, inputs["modality_present"])
        if self.modality_dropout is not None:
            vectors = self.modality_dropout(vectors)
        fused = self.concat(vectors) if len(vectors) > 1 else vectors[0]
        hidden = self.fusion(fused)
        if self.regressor is None:  # classes alone: one tensor, as every earlier model
            outputs = self.classifier(hidden)
        else:
            outputs = {"dimensions": self.regressor(hidden)}
            if self.classifier is not None:
                outputs = {"classes": self.classifier(hidden), **outputs}
        suffix = "_cached" if cached else ""
        return keras.Model(inputs, outputs, name="mer_" + "_".join(self.config.modalities) + suffix)

    def feature_model(self, modalities: tuple[str, ...]) -> keras.Model:
        """Raw inputs -> frozen-backbone features, for computing a feature cache."""
        inputs, outputs = {}, {}
        for name in modalities:
            tower = self.towers[name]
            raw = tower.raw_inputs()
            inputs.update(raw)
            outputs.update(tower.features(raw))
        return keras.Model(inputs, outputs, name="features_" + "_".join(modalities))

    def backbone(self, name: str):
        """The pretrained backbone layer inside a tower (wav2vec2, BERT), or None (mocap)."""
        return self.towers[name].backbone

    def backbone_variables(self) -> list:
        """Trainable variables of the pretrained backbones (their own learning rate)."""
        layers = [self.backbone(name) for name in self.towers]
        return [v for layer in layers if layer is not None for v in layer.trainable_weights]

    def tower_rates(self) -> list:
        """[(trainable variables, learning rate)] of the towers that set a rate of their own
        (`own_learning_rate()` > 0); build the model first."""
        return [(tower.own_variables(), tower.own_learning_rate())
                for tower in self.towers.values() if tower.own_learning_rate() > 0]

    def backbone_fingerprint(self, name: str) -> str:
        """sha256 of a tower's backbone weights as loaded: what its features depend on.

        Weights are taken in order, by position and shape, not by path: Keras names a layer
        made without a name `…_1`, `…_2` in a process that built one before (the next fold,
        the next run of a group), which must not change the key of the same weights."""
        import hashlib

        import numpy as np

        digest = hashlib.sha256()
        for position, variable in enumerate(self.backbone(name).weights):
            value = np.ascontiguousarray(keras.ops.convert_to_numpy(variable))
            digest.update(f"{position}{value.shape}{value.dtype}".encode())
            digest.update(value.tobytes())
        return digest.hexdigest()

    def describe_backbones(self) -> dict:
        """Facts about loaded backbones that their configuration cannot say."""
        return {name: facts for name, tower in self.towers.items() if (facts := tower.describe())}


def tower_parameter_counts(builder: ModelBuilder) -> dict:
    """Parameters per tower (backbone and head) and for the fusion layers."""
    counts = {}
    model = builder.model()

    def group(layer):
        for name, tower in builder.towers.items():
            if layer is tower.backbone or layer.name.startswith(name + "_"):
                return name
        return "fusion" if layer.name.startswith(("fusion_", "classifier")) else None

    for layer in model.layers:
        name = group(layer)
        if name and layer.built and layer.count_params():
            counts[name] = counts.get(name, 0) + layer.count_params()
    counts["total"] = model.count_params()
    return counts
