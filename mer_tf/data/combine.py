"""Several prepared corpora as one: a data folder whose shards are the members' own
(hard links where the file system allows, copies elsewhere), so training, the audit,
verification and the pipeline see one prepared corpus and need nothing new.

    python -m experiments.prepare --combine data/iemocap data/msp-podcast --out data/both
    python -m experiments.speech --data-dir data/iemocap --data-dir data/msp-podcast

The members must share their classes (prepare each with `--label-set cross4` to name
the same four alike) and may not share a speaker or an utterance id. Each member's
sessions are numbered on after the previous member's (IEMOCAP's 1-5, then MSP-Podcast's
1 as 6), so `--protocol loso` holds out a session of any member, and a member of one
session is held out whole: leave-one-corpus-out. Each shard keeps its records' own
session (`record_session` in the manifest), which verification checks. The modalities
are those every member has; the index keeps each row's `corpus`, so the audit counts
what the test split shares with training corpus by corpus.
"""

from __future__ import annotations

import os
import re
from collections import Counter

from mer_tf.data.corpus import INDEX, MANIFEST, PreparedCorpus
from mer_tf.data.errors import DataError
from mer_tf.io import locking, storage


def combined_name(data_dirs) -> str:
    """The folder `--data-dir A --data-dir B` combines into: beside A, named after all."""
    first = str(data_dirs[0]).rstrip("/")
    parent = first.rsplit("/", 1)[0] if "/" in first else "."
    return storage.join(parent, "+".join(str(d).rstrip("/").rsplit("/", 1)[-1]
                                         for d in data_dirs))


def combine(data_dirs, out_dir: str) -> dict:
    """Writes the combined folder (or keeps it, when it already combines the same
    members' same shards); returns its manifest."""
    if len(data_dirs) < 2:
        raise ValueError("combining needs at least two prepared folders")
    seen = {}
    for data_dir in data_dirs:
        key = data_dir if storage.is_remote(data_dir) else os.path.realpath(data_dir)
        if key in seen:
            raise ValueError(f"{data_dir} is given twice ({seen[key]}): every utterance "
                             "would be in the combination twice")
        seen[key] = data_dir
    members = [PreparedCorpus.open(d) for d in data_dirs]
    _check(members)
    # a member prepared again (new shards, or a new index) makes a new plan
    plan = [[d, m.digest(), m.manifest["index"]["sha256"]] for d, m in zip(data_dirs, members)]
    manifest_path = storage.join(out_dir, MANIFEST)
    if storage.exists(manifest_path):
        earlier = storage.read_json(manifest_path)
        if earlier.get("combined", {}).get("members") == plan:
            return earlier
        if "combined" not in earlier:
            raise DataError(out_dir, "holds a prepared corpus that is not a combination; "
                                     "choose another --out")
    elif storage.exists(out_dir) and not _ours(out_dir):
        raise DataError(out_dir, "is not empty and holds no combination: choose another --out")
    storage.makedirs(out_dir)
    with locking.locked(out_dir, "combining corpora"):
        storage.remove(manifest_path)  # until the new one is written, no corpus here
        return _write(members, plan, out_dir, manifest_path)


def _ours(out_dir: str) -> bool:
    """Only what a combination writes (an interrupted one's shards and index, its lock)."""
    return all(re.match(r"^c\d+-.*\.tfrecord$", n) or n in (INDEX, ".lock", "feature_cache")
               or storage.is_temporary(n) for n in storage.listdir(out_dir))


def _check(members) -> None:
    first = members[0]
    for member in members[1:]:
        if member.classes != first.classes:
            raise ValueError(f"{member.data_dir} has the classes {', '.join(member.classes)} "
                             f"and {first.data_dir} {', '.join(first.classes)}: combined "
                             "corpora share their classes (prepare each with --label-set "
                             "cross4)")
    seen_speakers, seen_ids = {}, {}
    for number, member in enumerate(members):
        for row in member.index:
            owner = seen_speakers.setdefault(row["speaker"], number)
            if owner != number:
                raise ValueError(f"speaker {row['speaker']!r} is in both "
                                 f"{members[owner].data_dir} and {member.data_dir}: their "
                                 "speakers would be one person (speakers are named in the "
                                 "shards; rename one corpus's in its table, or train apart)")
            if seen_ids.setdefault(row["utterance_id"], number) != number:
                raise ValueError(f"utterance id {row['utterance_id']!r} is in both "
                                 f"{members[seen_ids[row['utterance_id']]].data_dir} and "
                                 f"{member.data_dir}")


