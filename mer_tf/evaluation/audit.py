"""The leakage audit: what a fold's training and validation splits share with its test
split (and with each other) beyond the emotion itself.

IEMOCAP's scripted dialogs are the same plays in every session, so under
leave-one-session-out the test session's scripted lines are in the training sessions
too, with much the same emotions: a text model can memorise lines. Short generic turns
("Yeah.", "Okay.") repeat everywhere as well. For each pair of splits the audit counts
shared speakers, sessions and dialogs, and the utterances of the second split whose
transcript, normalised (lower case, no punctuation, no bracketed noise tokens such as
`[LAUGHTER]`, single spaces), also occurs in the first; `scripted_transcripts` counts
those among scripted dialogs alone. Everything comes from the corpus's utterance index:
no pass over the audio.
"""

from __future__ import annotations

import re
import unicodedata

_BRACKETED = re.compile(r"\[[^\]]*\]")
_SPACES = re.compile(r"\s+")
PAIRS = (("train", "test"), ("validation", "test"), ("train", "validation"))


def normalise_transcript(text: str) -> str:
    """The form in which two transcripts count as the same line."""
    text = _BRACKETED.sub(" ", text.lower())
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


def compare_splits(first: list[dict], second: list[dict]) -> dict:
    """What `second` (a list of index rows) shares with `first`: counts of shared
    speakers, sessions and dialogs, and of `second`'s utterances whose transcript occurs
    in `first` (all of them, and those of scripted dialogs matched among scripted ones)."""
    texts = {normalise_transcript(r["text"]) for r in first} - {""}
    scripted = {normalise_transcript(r["text"]) for r in first if r["kind"] == "script"} - {""}

    def shared(key):
        return len({r[key] for r in first} & {r[key] for r in second})

    return {
        "speakers": shared("speaker"), "sessions": shared("session"), "dialogs": shared("dialog"),
        "transcripts": sum(normalise_transcript(r["text"]) in texts for r in second),
        "scripted_transcripts": sum(r["kind"] == "script"
                                    and normalise_transcript(r["text"]) in scripted
                                    for r in second),
    }


def audit_fold(corpus, fold) -> dict:
    """The audit block of one fold (also stored in its metrics.json as `leakage`)."""
    rows = {"train": corpus.rows(fold.train_split()),
            "validation": corpus.rows(fold.validation_split()),
            "test": corpus.rows(fold.test_split())}
    block = {"fold": fold.name, "test_utterances": len(rows["test"]),
             "validation_utterances": len(rows["validation"]),
             "train_utterances": len(rows["train"])}
    for a, b in PAIRS:
        block[f"{a}_{b}"] = compare_splits(rows[a], rows[b])
    texts = {normalise_transcript(r["text"]) for split in rows.values() for r in split} - {""}
    block["distinct_transcripts"] = len(texts)
    corpora = sorted({r.get("corpus", "") for split in rows.values() for r in split})
    if len(corpora) > 1:  # combined corpora: what each corpus's test rows share, too
        block["per_corpus"] = {name: {f"{a}_{b}": compare_splits(
            [r for r in rows[a] if r.get("corpus", "") == name],
            [r for r in rows[b] if r.get("corpus", "") == name]) for a, b in PAIRS}
            for name in corpora}
    labels_of = {}
    for row in rows["train"]:
        labels_of.setdefault(normalise_transcript(row["text"]), set()).add(row["label"])
    # test utterances whose words training reads in several emotions (ESD's parallel lines)
    labels_of.pop("", None)  # no transcript is no sentence
    block["parallel_transcripts"] = sum(
        len(labels_of.get(normalise_transcript(r["text"]), ())) > 1 for r in rows["test"])
    block["fixed_sentences"] = bool(texts) and (
        block["train_test"]["transcripts"] >= 0.9 * block["test_utterances"]) and (
        len(texts) <= FIXED_SENTENCES
        or block["parallel_transcripts"] >= 0.9 * block["test_utterances"])
    return block


# At most this many sentences, nearly every test one also in training: a corpus of fixed
# sentences (CREMA-D reads 12, RAVDESS 2), whose text says nothing of the emotion; so is
# one whose test sentences training reads in several emotions (ESD's 350 parallel lines).
FIXED_SENTENCES = 20


def fixed_sentences_warning(block: dict) -> str:
    """What a run says when its corpus's text is a handful of fixed sentences."""
    if not block.get("fixed_sentences"):
        return ""
    return (f"WARNING: the corpus's text is {block['distinct_transcripts']} fixed sentences "
            "that every emotion reads: a text tower learns nothing about emotion here; train "
            "speech alone (experiments.speech)")


def shared_speakers_warning(block: dict) -> str:
    """What a run and the audit say when a protocol tests on speakers it trained on (MELD's
    official split, a table's own split)."""
    shared = block["train_test"]["speakers"]
    if not shared:
        return ""
    return (f"WARNING: {block['fold']}'s test split shares {shared} speaker(s) with training: "
            "its figures are not speaker-independent (use --protocol speaker-folds for "
            "figures on voices the model never heard)")


def leakage_line(fold, block: dict) -> str:
    """One line for a run's log: what the fold's test split shares with its training."""
    shared = block["train_test"]
    text = (f"leakage audit {fold.name}: {shared['transcripts']} of {block['test_utterances']} "
            f"test utterances share a transcript with training ({shared['scripted_transcripts']} "
            f"of them scripted lines); shared speakers {shared['speakers']}, sessions "
            f"{shared['sessions']}, dialogs {shared['dialogs']}")
    if fold.dropped_ids:
        text += (f"; --text-overlap drop removed {len(fold.dropped_ids)} training/validation "
                 "utterances")
    for name, shared in block.get("per_corpus", {}).items():
        text += (f"; {name}: {shared['train_test']['transcripts']} shared transcripts, "
                 f"{shared['train_test']['speakers']} shared speakers")
    return text


def audit(corpus, folds) -> dict:
    return {"folds": [audit_fold(corpus, fold) for fold in folds]}


def audit_table(report: dict) -> str:
    """Every fold's shared counts, and the warnings that apply (fixed sentences, shared
    speakers)."""
    table = _counts_table(report)
    warnings = {fixed_sentences_warning(block) for block in report["folds"]} - {""}
    speakers = [shared_speakers_warning(block) for block in report["folds"]]
    return "\n".join([table, *sorted(warnings), *[w for w in speakers if w]])


def _counts_table(report: dict) -> str:
    from mer_tf.evaluation.summary import format_table

    header = ["fold", "pair", "speakers", "sessions", "dialogs", "shared transcripts",
              "of them scripted"]
    rows = []
    for block in report["folds"]:
        for a, b in PAIRS:
            counts = block[f"{a}_{b}"]
            of = block[f"{b}_utterances"]
            rows.append([block["fold"], f"{a} vs {b}", counts["speakers"], counts["sessions"],
                         counts["dialogs"], f"{counts['transcripts']} of {of} {b}",
                         counts["scripted_transcripts"]])
    return format_table(header, rows)
