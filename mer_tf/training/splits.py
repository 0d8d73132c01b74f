"""Speaker-independent splits: session5 (the paper), leave-one-session-out, and speaker
folds (the speakers dealt into K groups, each the test split once: corpora without
sessions, or a finer cross-validation of IEMOCAP's ten actors); and a corpus's official
split (`official`: its train, development and test utterances, as the index records
them), which is speaker-independent only where the corpus made it so (the audit says).

The test split is whole sessions, or (speaker folds) whole speakers. The validation
split that chooses the model and stops training is held out of the training sessions and
is never the test set (the original code validated on its test set):

- `speaker` (default): one speaker of the highest-numbered training session,
  so validation, like test, is on a voice the model never trained on;
- `stratified`: a seeded, class-stratified slice of the training utterances.
"""

from __future__ import annotations

import dataclasses

from mer_tf.layout import OFFICIAL, SESSION5, fold_name

SESSIONS = (1, 2, 3, 4, 5)
# How corpora name the parts of their official split (lower-cased), by role.
OFFICIAL_NAMES = {"train": ("train",),
                  "validation": ("development", "dev", "validation", "valid", "val",
                                 "evaluation"),
                  "test": ("test", "test1")}


@dataclasses.dataclass(frozen=True)
class Fold:
    name: str
    train_sessions: tuple
    test_sessions: tuple
    validation_speakers: tuple = ()  # held-out training speakers (speaker validation)
    validation_ids: tuple = ()  # held-out training utterances (stratified validation)
    kinds: tuple = ()  # dialog kinds of every split (--subset); empty: all
    dropped_ids: tuple = ()  # --text-overlap drop: out of training and validation
    test_speakers: tuple = ()  # speaker folds: the test split's speakers (else: every one)
    train_ids: tuple | None = None  # official: the training utterances (None: no id filter)
    test_ids: tuple | None = None  # official: the test utterances

    def train_split(self):
        from mer_tf.data.corpus import Split

        return Split(self.train_sessions,
                     exclude_speakers=(*self.validation_speakers, *self.test_speakers),
                     exclude_ids=tuple(sorted(set(self.validation_ids) | set(self.dropped_ids))),
                     only_ids=self.train_ids, kinds=self.kinds)

    def validation_split(self):
        from mer_tf.data.corpus import Split

        return Split(self.train_sessions, only_speakers=self.validation_speakers,
                     only_ids=self.validation_ids if self.validation_ids else None,
                     exclude_ids=self.dropped_ids, kinds=self.kinds)

    def test_split(self):
        from mer_tf.data.corpus import Split

        return Split(self.test_sessions, only_speakers=self.test_speakers,
                     only_ids=self.test_ids, kinds=self.kinds)

    def describe(self) -> str:
        held_out = (f"speaker {', '.join(self.validation_speakers)}" if self.validation_speakers
                    else f"{len(self.validation_ids)} stratified utterances")
        if self.test_ids is not None:
            text = (f"{self.name}: the corpus's own split: {len(self.train_ids)} training, "
                    f"{len(self.validation_ids)} development (validation), "
                    f"{len(self.test_ids)} test utterances")
        elif self.test_speakers:
            text = (f"{self.name}: test speakers {', '.join(self.test_speakers)}; training "
                    f"the other speakers minus {held_out} (validation)")
        else:
            text = (f"{self.name}: train sessions {list(self.train_sessions)} minus "
                    f"{held_out} (validation), test sessions {list(self.test_sessions)}")
        if self.kinds:
            text += f", {'/'.join(self.kinds)} dialogs only"
        if self.dropped_ids:
            text += (f"; {len(self.dropped_ids)} training/validation utterances dropped: their "
                     "transcript occurs in the test split")
        return text


def make_folds(data_config, corpus) -> list[Fold]:
    """The folds of `data_config.protocol` on a `PreparedCorpus`, each with its validation
    split (stratified validation reads the training sessions' labels from the index), its
    subset of dialogs and, with `text_overlap="drop"`, the utterances that leave training
    and validation because their transcript occurs in the test split."""
    from mer_tf.config.run import SUBSET_KINDS
    from mer_tf.data.corpus import Split
    from mer_tf.evaluation.audit import normalise_transcript

    kinds = SUBSET_KINDS[data_config.subset]
    available = corpus.sessions
    if data_config.protocol == OFFICIAL:
        return [_drop_overlap(_official_fold(corpus, kinds), data_config, corpus)]
    if data_config.protocol == "speaker-folds":
        return [_drop_overlap(fold, data_config, corpus) for fold in _speaker_folds(
            data_config, corpus, kinds)]
    if data_config.protocol == SESSION5:
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
        name = SESSION5 if data_config.protocol == SESSION5 else fold_name(test[0])
        dropped = ()
        if data_config.text_overlap == "drop":
            tested = {normalise_transcript(r["text"])
                      for r in corpus.rows(Split(test, kinds=kinds))}
            dropped = tuple(sorted(r["utterance_id"] for r in corpus.rows(Split(train, kinds=kinds))
                                   if normalise_transcript(r["text"]) in tested - {""}))
        if data_config.validation == "speaker":
            speakers = corpus.speakers(max(train))
            # The female speaker if present (a fixed, documented choice), else any.
            speaker = next((s for s in sorted(speakers) if s.endswith("F")), sorted(speakers)[0])
            folds.append(Fold(name, train, test, validation_speakers=(speaker,), kinds=kinds,
                              dropped_ids=dropped))
        else:
            rows = [r for r in corpus.rows(Split(train, kinds=kinds))
                    if r["utterance_id"] not in set(dropped)]
            folds.append(Fold(name, train, test, validation_ids=_stratified_ids(
                rows, data_config.validation_fraction, seed=test[0]), kinds=kinds,
                dropped_ids=dropped))
    return folds