def _link_or_copy(source: str, target: str) -> str:
    """"linked" or "copied": `target` made the member's shard anew (a shard kept from an
    earlier combination only when it is the very same file)."""
    local = not (storage.is_remote(source) or storage.is_remote(target))
    if local and os.path.exists(target) and os.path.samefile(source, target):
        return "linked"
    storage.remove(target)
    if local:
        try:
            os.link(source, target)
            return "linked"
        except OSError:  # another file system, or links not allowed: copy
            pass
    storage.copy(source, target)
    return "copied"


def _write(members, plan, out_dir, manifest_path) -> dict:
    import json

    from mer_tf.data.schema import SCHEMA_VERSION

    sessions, shards, listing, renumbered, made = {}, [], [], {}, Counter()
    modalities = [m for m in members[0].modalities
                  if all(m in member.modalities for member in members)]
    for number, member in enumerate(members, start=1):
        mapping = {}
        for old in member.sessions:
            mapping[old] = len(sessions) + 1
            info = dict(member.manifest["sessions"][str(old)])
            info["shards"] = [f"c{number}-{name}" for name in info.get("shards", [])]
            sessions[str(mapping[old])] = info
        renumbered[member.data_dir] = mapping
        for shard in member.shards:
            name = f"c{number}-{shard['file']}"
            made[_link_or_copy(storage.join(member.data_dir, shard["file"]),
                               storage.join(out_dir, name))] += 1
            shards.append({**shard, "file": name, "session": mapping[shard["session"]],
                           "record_session": shard.get("record_session", shard["session"])})
        listing.append({"data_dir": member.data_dir,
                        "corpus": member.manifest.get("corpus", "iemocap"),
                        "sessions": {str(new): old for old, new in mapping.items()},
                        "dimensions": member.manifest.get("dimensions")})

    def lines():
        yield f'{{"schema_version": {SCHEMA_VERSION}, "utterances": [\n'
        first = True
        for member, entry in zip(members, listing):
            for row in member.index:
                row = {**row, "session": renumbered[member.data_dir][row["session"]],
                       "corpus": row.get("corpus", entry["corpus"])}
                yield ("" if first else ",\n") + json.dumps(row, sort_keys=True,
                                                          ensure_ascii=False)
                first = False
        yield "\n]}\n"

    index_path = storage.join(out_dir, INDEX)
    storage.write_lines_atomic(index_path, lines())
    planned = {s["file"] for s in shards}
    for name in storage.listdir(out_dir):  # shards of an earlier, other combination
        if re.match(r"^c\d+-.*\.tfrecord$", name) and name not in planned:
            storage.remove(storage.join(out_dir, name))
    base = members[0].manifest
    mocap = base["mocap"]
    if "mocap" not in modalities:
        mocap = {**mocap, "streams": {s: None for s in mocap["streams"]},
                 "columns": {s: None for s in mocap.get("columns", mocap["streams"])}}
    manifest = {
        "schema_version": SCHEMA_VERSION, "source": [m.data_dir for m in members],
        "corpus": "combined", "modalities": modalities, "label_set": base["label_set"],
        "classes": list(base["classes"]), "audio": base["audio"], "mocap": mocap,
        "utterances": sum(m.utterances for m in members),
        "class_counts": {c: sum(m.manifest["class_counts"].get(c, 0) for m in members)
                         for c in base["classes"]},
        "sessions": sessions, "shards": shards,
        "skipped": [r for m in members for r in m.manifest.get("skipped", [])],
        "skipped_count": sum(m.manifest.get("skipped_count", 0) for m in members),
        "excluded": {}, "resampled": [], "audio_from_dialog": [], "dialog_notes": {},
        "official_splits": {}, "combined": {"members": plan, "corpora": listing,
                                            "shards": dict(made)},
        "index": {"file": INDEX, "sha256": storage.sha256_of(index_path)},
    }
    for member in members:
        for key in ("excluded", "official_splits"):
            for name, count in member.manifest.get(key, {}).items():
                manifest[key][name] = manifest[key].get(name, 0) + count
    storage.write_json_atomic(manifest_path, manifest)
    return manifest
