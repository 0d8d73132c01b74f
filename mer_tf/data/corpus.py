"""A prepared corpus: its folder and manifest, and what training asks of them.

`PreparedCorpus.open(data_dir)` reads and checks `manifest.json` once; the rest of the
package asks the object (shards of some sessions, classes, mocap streams, how many
utterances a split holds, a split's metadata, a tf.data pipeline) instead of
passing `(data_dir, manifest)` around.
"""

from __future__ import annotations

import dataclasses

from mer_tf import storage
from mer_tf.data.errors import DataError
from mer_tf.data.iemocap import MOCAP_STREAMS
from mer_tf.data.schema import METADATA_KEYS, SCHEMA_VERSION, UTTERANCE

MANIFEST = "manifest.json"


@dataclasses.dataclass(frozen=True)
class Split:
    """Some sessions, minus (or only) some speakers or utterance ids."""

    sessions: tuple
    exclude_speakers: tuple = ()
    only_speakers: tuple = ()
    exclude_ids: tuple = ()
    only_ids: tuple | None = None  # () keeps nothing; None: no id filter


@dataclasses.dataclass(frozen=True)
class DataFacts:
    """What towers need to know of the data to shape their inputs (also stored with an
    exported model, so a run folder can be loaded without its corpus)."""

    mocap_streams: tuple = ()  # ((stream, dim), ...)
    mocap_rate: float = 0.0  # frames view, frames/s
    mocap_chunks: int = 0  # chunks view, chunks per utterance

    @classmethod
    def from_export_info(cls, info: dict) -> "DataFacts":
        streams = info.get("mocap_streams", {})
        chunks = info["mocap_frames"] if info.get("mocap_view") == "chunks" else 0
        return cls(tuple((s, int(streams[s])) for s in MOCAP_STREAMS if s in streams),
                   float(info.get("mocap_rate", 0.0)), int(chunks))


