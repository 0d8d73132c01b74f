"""Speaker-independent splits: session5 (the paper) and leave-one-session-out.

The test split is always whole sessions. The validation split that chooses the
model and stops training is held out of the training sessions and is never the
test set (the original code validated on its test set):

- `speaker` (default): one speaker of the highest-numbered training session,
  so validation, like test, is on a voice the model never trained on;
- `stratified`: a seeded, class-stratified slice of the training utterances.
"""

from __future__ import annotations

import dataclasses

SESSIONS = (1, 2, 3, 4, 5)


@dataclasses.dataclass(frozen=True)
class Fold:
    name: str
    train_sessions: tuple
    test_sessions: tuple
    validation_speakers: tuple = ()  # held-out training speakers (speaker validation)
    validation_ids: tuple = ()  # held-out training utterances (stratified validation)

    def train_split(self):
        from mer_tf.data.corpus import Split

        return Split(self.train_sessions, exclude_speakers=self.validation_speakers,
                     exclude_ids=self.validation_ids)

    def validation_split(self):
        from mer_tf.data.corpus import Split

        return Split(self.train_sessions, only_speakers=self.validation_speakers,
                     only_ids=self.validation_ids if self.validation_ids else None)

    def test_split(self):
        from mer_tf.data.corpus import Split

        return Split(self.test_sessions)

    def describe(self) -> str:
        held_out = (f"speaker {', '.join(self.validation_speakers)}" if self.validation_speakers
                    else f"{len(self.validation_ids)} stratified utterances")
        return (f"{self.name}: train sessions {list(self.train_sessions)} minus {held_out} "
                f"(validation), test sessions {list(self.test_sessions)}")


def make_folds(data_config, corpus) -> list[Fold]:
    """The folds of `data_config.protocol` on a `PreparedCorpus`, each with its validation
    split (stratified validation reads the training sessions' labels)."""
    available = corpus.sessions
    if data_config.protocol == "session5":
        tests = [(5,)]
    else:
        chosen = data_config.folds or available
        tests = [(int(s),) for s in chosen]
    folds = []
    for test in tests:
        if not set(test) <= set(available):
            raise ValueError(f"test session {test} is not in the prepared data {available}")
        train = tuple(s for s in available if s not in test)
        if not train:
            raise ValueError("no training sessions left")
        name = "session5" if data_config.protocol == "session5" else f"fold{test[0]}"
        if data_config.validation == "speaker":
            speakers = corpus.speakers(max(train))
            # The female speaker if present (a fixed, documented choice), else any.
            speaker = next((s for s in sorted(speakers) if s.endswith("F")), sorted(speakers)[0])
            folds.append(Fold(name, train, test, validation_speakers=(speaker,)))
        else:
            folds.append(Fold(name, train, test, validation_ids=_stratified_ids(
                corpus.metadata(train), data_config.validation_fraction, seed=test[0])))
    return folds


def _stratified_ids(rows: list[dict], fraction: float, seed: int) -> tuple:
    from sklearn.model_selection import train_test_split

    ids = [r["utterance_id"] for r in rows]
    labels = [r["label"] for r in rows]
    _, held_out = train_test_split(ids, test_size=fraction, stratify=labels, random_state=seed)
    return tuple(sorted(held_out))
