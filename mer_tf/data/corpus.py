"""A prepared corpus: its folder and manifest, and what training asks of them.

`PreparedCorpus.open(data_dir)` reads and checks `manifest.json` once; the rest of the
package asks the object (shards of some sessions, classes, mocap streams, how many
utterances a split holds, a split's metadata, a tf.data pipeline) instead of
passing `(data_dir, manifest)` around.
"""

from __future__ import annotations

import dataclasses
import functools

from mer_tf.data.errors import DataError
from mer_tf.data.iemocap import MOCAP_STREAMS
from mer_tf.data.schema import SCHEMA_VERSION
from mer_tf.io import storage

MANIFEST = "manifest.json"
INDEX = "utterances.json"  # one row per utterance, beside the manifest


@dataclasses.dataclass(frozen=True)
class Split:
    """Some sessions, minus (or only) some speakers or utterance ids, of some dialog
    kinds."""

    sessions: tuple
    exclude_speakers: tuple = ()
    only_speakers: tuple = ()
    exclude_ids: tuple = ()
    only_ids: tuple | None = None  # () keeps nothing; None: no id filter
    kinds: tuple = ()  # dialog kinds kept (impro, script); empty: all


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
    def manifest_path(self) -> str:
        return storage.join(self.data_dir, MANIFEST)

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
    def modalities(self) -> tuple:
        """What the corpus holds (a table: no motion capture, and no text without a text
        column); a manifest that does not say is IEMOCAP's, which holds all three."""
        return tuple(self.manifest.get("modalities", ("speech", "text", "mocap")))

    def dimension_scales(self) -> dict:
        """{utterance id: (low, high) of its arousal/valence/dominance, or None where its
        corpus has none}: the manifest's `dimensions` scale; a combination's per member (by
        the index row's corpus: the records keep their own corpus's session numbers); a
        manifest from before it (IEMOCAP's) is IEMOCAP's 1-5."""
        combined = self.manifest.get("combined")
        if combined:
            by_corpus = {entry["corpus"]: _scale_of(entry.get("dimensions"), entry["corpus"])
                         for entry in combined["corpora"]}
            return {r["utterance_id"]: by_corpus.get(r.get("corpus")) for r in self.index}
        scale = _scale_of(self.manifest.get("dimensions"), self.manifest.get("corpus"))
        return {r["utterance_id"]: scale for r in self.index}

    @property
    def facts(self) -> DataFacts:
        mocap = self.manifest["mocap"]
        return DataFacts(tuple((s, int(mocap["streams"][s])) for s in MOCAP_STREAMS
                               if mocap["streams"].get(s) is not None),
                         float(mocap["rate"]), int(mocap["chunks"]))

    @property
    def shards(self) -> list[dict]:
        return self.manifest["shards"]

    def shard_paths(self, sessions=None) -> list[str]:
        chosen = None if sessions is None else {int(s) for s in sessions}
        return [storage.join(self.data_dir, s["file"]) for s in self.shards
                if chosen is None or s["session"] in chosen]

    def count(self, split: Split) -> int:
        """Utterances in `split`, from the index (no pass over the data)."""
        return len(self.rows(split))

    def digest(self) -> str:
        """The identity of the prepared data: a digest of its shards' names and sha256s
        (the same wherever the folder is)."""
        import hashlib

        listing = storage.to_json([[s["file"], s["sha256"]] for s in self.shards])
        return hashlib.sha256(listing.encode()).hexdigest()[:16]

    def verify(self, level: str = "checksum", sessions=None, progress: bool = False) -> None:
        """Checks the shards of `sessions` against the manifest (`mer_tf.data.verify`)."""
        from mer_tf.data.verify import verify_corpus

        verify_corpus(self, level, sessions, progress)

    @functools.cached_property
    def index(self) -> list[dict]:
        """One row per utterance (id, session, speaker, dialog, kind, script, label,
        text), as preparation wrote it beside the manifest: splits, counts and the leakage
        audit read it instead of the shards."""
        path = storage.join(self.data_dir, self.manifest["index"]["file"])
        if not storage.exists(path):
            raise DataError(path, "missing: the manifest lists it; prepare the data again")
        try:
            return storage.read_json(path)["utterances"]
        except (ValueError, KeyError, TypeError) as error:  # JSONDecodeError is a ValueError
            raise DataError(path, f"not the index preparation wrote ({type(error).__name__}: "
                                  f"{error}): damaged or edited since; prepare the data "
                                  "again") from None

    def rows(self, split: Split) -> list[dict]:
        """The index rows of `split`, in file order."""
        sessions = set(split.sessions)
        exclude_speakers, only_speakers = set(split.exclude_speakers), set(split.only_speakers)
        exclude_ids = set(split.exclude_ids)
        only_ids = None if split.only_ids is None else set(split.only_ids)
        kinds = set(split.kinds)
        return [r for r in self.index
                if r["session"] in sessions and r["speaker"] not in exclude_speakers
                and (not only_speakers or r["speaker"] in only_speakers)
                and r["utterance_id"] not in exclude_ids
                and (only_ids is None or r["utterance_id"] in only_ids)
                and (not kinds or r["kind"] in kinds)]

    def dataset(self, split: Split, readers, batch_size: int, **options):
        """The tf.data pipeline of `split` (see `mer_tf.data.pipeline.make_dataset`)."""
        from mer_tf.data.pipeline import make_dataset

        return make_dataset(self, split, readers, batch_size, **options)