# IEMOCAP's motion capture as prepared by default (head 6, hand 18, rotated 165: the
# paper's 189 values; 30 frames/s; 200 chunks): for building models without a corpus.
IEMOCAP_FACTS = DataFacts((("head", 6), ("hand", 18), ("rotated", 165)), 30.0, 200)


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedCorpus:
    data_dir: str
    manifest: dict

    @classmethod
    def open(cls, data_dir: str) -> "PreparedCorpus":
        return cls(data_dir, read_manifest(data_dir))

    @property
    def classes(self) -> tuple:
        return tuple(self.manifest["classes"])

    @property
    def utterances(self) -> int:
        return int(self.manifest["utterances"])

    @property
    def sessions(self) -> tuple:
        return tuple(sorted(int(s) for s in self.manifest["sessions"]))

    def speakers(self, session: int) -> dict:
        """{speaker: utterances} of one session."""
        return self.manifest["sessions"][str(session)]["speakers"]

    @property
    def facts(self) -> DataFacts:
        mocap = self.manifest["mocap"]
        return DataFacts(tuple((s, int(mocap["streams"][s])) for s in MOCAP_STREAMS),
                         float(mocap["rate"]), int(mocap["chunks"]))

    @property
    def shards(self) -> list[dict]:
        return self.manifest["shards"]

    def shard_paths(self, sessions=None) -> list[str]:
        chosen = None if sessions is None else {int(s) for s in sessions}
        return [storage.join(self.data_dir, s["file"]) for s in self.shards
                if chosen is None or s["session"] in chosen]

    def count(self, split: Split) -> int:
        """Utterances in `split`, from the manifest's counts (no pass over the data)."""
        sessions = self.manifest["sessions"]
        if split.only_ids is not None:
            return len(split.only_ids)
        if split.only_speakers:
            return sum(sessions[str(s)]["speakers"].get(speaker, 0)
                       for s in split.sessions for speaker in split.only_speakers)
        total = sum(sessions[str(s)]["utterances"] for s in split.sessions)
        total -= sum(sessions[str(s)]["speakers"].get(speaker, 0)
                     for s in split.sessions for speaker in split.exclude_speakers)
        return total - len(split.exclude_ids)

    def metadata(self, sessions) -> list[dict]:
        """Utterance id, session, speaker and label of every example, in file order."""
        import tensorflow as tf

        spec = UTTERANCE.parse_spec(METADATA_KEYS)
        dataset = tf.data.TFRecordDataset(self.shard_paths(sessions))
        dataset = dataset.map(lambda r: tf.io.parse_single_example(r, spec)).batch(1024)
        rows = []
        for batch in dataset.as_numpy_iterator():
            for i in range(len(batch["label"])):
                rows.append({"utterance_id": batch["utterance_id"][i].decode(),
                             "session": int(batch["session"][i]),
                             "speaker": batch["speaker"][i].decode(),
                             "label": int(batch["label"][i])})
        return rows

    def digest(self) -> str:
        """The identity of the prepared data: a digest of its shards' names and sha256s
        (the same wherever the folder is)."""
        import hashlib

        listing = storage.to_json([[s["file"], s["sha256"]] for s in self.shards])
        return hashlib.sha256(listing.encode()).hexdigest()[:16]

    def verify(self, level: str = "checksum", sessions=None, progress: bool = False) -> None:
        """Checks the shards of `sessions` against the manifest before anything trains on
        them; a mismatch is a DataError naming the file.

        `size`: every shard is there with the manifest's size, and the manifest's counts
        add up. `checksum` (the default of a run) adds each shard's sha256 and one pass
        over its records: their number, and each record's session and class, must be
        what the manifest says. That reads the whole corpus once (seconds for IEMOCAP on
        a local disk); for a huge corpus on gs://, `--verify-data size` skips the read.
        """
        if level == "off":
            return
        if level not in ("size", "checksum"):
            raise ValueError(f"verify level must be checksum, size or off, got {level!r}")
        path = storage.join(self.data_dir, MANIFEST)
        self._check_counts(path)
        chosen = None if sessions is None else {int(s) for s in sessions}
        shards = [s for s in self.shards if chosen is None or s["session"] in chosen]
        for shard in shards:
            file = storage.join(self.data_dir, shard["file"])
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
                    labels = self._check_records(shard, path)
                    found.setdefault(shard["session"], Counter()).update(
                        self.classes[i] for i in labels)
                    bar.update(shard["bytes"])
            for session, counts in found.items():
                expected = {c: n for c, n in self.manifest["sessions"][str(session)]["classes"]
                            .items() if n}
                if dict(counts) != expected:
                    raise DataError(path, f"session {session}'s shards hold classes "
                                          f"{dict(sorted(counts.items()))}, the manifest says "
                                          f"{expected}: prepare the data again")
        for shard in shards:
            file = storage.join(self.data_dir, shard["file"])
            if storage.size(file) != shard["bytes"]:
                raise DataError(file, f"{storage.size(file)} bytes where {path} says "
                                      f"{shard['bytes']}: the file changed or was cut short "
                                      "since preparation; prepare the data again")
            if level == "checksum" and storage.sha256_of(file) != shard["sha256"]:
                raise DataError(file, f"does not match its sha256 in {path}: the file changed "
                                      "since preparation (damaged, or another preparation's); "
                                      "prepare the data again")

    def _check_counts(self, path: str) -> None:
        sessions = self.manifest["sessions"]
        for session, info in sessions.items():
            listed = [s for s in self.shards if str(s["session"]) == session]
            counted = sum(s["utterances"] for s in listed)
            classes = sum(info["classes"].values())
            if not counted == info["utterances"] == classes:
                raise DataError(path, f"session {session}: its shards hold {counted} "
                                      f"utterances, its count says {info['utterances']} and its "
                                      f"classes add up to {classes}; the manifest was edited "
                                      "or is damaged: prepare the data again")
        total = sum(info["utterances"] for info in sessions.values())
        if total != self.manifest["utterances"]:
            raise DataError(path, f"sessions add up to {total} utterances, the manifest says "
                                  f"{self.manifest['utterances']}: prepare the data again")

    def _check_records(self, shard: dict, path: str):
        """One pass over a shard's records: their count and sessions; returns labels."""
        import numpy as np
        import tensorflow as tf

        file = storage.join(self.data_dir, shard["file"])
        spec = UTTERANCE.parse_spec({"session": 0, "label": 0})
        sessions, labels = [], []
        try:
            for batch in tf.data.TFRecordDataset(file).map(
                    lambda r: tf.io.parse_single_example(r, spec)).batch(4096):
                sessions.append(batch["session"].numpy())
                labels.append(batch["label"].numpy())
        except tf.errors.OpError as error:
            raise DataError(file, "not a readable TFRecord file (truncated or damaged: "
                                  f"{error.message.splitlines()[0]}); prepare the data "
                                  "again") from None
        sessions = np.concatenate(sessions) if sessions else np.zeros(0, int)
        labels = np.concatenate(labels) if labels else np.zeros(0, int)
        wrong = sessions != shard["session"]
        if wrong.any():
            raise DataError(file, f"holds records of session {int(sessions[wrong][0])}, but "
                                  f"{path} lists it as a shard of session {shard['session']}: "
                                  "shards were renamed or swapped; prepare the data again")
        if len(sessions) != shard["utterances"]:
            raise DataError(file, f"holds {len(sessions)} records where {path} says "
                                  f"{shard['utterances']}: prepare the data again")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise DataError(file, f"holds a label outside the {len(self.classes)} classes of "
                                  f"{path}")
        return labels.tolist()

    def dataset(self, split: Split, readers, batch_size: int, **options):
        """The tf.data pipeline of `split` (see `mer_tf.data.pipeline.make_dataset`)."""
        from mer_tf.data.pipeline import make_dataset

        return make_dataset(self, split, readers, batch_size, **options)


def read_manifest(data_dir: str) -> dict:
    path = storage.join(data_dir, MANIFEST)
    if not storage.exists(path):
        raise DataError(path, "no manifest: prepare the data first "
                              "(python -m experiments.prepare --out DATA_DIR …)")
    manifest = storage.read_json(path)
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise DataError(path, f"schema version {manifest.get('schema_version')} is not "
                              f"{SCHEMA_VERSION}; prepare the data again")
    _check_shard_names(manifest, path)
    return manifest


def _check_shard_names(manifest: dict, path: str) -> None:
    """Shards are file names inside the data folder, as preparation writes them: a
    manifest naming any other path (`../x`, `/etc/x`, `gs://other/x`) is refused, so
    a crafted manifest cannot make training read files elsewhere."""
    names = [s.get("file") for s in manifest.get("shards", [])]
    names += [n for info in manifest.get("sessions", {}).values() for n in info.get("shards", [])]
    for name in names:
        if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name
                or "\\" in name or ":" in name):
            raise DataError(path, f"shard {name!r} is not a file name inside the data folder; "
                                  "this manifest was not written by preparation")
