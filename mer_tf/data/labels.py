"""Emotion codes of IEMOCAP and the label sets a run can train on (a corpus's own full
set is `all`, made from its labels by `mer_tf.data.corpora`)."""

from __future__ import annotations

import dataclasses

# Codes that appear in EmoEvaluation head lines (`xxx`: annotators did not agree).
EMOTION_CODES = ("neu", "fru", "ang", "sad", "hap", "exc", "sur", "fea", "dis", "oth", "xxx")


@dataclasses.dataclass(frozen=True)
class LabelSet:
    """Maps raw emotion codes to class indices; codes outside the set are excluded."""

    name: str
    classes: tuple[str, ...]
    mapping: dict  # raw code -> class name

    def class_of(self, code: str) -> str | None:
        return self.mapping.get(code)

    def index_of(self, code: str) -> int | None:
        name = self.class_of(code)
        return None if name is None else self.classes.index(name)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


LABEL_SETS = {
    # The paper's: four codes as annotated, `hap` not merged (4 936 utterances).
    "seed4": LabelSet("seed4", ("ang", "exc", "neu", "sad"),
                      {"ang": "ang", "exc": "exc", "neu": "neu", "sad": "sad"}),
    # The community standard: `hap` merged into `exc` (5 531 utterances).
    "merged4": LabelSet("merged4", ("ang", "exc", "neu", "sad"),
                        {"ang": "ang", "exc": "exc", "hap": "exc", "neu": "neu", "sad": "sad"}),
    # Shared across corpora, so a model trained on one is scored on another by name
    # (`experiments.evaluate`): IEMOCAP's exc and hap are happy (the community's merge),
    # CREMA-D's codes, MELD's joy, anger and sadness, and the names RAVDESS, MSP-Podcast,
    # MSP-IMPROV, ESD and a table use map to the same four; the rest (frustration, calm,
    # fear, surprise, contempt, …) is left out and counted.
    "cross4": LabelSet("cross4", ("angry", "happy", "neutral", "sad"), {
        "ang": "angry", "exc": "happy", "hap": "happy", "neu": "neutral", "sad": "sad",
        "angry": "angry", "happy": "happy", "neutral": "neutral",
        "anger": "angry", "joy": "happy", "sadness": "sad"}),
}


def get_label_set(name: str) -> LabelSet:
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise ValueError(f"unknown label set {name!r}; choose one of "
                         f"{sorted(LABEL_SETS)}") from None