def _scale_of(dimensions: dict | None, corpus: str | None):
    if dimensions is None:
        return (1.0, 5.0) if corpus in (None, "iemocap") else None
    scale = dimensions.get("scale")
    return None if scale is None else (float(scale[0]), float(scale[1]))


def check_prepared(data_dir: str) -> None:
    """A DataError saying what `data_dir` is when it holds no manifest: for a local folder
    this reads no TensorFlow, so a command refuses a wrong --data-dir at once."""
    if not storage.exists(storage.join(data_dir, MANIFEST)):
        raise DataError(data_dir, _why_not_prepared(data_dir))


def read_manifest(data_dir: str) -> dict:
    path = storage.join(data_dir, MANIFEST)
    check_prepared(data_dir)
    try:
        manifest = storage.read_json(path)
    except ValueError as error:
        raise DataError(path, f"not readable JSON ({error}); prepare the data again") from None
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise DataError(path, f"schema version {manifest.get('schema_version')} is not "
                              f"{SCHEMA_VERSION}; prepare the data again")
    _check_shard_names(manifest, path)
    return manifest


def _why_not_prepared(data_dir: str) -> str:
    """What a folder without a manifest is, in one sentence a user can act on."""
    prepare = "python -m experiments.prepare --iemocap {} --out DATA_DIR"
    if not storage.exists(data_dir):
        return "does not exist (a --data-dir is a folder made by python -m experiments.prepare)"
    if not storage.isdir(data_dir):
        return "is a file, not a prepared data folder"
    names = set(storage.listdir(data_dir))
    if {f"Session{n}" for n in range(1, 6)} & names:
        return ("this is an IEMOCAP release, not prepared data: prepare it first with "
                + prepare.format(data_dir))
    if "IEMOCAP_full_release" in names:
        inner = storage.join(data_dir, "IEMOCAP_full_release")
        return ("holds an IEMOCAP release, not prepared data: prepare it first with "
                + prepare.format(inner))
    if ".state" in names:
        if INDEX in names:  # written last but for the manifest; removed before any change
            return ("a preparation finished here but its manifest.json is gone (deleted or "
                    "moved by hand?): run python -m experiments.prepare again with the same "
                    "--out; it keeps every shard and writes the manifest anew")
        return ("a preparation began here but did not finish (no manifest.json): run "
                "python -m experiments.prepare again with the same --out")
    return ("not a prepared corpus: it has no manifest.json (prepare one with "
            "python -m experiments.prepare --iemocap PATH --out DATA_DIR)")


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
