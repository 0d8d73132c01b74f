"""Turns an IEMOCAP release (or the synthetic one) into TFRecord shards.

Stages, each testable alone: index the release (text files only), plan shards
(whole dialogs, per session), read each dialog's signals once, write examples.

Shards are written under a temporary name and renamed; a small state file per
finished shard (counts, checksum, what was skipped, and what made it: a
fingerprint of every source file its dialogs read and the settings) is written
last. A re-run keeps a finished shard only when its file still matches its
checksum and its sources and settings are unchanged, and rebuilds it otherwise,
saying why; so an interrupted run resumes, the output is byte-identical to an
uninterrupted one, and a folder prepared from another release (or another
`--on-error`) never passes its old shards off as new. `manifest.json` sums it up.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from collections import Counter

from mer_tf import storage
from mer_tf.data.dialog import DialogNotes, SignalOptions, read_dialog_examples
from mer_tf.data.errors import ErrorPolicy
from mer_tf.data.iemocap import Dialog, index_release
from mer_tf.data.labels import get_label_set
from mer_tf.data.corpus import MANIFEST
from mer_tf.data.manifest import build_manifest, excluded_counts, summary_table
from mer_tf.data.schema import SCHEMA_VERSION, encode_example

STATE_DIR = ".state"


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """One preparation run."""

    source: str  # IEMOCAP_full_release folder
    out_dir: str
    label_set: str = "seed4"
    mocap_rate: float = 30.0
    mocap_chunks: int = 200
    shard_size: int = 256  # utterances per shard, at most (a dialog is never split)
    on_error: str = "stop"
    sessions: tuple = (1, 2, 3, 4, 5)
    overwrite: bool = False

    def settings(self) -> dict:
        """What decides the bytes of the shards; a resumed run must match it."""
        return {
            "schema_version": SCHEMA_VERSION,
            "label_set": self.label_set,
            "mocap_rate": self.mocap_rate,
            "mocap_chunks": self.mocap_chunks,
            "shard_size": self.shard_size,
            "sessions": list(self.sessions),
        }


@dataclasses.dataclass(frozen=True)
class ShardPlan:
    session: int
    name: str
    dialogs: tuple  # Dialog objects
    utterances: int  # in-set utterances before any are skipped


def plan_shards(index: dict[int, list[Dialog]], label_set, shard_size: int) -> list[ShardPlan]:
    """Groups whole dialogs into shards of at most `shard_size` in-set utterances."""
    plans = []
    for session in sorted(index):
        groups, current, count = [], [], 0
        for dialog in index[session]:
            n = sum(label_set.class_of(u.emotion) is not None for u in dialog.utterances)
            if n == 0:
                continue
            if current and count + n > shard_size:
                groups.append((current, count))
                current, count = [], 0
            current.append(dialog)
            count += n
        if current:
            groups.append((current, count))
        for i, (dialogs, count) in enumerate(groups):
            name = f"session{session}-{i:05d}-of-{len(groups):05d}.tfrecord"
            plans.append(ShardPlan(session, name, tuple(dialogs), count))
    return plans


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with storage.open_file(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def prepare(config: PrepareConfig, progress: bool = True) -> dict:
    """Runs preparation; returns the manifest (also written to out_dir/manifest.json)."""
    import tensorflow as tf
    from tqdm.auto import tqdm

    label_set = get_label_set(config.label_set)
    options = SignalOptions(config.mocap_rate, config.mocap_chunks)
    state_dir = storage.join(config.out_dir, STATE_DIR)
    _open_out_dir(config, state_dir)

    index_policy = ErrorPolicy(config.on_error)
    index = index_release(config.source, index_policy, config.sessions)
    plans = plan_shards(index, label_set, config.shard_size)
    excluded = excluded_counts(index, label_set)

    shard_states = []
    rebuilt = {}  # shard -> why its earlier state could not be kept
    _remove_orphans(config.out_dir, state_dir, plans)
    streams = {}  # stream -> {"width", "columns"}, from the first dialog read
    for session in sorted(index):
        session_plans = [p for p in plans if p.session == session]
        total = sum(p.utterances for p in session_plans)
        bar = tqdm(total=total, desc=f"Session {session}", unit="utt", disable=not progress,
                   file=sys.stderr, leave=True)
        for plan in session_plans:
            inputs = shard_inputs(plan, config.source)
            state, reason = _finished_state(config, state_dir, plan, inputs)
            if state is None:
                if reason:
                    rebuilt[plan.name] = reason
                    tqdm.write(f"rebuilding {plan.name}: {reason}", file=sys.stderr)
                state = _write_shard(config, state_dir, plan, label_set, options, streams,
                                     tf, bar, inputs)
            else:
                bar.update(plan.utterances)
                for stream, layout in state["streams"].items():
                    streams.setdefault(stream, layout)
            shard_states.append(state)
        bar.close()

    manifest = build_manifest(config, label_set, index, shard_states, excluded,
                         index_policy.records, streams)
    manifest["rebuilt"] = rebuilt
    storage.write_json_atomic(storage.join(config.out_dir, MANIFEST), manifest)
    if progress:
        print(summary_table(manifest), file=sys.stderr)
    return manifest


def _open_out_dir(config: PrepareConfig, state_dir: str) -> None:
    if config.overwrite and storage.exists(config.out_dir):
        for name in storage.listdir(config.out_dir):
            if name.endswith(".tfrecord") or name in (MANIFEST, STATE_DIR) or ".tmp-" in name:
                path = storage.join(config.out_dir, name)
                storage.rmtree(path) if storage.isdir(path) else storage.remove(path)
    storage.makedirs(state_dir)
    storage.remove_temporaries(config.out_dir)
    storage.remove_temporaries(state_dir)
    settings_path = storage.join(state_dir, "settings.json")
    if storage.exists(settings_path):
        previous = storage.read_json(settings_path)
        if previous != config.settings():
            changed = sorted(k for k in config.settings() if previous.get(k) != config.settings()[k])
            raise ValueError(
                f"{config.out_dir} holds data prepared with other settings ({', '.join(changed)}); "
                "use another --out, or --overwrite to rebuild it")
    else:
        storage.write_json_atomic(settings_path, config.settings())


def shard_recipe(config: PrepareConfig) -> dict:
    """Every setting that decides a shard's bytes, `--on-error` included."""
    return {**config.settings(), "on_error": config.on_error}


