"""What training checks of a prepared corpus before it trusts it.

`size`: every shard of the chosen sessions is there with the manifest's size, and the
manifest's counts add up. `checksum` (a run's default) adds each shard's sha256, the
utterance index's, and one pass over each shard's records: their number, and each
record's session and class, must be what the manifest says. That reads the corpus once
(seconds for IEMOCAP on a local disk); for a huge corpus on gs://, `--verify-data size`
skips the read. A mismatch is a DataError naming the file.
"""

from __future__ import annotations

from mer_tf.data.errors import DataError
from mer_tf.data.schema import UTTERANCE
from mer_tf.io import storage


def verify_corpus(corpus, level: str = "checksum", sessions=None, progress: bool = False) -> None:
    """Checks the shards of `sessions` (all: None) at `level` (module docstring)."""
    if level == "off":
        return
    if level not in ("size", "checksum"):
        raise ValueError(f"verify level must be checksum, size or off, got {level!r}")
    path = corpus.manifest_path
    _check_counts(corpus, path)
    chosen = None if sessions is None else {int(s) for s in sessions}
    shards = [s for s in corpus.shards if chosen is None or s["session"] in chosen]
    for shard in shards:
        file = storage.join(corpus.data_dir, shard["file"])
        if not storage.exists(file):
            raise DataError(file, f"missing: {path} lists it; prepare the data again")
    if level == "checksum":
        from collections import Counter

        from tqdm.auto import tqdm

        total = sum(s["bytes"] for s in shards)
        found = {}  # session -> Counter of class names
        with tqdm(total=total, desc="verifying shards", unit="B", unit_scale=True,
                  disable=not progress or total < (256 << 20), leave=False) as bar:
            for shard in shards:
                labels = _check_records(corpus, shard, path)
                found.setdefault(shard["session"], Counter()).update(
                    corpus.classes[i] for i in labels)
                bar.update(shard["bytes"])
        for session, counts in found.items():
            expected = {c: n for c, n in corpus.manifest["sessions"][str(session)]["classes"]
                        .items() if n}
            if dict(counts) != expected:
                raise DataError(path, f"session {session}'s shards hold classes "
                                      f"{dict(sorted(counts.items()))}, the manifest says "
                                      f"{expected}: prepare the data again")
    for shard in shards:
        file = storage.join(corpus.data_dir, shard["file"])
        if storage.size(file) != shard["bytes"]:
            raise DataError(file, f"{storage.size(file)} bytes where {path} says "
                                  f"{shard['bytes']}: the file changed or was cut short "
                                  "since preparation; prepare the data again")
        if level == "checksum" and storage.sha256_of(file) != shard["sha256"]:
            raise DataError(file, f"does not match its sha256 in {path}: the file changed "
                                  "since preparation (damaged, or another preparation's); "
                                  "prepare the data again")

def _check_counts(corpus, path: str) -> None:
    sessions = corpus.manifest["sessions"]
    for session, info in sessions.items():
        listed = [s for s in corpus.shards if str(s["session"]) == session]
        counted = sum(s["utterances"] for s in listed)
        classes = sum(info["classes"].values())
        if not counted == info["utterances"] == classes:
            raise DataError(path, f"session {session}: its shards hold {counted} "
                                  f"utterances, its count says {info['utterances']} and its "
                                  f"classes add up to {classes}; the manifest was edited "
                                  "or is damaged: prepare the data again")
    index = storage.join(corpus.data_dir, corpus.manifest["index"]["file"])
    if not storage.exists(index):
        raise DataError(index, f"missing: {path} lists it; prepare the data again")
    if storage.sha256_of(index) != corpus.manifest["index"]["sha256"]:
        raise DataError(index, f"does not match its sha256 in {path}: edited or damaged since "
                               "preparation; prepare the data again")
    for session, info in sessions.items():
        rows = sum(r["session"] == int(session) for r in corpus.index)
        if rows != info["utterances"]:
            raise DataError(index, f"session {session}: {rows} utterances, where {path} says "
                                   f"{info['utterances']}: prepare the data again")
    total = sum(info["utterances"] for info in sessions.values())
    if total != corpus.manifest["utterances"]:
        raise DataError(path, f"sessions add up to {total} utterances, the manifest says "
                              f"{corpus.manifest['utterances']}: prepare the data again")

def unreadable_record(message: str) -> str:
    """What TensorFlow's error on a damaged TFRecord file means, without its internals
    (`{{function_node __wrapped__IteratorGetNext…}} corrupted record at 882334 [Op:…]`):
    where the damage starts and what to do."""
    import re

    found = re.search(r"(corrupted|truncated) record at (\d+)", message)
    if found:
        what = "is damaged" if found[1] == "corrupted" else "is cut short"
        where = f"the record at byte {int(found[2]):,} {what}"
    else:
        text = re.sub(r"\{\{.*?\}\}|\[Op:[^\]]*\]|\bname: *$", "", message.splitlines()[0])
        where = f"unreadable ({' '.join(text.split())})"
    return (f"not a readable TFRecord file: {where}, so the file changed since preparation; "
            "prepare the data again")


def _check_records(corpus, shard: dict, path: str):
    """One pass over a shard's records: their count and sessions; returns labels."""
    import numpy as np
    import tensorflow as tf

    file = storage.join(corpus.data_dir, shard["file"])
    spec = UTTERANCE.parse_spec({"session": 0, "label": 0})
    sessions, labels = [], []
    try:
        for batch in tf.data.TFRecordDataset(file).map(
                lambda r: tf.io.parse_single_example(r, spec)).batch(4096):
            sessions.append(batch["session"].numpy())
            labels.append(batch["label"].numpy())
    except tf.errors.OpError as error:
        raise DataError(file, unreadable_record(error.message)) from None
    sessions = np.concatenate(sessions) if sessions else np.zeros(0, int)
    labels = np.concatenate(labels) if labels else np.zeros(0, int)
    own = shard.get("record_session", shard["session"])  # a combination renumbers sessions
    wrong = sessions != own
    if wrong.any():
        raise DataError(file, f"holds records of session {int(sessions[wrong][0])}, but "
                              f"{path} lists it as a shard of session {own}: "
                              "shards were renamed or swapped; prepare the data again")
    if len(sessions) != shard["utterances"]:
        raise DataError(file, f"holds {len(sessions)} records where {path} says "
                              f"{shard['utterances']}: prepare the data again")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(corpus.classes)):
        raise DataError(file, f"holds a label outside the {len(corpus.classes)} classes of "
                              f"{path}")
    return labels.tolist()
