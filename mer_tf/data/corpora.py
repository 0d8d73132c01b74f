"""The corpora preparation reads, and what differs between them: how a release is
indexed, how a unit's utterances are read, the default label set, the scale of the
dimensional labels and the modalities.

A reader indexes a release into {session: units}: a unit is what a shard never splits
(an IEMOCAP dialog; one speaker's rows of one group of a table; a podcast), with
`utterances` (each with the fields `schema.encode_example` records, and `split` and
`vad` for the index), `source_files()` and `dialog_id`. Everything after the index
(shard plans, writers, manifest, index, verification, the pipeline) is shared.
"""

from __future__ import annotations

import dataclasses
import importlib

from mer_tf.data.labels import LabelSet, get_label_set


@dataclasses.dataclass(frozen=True)
class CorpusReader:
    """Where a corpus's reader lives and what a run on it defaults to."""

    module: str  # mer_tf.data.<module>
    function: str  # index function: (source, policy) -> {session: units}
    label_set: str  # default label set
    scale: tuple | None  # (low, high) of its arousal/valence/dominance; None: not annotated


CORPORA = {
    "iemocap": CorpusReader("iemocap", "index_release", "seed4", (1, 5)),
    "msp-podcast": CorpusReader("msp_podcast", "index_msp_podcast", "all", (1, 7)),
    "msp-improv": CorpusReader("msp_improv", "index_msp_improv", "all", (1, 5)),
    "crema-d": CorpusReader("crema_d", "index_crema_d", "all", None),
    "ravdess": CorpusReader("ravdess", "index_ravdess", "all", None),
    "meld": CorpusReader("meld", "index_meld", "all", None),
    "esd": CorpusReader("esd", "index_esd", "all", None),
    # A table's values are kept as given: its own scale, which the table does not state.
    "table": CorpusReader("table", "index_table", "all", None),
}
ALL_LABELS = "all"  # every label the corpus uses but "no agreement"
# IEMOCAP's code, and the name the other readers give, for annotators who did not agree
NO_AGREEMENT = ("xxx", "no_agreement")


def index_corpus(config, policy) -> dict:
    """{session: units} of `config.source`, read by its corpus's reader."""
    reader = CORPORA[config.corpus]
    index = getattr(importlib.import_module(f"mer_tf.data.{reader.module}"), reader.function)
    if config.corpus == "iemocap":
        return index(config.source, policy, config.sessions)
    return index(config.source, policy)


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
    name = config.label_set or CORPORA[config.corpus].label_set
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


def index_row_extras(corpus: str, utterance) -> dict:
    """What the utterance index adds to a shard's row: the corpus, the official split
    ("" where the corpus has none) and arousal, valence and dominance on the corpus's own
    scale (None where not annotated)."""
    vad = getattr(utterance, "vad", None)
    if CORPORA[corpus].scale is None and corpus != "table":
        vad = None
    valence, arousal, dominance = vad if vad is not None else (None, None, None)
    return {"corpus": corpus, "split": getattr(utterance, "split", "") or "",
            "arousal": arousal, "valence": valence, "dominance": dominance}


def check_dimension_scale(config, index: dict) -> None:
    """A table with arousal/valence/dominance needs their scale; others have their own."""
    scale = config.dimension_scale
    if scale and (config.corpus != "table" or len(scale) != 2 or not scale[0] < scale[1]):
        raise ValueError("--dimension-scale is a table's LOW,HIGH (LOW < HIGH); "
                         f"{config.corpus}'s scale is known" if config.corpus != "table"
                         else f"--dimension-scale must be LOW,HIGH with LOW < HIGH, not {scale}")
    if config.corpus == "table" and not scale and any(
            u.vad is not None for units in index.values() for unit in units
            for u in unit.utterances):
        raise ValueError(f"{config.source} gives arousal, valence and dominance: say their "
                         "scale with --dimension-scale LOW,HIGH (e.g. 1,5)")
