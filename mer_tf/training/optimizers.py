"""Optimizers that give pretrained backbones their own learning rate, with a warm-up.

A pretrained BERT or wav2vec2 fine-tuned at the learning rate that suits freshly
initialised heads (the demo's 1e-3) forgets what it learned within an epoch: measured
on the demo corpus with a real pretrained BERT-family checkpoint, test UA fell to
chance (one class for everything) where 2e-5 gave 0.75. So the backbone variables
take `backbone_learning_rate`, ramped up linearly over `warmup_steps`, while every
other variable keeps the optimizer's own rate. The rule lives in `update_step`, the
one place every Keras 3 optimizer updates a variable, under any `tf.distribute`
strategy.
"""

from __future__ import annotations

import keras
from keras import ops

from mer_tf.models.layers import PACKAGE


class BackboneRate:
    """Mixin for a Keras optimizer: `backbone_variables` use their own learning rate, and
    so do the variables of a tower that sets one (`tower_rates`).

    Args:
        backbone_variables: the pretrained backbones' trainable variables.
        backbone_learning_rate: their rate once warmed up.
        warmup_steps: steps of the linear ramp from 0 (0: none).
        tower_rates: [(variables, learning rate)], e.g. the mocap transformer's
            `--mocap-learning-rate`: a tower trained from scratch beside the heads.
    """

    def __init__(self, *args, backbone_variables=(), backbone_learning_rate: float = 1e-5,
                 warmup_steps: int = 0, tower_rates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._backbone_variables = list(backbone_variables)
        self._backbone_keys = set()
        self._tower_rates = [(list(v), float(r)) for v, r in tower_rates]
        self._rate_of = {}
        self.backbone_learning_rate = float(backbone_learning_rate)
        self.warmup_steps = int(warmup_steps)

    def build(self, variables):
        super().build(variables)
        self._backbone_keys = {self._var_key(v) for v in self._backbone_variables}
        self._rate_of = {self._var_key(v): rate for group, rate in self._tower_rates
                         for v in group}

    def current_backbone_learning_rate(self):
        """The backbone's rate at this step: the ramp's (step + 1) / warmup_steps, then flat."""
        rate = ops.convert_to_tensor(self.backbone_learning_rate, "float32")
        if self.warmup_steps <= 0:
            return rate
        step = ops.cast(self.iterations, "float32") + 1.0
        return rate * ops.minimum(1.0, step / float(self.warmup_steps))

    def update_step(self, gradient, variable, learning_rate):
        key = self._var_key(variable)
        if key in self._backbone_keys:
            learning_rate = self.current_backbone_learning_rate()
        elif key in self._rate_of:
            learning_rate = ops.convert_to_tensor(self._rate_of[key], "float32")
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "backbone_learning_rate": self.backbone_learning_rate,
                "warmup_steps": self.warmup_steps}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Adam(BackboneRate, keras.optimizers.Adam):
    """Adam with a backbone learning rate (see `BackboneRate`)."""


@keras.saving.register_keras_serializable(package=PACKAGE)
class SGD(BackboneRate, keras.optimizers.SGD):
    """SGD with a backbone learning rate (see `BackboneRate`)."""


@keras.saving.register_keras_serializable(package=PACKAGE)
class RMSprop(BackboneRate, keras.optimizers.RMSprop):
    """RMSprop with a backbone learning rate (see `BackboneRate`)."""


def make_optimizer(train_config, backbone_variables=(), warmup_steps: int = 0,
                   tower_rates=()):
    """The run's optimizer: `train_config.learning_rate` for heads and fusion,
    `train_config.backbone_learning_rate` (after `warmup_steps`) for backbones, and each
    of `tower_rates` ([(variables, rate)]) its own."""
    rates = dict(backbone_variables=backbone_variables,
                 backbone_learning_rate=train_config.backbone_learning_rate,
                 warmup_steps=warmup_steps, tower_rates=tower_rates)
    if train_config.optimizer == "adam":
        return Adam(train_config.learning_rate, **rates)
    if train_config.optimizer == "sgd":
        return SGD(train_config.learning_rate, momentum=0.9, **rates)
    return RMSprop(train_config.learning_rate, **rates)