def shard_inputs(plan: ShardPlan, source: str) -> dict:
    """Path under the release -> [size, mtime] of every file the shard's dialogs read."""
    root = str(source).rstrip("/\\")
    inputs = {}
    for dialog in plan.dialogs:
        for path in dialog.source_files():
            relative = path[len(root):].lstrip("/\\") if path.startswith(root) else path
            inputs[relative] = storage.fingerprint(path)
    return inputs


def _finished_state(config: PrepareConfig, state_dir: str, plan: ShardPlan,
                    inputs: dict) -> tuple[dict | None, str | None]:
    """(state, None) for a shard an earlier run finished from the same sources and
    settings; else (None, why it must be rebuilt), the reason None for a new shard."""
    state_path = storage.join(state_dir, plan.name + ".json")
    shard_path = storage.join(config.out_dir, plan.name)
    if not (storage.exists(state_path) and storage.exists(shard_path)):
        return None, None
    state = storage.read_json(state_path)
    recipe = shard_recipe(config)
    if "inputs" not in state:
        return None, "written by an older version that kept no fingerprint of its sources"
    if state.get("recipe") != recipe:
        changed = [f"{k} {state.get('recipe', {}).get(k)!r} -> {v!r}"
                   for k, v in recipe.items() if state.get("recipe", {}).get(k) != v]
        return None, "settings changed: " + ", ".join(changed)
    if state["inputs"] != inputs:
        changed = sorted(set(state["inputs"]) ^ set(inputs)) + sorted(
            p for p in set(state["inputs"]) & set(inputs) if state["inputs"][p] != inputs[p])
        return None, (f"{len(changed)} source file(s) changed, added or removed since it was "
                      f"written, e.g. {changed[0]}")
    if state.get("sha256") != sha256_of(shard_path):
        return None, "its file no longer matches its checksum"
    return state, None


def _remove_orphans(out_dir: str, state_dir: str, plans: list) -> None:
    """Shards of an earlier plan that this one no longer has (another release, say)."""
    planned = {p.name for p in plans}
    for name in storage.listdir(out_dir):
        if name.endswith(".tfrecord") and name not in planned:
            storage.remove(storage.join(out_dir, name))
            storage.remove(storage.join(state_dir, name + ".json"))


def _write_shard(config, state_dir, plan, label_set, options, streams, tf, bar,
                 inputs: dict) -> dict:
    from tqdm.auto import tqdm

    policy = ErrorPolicy(config.on_error)
    notes = DialogNotes()
    shard_path = storage.join(config.out_dir, plan.name)
    tmp = storage.temp_name(shard_path)
    counts = Counter()
    speakers = Counter()
    listener = 0
    try:
        with tf.io.TFRecordWriter(tmp) as writer:
            for dialog in plan.dialogs:
                seen = len(notes.resampled)
                for example in read_dialog_examples(dialog, label_set, options, policy, notes,
                                                    streams):
                    writer.write(encode_example(example))
                    counts[example.label_name] += 1
                    speakers[example.utterance.speaker] += 1
                    listener += not example.utterance.mocap_is_speaker
                    bar.update(1)
                for path, rate in notes.resampled[seen:]:
                    tqdm.write(f"resampled {path} from {rate} Hz to 16000 Hz with soxr",
                               file=sys.stderr)
        checksum = sha256_of(tmp)
        storage.rename(tmp, shard_path)
    finally:
        storage.remove(tmp)
    bar.update(plan.utterances - sum(counts.values()))  # the skipped ones
    state = {
        "file": plan.name,
        "session": plan.session,
        "dialogs": [d.dialog_id for d in plan.dialogs],
        "utterances": sum(counts.values()),
        "classes": dict(sorted(counts.items())),
        "speakers": dict(sorted(speakers.items())),
        "mocap_on_listener": listener,
        "skipped": policy.records,
        "resampled": notes.resampled,
        "audio_from_dialog": notes.audio_from_dialog,
        "degraded": notes.counts,
        "streams": dict(streams),
        "sha256": checksum,
        "bytes": storage.size(shard_path),
        "recipe": shard_recipe(config),
        "inputs": inputs,
    }
    storage.write_json_atomic(storage.join(state_dir, plan.name + ".json"), state)
    return state
