"""The corpora preparation reads, and what differs between them: how a release is
indexed, how a unit's utterances are read, the default label set and the modalities.

A reader indexes a release into {session: units}: a unit is what a shard never splits
(an IEMOCAP dialog; one speaker's rows of one group of a table), with `utterances`
(each with the fields `schema.encode_example` records), `source_files()` and
`dialog_id`. Everything after the index (shard plans, writers, manifest, index,
verification, the pipeline) is shared.
"""

from __future__ import annotations

import dataclasses

from mer_tf.data.labels import LabelSet, get_label_set

CORPORA = ("iemocap", "table", "crema-d", "ravdess")
DEFAULT_LABEL_SETS = {"iemocap": "seed4", "table": "all", "crema-d": "all", "ravdess": "all"}
ALL_LABELS = "all"  # every label the corpus uses (IEMOCAP: every code but xxx)
NO_AGREEMENT = ("xxx",)  # IEMOCAP's code for annotators who did not agree


def index_corpus(config, policy) -> dict:
    """{session: units} of `config.source`, read by its corpus's reader."""
    if config.corpus == "table":
        from mer_tf.data.table import index_table

        return index_table(config.source, policy)
    if config.corpus == "crema-d":
        from mer_tf.data.crema_d import index_crema_d

        return index_crema_d(config.source, policy)
    if config.corpus == "ravdess":
        from mer_tf.data.ravdess import index_ravdess

        return index_ravdess(config.source, policy)
    from mer_tf.data.iemocap import index_release

    return index_release(config.source, policy, config.sessions)


def read_unit(unit, label_set, options, policy, notes, streams):
    """A unit's in-set utterances as `UtteranceExample`s."""
    from mer_tf.data.table import TableUnit

    if isinstance(unit, TableUnit):
        return unit.read_examples(label_set, options, policy, notes, streams)
    from mer_tf.data.dialog import read_dialog_examples

    return read_dialog_examples(unit, label_set, options, policy, notes, streams)


def resolve(config, index: dict):
    """`config` with its label set named (the corpus's default where it is empty) and,
    for `all`, the classes the index holds (sorted), which workers then read from it."""
    name = config.label_set or DEFAULT_LABEL_SETS[config.corpus]
    classes = ()
    if name == ALL_LABELS:
        classes = tuple(sorted({u.emotion for units in index.values() for unit in units
                                for u in unit.utterances} - set(NO_AGREEMENT)))
        if not classes:
            raise ValueError(f"{config.source}: no labelled utterance to prepare")
    return dataclasses.replace(config, label_set=name, classes=classes)


def label_set_of(config) -> LabelSet:
    """The label set a resolved config names."""
    if config.label_set == ALL_LABELS:
        return LabelSet(ALL_LABELS, tuple(config.classes), {c: c for c in config.classes})
    return get_label_set(config.label_set)