def _speaker_folds(data_config, corpus, kinds) -> list[Fold]:
    """Speakers sorted by name, dealt in turn into `speaker_folds` groups (IEMOCAP's
    alternate F and M, so each group holds both); each group is a fold's test split, and
    the last female speaker (by name) of the others, else the last, its validation."""
    from mer_tf.data.corpus import Split

    sessions = corpus.sessions
    speakers = sorted({s for session in sessions for s in corpus.speakers(session)})
    count = data_config.speaker_folds
    if len(speakers) < count + 1:
        raise ValueError(f"--speaker-folds {count} needs at least {count + 1} speakers; "
                         f"{corpus.data_dir} has {len(speakers)}")
    chosen = data_config.folds or tuple(range(1, count + 1))
    folds = []
    for number in chosen:
        if not 1 <= number <= count:
            raise ValueError(f"--folds {number}: speaker folds are numbered 1 to {count}")
        test = tuple(speakers[number - 1::count])
        others = [s for s in speakers if s not in test]
        tested_sessions = tuple(s for s in sessions
                                if set(corpus.speakers(s)) & set(test))
        if data_config.validation == "speaker":
            speaker = next((s for s in reversed(others) if s.endswith("F")), others[-1])
            folds.append(Fold(fold_name(number), sessions, tested_sessions,
                              validation_speakers=(speaker,), kinds=kinds, test_speakers=test))
        else:
            rows = corpus.rows(Split(sessions, exclude_speakers=test, kinds=kinds))
            folds.append(Fold(fold_name(number), sessions, tested_sessions, kinds=kinds,
                              test_speakers=test, validation_ids=_stratified_ids(
                                  rows, data_config.validation_fraction, seed=number)))
    return folds


def _official_fold(corpus, kinds) -> Fold:
    """The corpus's own split, from the `split` of each index row: training, development
    (validation: never the test split) and test, each the union of the names corpora
    give that part (combined corpora: MELD's dev and ESD's evaluation both validate); a
    corpus with Test1 and Test2 tests on Test1, the other staying in the index for
    `experiments.evaluate --split`. Rows without a split are in no part."""
    named = {}
    for row in corpus.index:
        named.setdefault((row.get("split") or "").lower(), []).append(row["utterance_id"])
    roles = {role: [n for n in names if named.get(n)] for role, names in OFFICIAL_NAMES.items()}
    if "test" in roles["test"]:  # a corpus's "test", else its Test1 (MSP-Podcast)
        roles["test"] = ["test"] + ([] if "test1" not in roles["test"] else ["test1"])
    missing = [role for role, found in roles.items() if not found]
    if missing:
        found = ", ".join(sorted(n for n in named if n)) or "none"
        raise ValueError(f"--protocol official needs the corpus's {' and '.join(missing)} "
                         f"split; {corpus.data_dir} has {found} (a table gives them in its "
                         "split column; use --protocol speaker-folds otherwise)")
    ids = {role: tuple(sorted(i for name in found for i in named[name]))
           for role, found in roles.items()}
    sessions = corpus.sessions
    return Fold(OFFICIAL, sessions, sessions, validation_ids=ids["validation"], kinds=kinds,
                train_ids=ids["train"], test_ids=ids["test"])


def _drop_overlap(fold: Fold, data_config, corpus) -> Fold:
    """With `text_overlap="drop"`, the training and validation utterances whose transcript
    occurs in the fold's test split leave them."""
    from mer_tf.evaluation.audit import normalise_transcript

    if data_config.text_overlap != "drop":
        return fold
    tested = {normalise_transcript(r["text"]) for r in corpus.rows(fold.test_split())} - {""}
    kept = Fold(fold.name, fold.train_sessions, fold.test_sessions, kinds=fold.kinds,
                test_speakers=fold.test_speakers,  # training and validation together
                train_ids=None if fold.train_ids is None else tuple(sorted(
                    set(fold.train_ids) | set(fold.validation_ids))))
    dropped = tuple(sorted(r["utterance_id"] for r in corpus.rows(kept.train_split())
                           if normalise_transcript(r["text"]) in tested))
    validation = tuple(i for i in fold.validation_ids if i not in set(dropped))
    if fold.validation_ids and not validation:  # an empty id list would mean "no filter"
        raise ValueError(f"{fold.name}: --text-overlap drop removes every validation "
                         "utterance (each shares a transcript with the test split); keep "
                         "the overlap or choose another validation")
    return dataclasses.replace(fold, dropped_ids=dropped, validation_ids=validation)


def _stratified_ids(rows: list[dict], fraction: float, seed: int) -> tuple:
    from sklearn.model_selection import train_test_split

    ids = [r["utterance_id"] for r in rows]
    labels = [r["label"] for r in rows]
    _, held_out = train_test_split(ids, test_size=fraction, stratify=labels, random_state=seed)
    return tuple(sorted(held_out))
