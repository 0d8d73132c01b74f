"""The tower contract: everything the package asks of one modality, in one class.

A tower turns a modality's raw inputs into one vector for fusion. The fusion model,
the data pipeline, the feature cache, export and inference ask the tower, never the
modality's name, so a new modality is one file with a `Tower` subclass plus
`mer_tf.registry.register_modality`.

Stages of a tower, and who asks:
- `reader()` (data pipeline): which record fields it reads and the inputs they become;
- `raw_inputs()`, `features(raw)`, `head(features)` (fusion): `features` is the part a
  frozen pretrained backbone computes, which a feature cache may store
  (`feature_inputs()` are its inputs when cached; `cache_key()` says what decides it;
  `input_lengths(raw)` and `trim(raw, length)` let it skip a batch's padding);
- `statistics(...)` (trainer, before building): numbers the tower needs from the
  training split alone (normalisation);
- `export_info()`, `serving_specs()`, `serving_inputs(...)`, `endpoints()` (export):
  raw serving inputs of any length, fitted in the graph;
- `prepare_item`, `batch_items`, `placeholder` (inference, class methods: they serve an
  exported model from its `mer_tf.json` without building the tower).
"""

from __future__ import annotations


class Tower:
    """Base class. Subclasses set `name`, `config_class` and `item_key`, and implement
    `raw_inputs`, `head`, `reader`, `serving_specs`, `serving_inputs`, `prepare_item` and
    `batch_items`; a tower with a pretrained backbone also sets `backbone` and implements
    `features`, `feature_inputs` and `cache_key`.

    Args:
        config: the tower's configuration (an instance of `config_class`).
        units: size of the vector the tower gives fusion.
        facts: `mer_tf.data.corpus.DataFacts` of the data the model reads.
        statistics: what `statistics()` computed on the training split, or None.
    """

    name = ""
    config_class = None
    item_key = ""  # the key of a `predict` item that holds this modality's input
    backbone = None  # the pretrained layer (its own learning rate, freezing, caching)
    ignored_warnings = ()  # warning messages (regexes) that training may silence

    def __init__(self, config, units: int, facts, statistics=None):
        self.config = config
        self.units = int(units)
        self.facts = facts
        self.statistics_used = statistics

    # -- data ------------------------------------------------------------------------------
    @classmethod
    def statistics(cls, config, facts, corpus, split) -> dict | None:
        """JSON-ready numbers from the training split the tower is built with (or None)."""
        return None

    def reader(self):
        raise NotImplementedError

    # -- model -----------------------------------------------------------------------------
    @property
    def frozen(self) -> bool:
        return self.backbone is not None and not self.backbone.trainable

    @property
    def cacheable(self) -> bool:
        """A frozen backbone's output can be computed once and cached."""
        return self.frozen

    def raw_inputs(self) -> dict:
        raise NotImplementedError

    def features(self, raw: dict) -> dict:
        """The part of the tower a feature cache can store (nothing, by default)."""
        return raw

    def feature_inputs(self) -> dict:
        raise ValueError(f"the {self.name} tower has nothing to cache")

    def input_lengths(self, raw: dict):
        """Each item's real length in a batch of raw inputs (numpy), where `features` do
        not depend on the padding after it: the feature cache then runs items of similar
        length together, each batch cut by `trim` to its longest. None: they do."""
        return None

    def trim(self, raw: dict, length: int) -> dict:
        """A batch of raw inputs cut to `length` (see `input_lengths`)."""
        return raw

    def head(self, features: dict):
        raise NotImplementedError

    def cache_key(self):
        """JSON-ready settings that decide `features` (the backbone's weights are added)."""
        raise ValueError(f"the {self.name} tower has nothing to cache")

    def describe(self) -> dict:
        """Facts about a loaded backbone that its configuration cannot say (config.json)."""
        return {}

    def hparams(self) -> dict:
        """This tower's settings for TensorBoard's hparams table."""
        return {}

    # -- export ----------------------------------------------------------------------------
    def export_info(self) -> dict:
        """What serving needs to know (into the SavedModel's mer_tf.json)."""
        return {}

    def serving_specs(self) -> dict:
        """{name: tf.TensorSpec} of the raw serving inputs, in call order."""
        raise NotImplementedError

    def serving_inputs(self, tensors: dict) -> dict:
        """In the graph: serving tensors (any length) -> the model's inputs."""
        raise NotImplementedError

    def encoded_serving_specs(self) -> dict:
        """Serving inputs as encoded files (speech: WAV bytes), when the tower offers them."""
        return {}

    def decode_serving_inputs(self, tensors: dict) -> dict:
        """In the graph: encoded serving tensors -> the raw ones (`serving_specs` names)."""
        raise NotImplementedError

    def endpoints(self) -> dict:
        """Extra SavedModel endpoints: {name: (function, input_signature)}."""
        return {}

    def own_learning_rate(self) -> float:
        """The tower's own learning rate (0: the run's), from its config's `learning_rate`."""
        return float(getattr(self.config, "learning_rate", 0.0))

    def own_variables(self) -> list:
        """The trainable variables of the tower's own layers (a tower that takes its own
        learning rate says which they are)."""
        raise NotImplementedError(f"{type(self).__name__} has no learning rate of its own")

    def trackables(self) -> list:
        """Objects outside the Keras model that serving calls (a tokenizer)."""
        return []

    # -- inference (class methods: no tower is built to serve a SavedModel) --------------
    @classmethod
    def prepare_item(cls, item: dict, info: dict, notes: list, model) -> dict:
        """Checks one utterance's input and returns it as arrays; says in `notes` what was
        handled rather than refused. Raises ValueError with a clear message."""
        raise NotImplementedError

    @classmethod
    def batch_items(cls, prepared: list, info: dict) -> list:
        """Prepared inputs of a batch -> numpy arrays in `serving_specs` order."""
        raise NotImplementedError

    @classmethod
    def placeholder(cls, info: dict) -> dict:
        """Item fields standing in for a missing input (the model zeroes its vector)."""
        raise NotImplementedError
