"""The data folder preparation writes into: what in it is ours, and what never is.

Preparation removes only what it wrote — shards its state files or manifest name, and
its own temporaries — refuses a non-empty folder that holds no preparation of ours
(unless told `into_existing`), and after a refused run removes the folders it created.
"""

from __future__ import annotations

from mer_tf.data.corpus import MANIFEST
from mer_tf.data.errors import DataError
from mer_tf.io import storage

STATE_DIR = ".state"

# What preparation (and training beside it) writes in a data folder besides its shards.
OWN_NAMES = (MANIFEST, STATE_DIR, "feature_cache", "synthetic_release",
             "synthetic_release-iemocap-layout", ".lock")


def remove_if_untouched(out_dir: str, state_dir: str, out_existed: bool,
                         state_existed: bool) -> None:
    """After a failure: the folders this run created, if it wrote no shard into them."""
    try:
        if storage.isdir(state_dir) and not state_existed and \
                set(storage.listdir(state_dir)) <= {"settings.json"}:
            storage.rmtree(state_dir)
        if not out_existed and storage.isdir(out_dir) and not storage.listdir(out_dir):
            storage.rmtree(out_dir)
    except Exception:  # noqa: BLE001  a read-only or vanished folder: nothing to tidy
        pass


def holds_our_preparation(out_dir: str, state_dir: str) -> bool:
    """A manifest.json or .state/settings.json that experiments.prepare wrote."""
    for path in (storage.join(out_dir, MANIFEST), storage.join(state_dir, "settings.json")):
        if storage.exists(path):
            try:
                if "schema_version" in storage.read_json(path):
                    return True
            except (ValueError, OSError):
                continue
    return False


def written_here(out_dir: str, state_dir: str) -> set:
    """Shard files an earlier preparation of this folder wrote: named by its state files
    and its manifest. Nothing else in the folder is ever removed."""
    names = set()
    if storage.isdir(state_dir):
        names |= {n[: -len(".json")] for n in storage.listdir(state_dir)
                  if n.endswith(".tfrecord.json")}
    manifest = storage.join(out_dir, MANIFEST)
    if storage.exists(manifest):
        try:
            names |= {s["file"] for s in storage.read_json(manifest).get("shards", [])
                      if isinstance(s.get("file"), str) and "/" not in s["file"]}
        except (ValueError, OSError, AttributeError):
            pass
    return {n for n in names if n.endswith(".tfrecord") and "/" not in n and "\\" not in n}


def open_out_dir(config, state_dir: str) -> None:
    out = config.out_dir
    entries = [n for n in storage.listdir(out) if n not in OWN_NAMES] if storage.isdir(out) else []
    ours = holds_our_preparation(out, state_dir)
    if entries and not ours and not config.into_existing:
        shown = ", ".join(entries[:4]) + (", …" if len(entries) > 4 else "")
        raise DataError(out, f"is not empty ({shown}) and holds no preparation of ours (no "
                             "manifest.json or .state/ written by experiments.prepare): pass a "
                             "new or empty folder, or --into-existing to write beside those "
                             "files (none of them is touched)")
    if config.overwrite and ours:
        for name in sorted(written_here(out, state_dir)):
            storage.remove(storage.join(out, name))
        for name in (MANIFEST, STATE_DIR):
            storage.rmtree(storage.join(out, name))
    storage.makedirs(state_dir)
    storage.remove_temporaries(out)
    storage.remove_temporaries(state_dir)
    settings_path = storage.join(state_dir, "settings.json")
    if storage.exists(settings_path):
        previous = storage.read_json(settings_path)
        if previous != config.settings():
            current = config.settings()
            changed = sorted(k for k in current if previous.get(k) != current[k])
            raise ValueError(
                f"{config.out_dir} holds data prepared with other settings ({', '.join(changed)}); "
                "use another --out, or --overwrite to rebuild it")
    else:
        storage.write_json_atomic(settings_path, config.settings())


def remove_orphans(out_dir: str, state_dir: str, plans: list, before_a_change) -> None:
    """Shards an earlier preparation here wrote that this plan no longer has (another
    release, say): only those its state files or manifest name, never another file."""
    planned = {p.name for p in plans}
    for name in sorted(written_here(out_dir, state_dir) - planned):
        before_a_change()
        storage.remove(storage.join(out_dir, name))
        storage.remove(storage.join(state_dir, name + ".json"))
