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

from mer_tf import io
from mer_tf.data import synthetic
from mer_tf.data.dialog import DEGRADED, DialogNotes, SignalOptions, read_dialog_examples
from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.iemocap import MOCAP_STREAMS, Dialog, index_release
from mer_tf.data.labels import get_label_set
from mer_tf.data.schema import SCHEMA_VERSION, encode_example

MANIFEST = "manifest.json"
# manifest["dialog_notes"] keys, as the summary names them
NOTE_DESCRIPTIONS = {
    "transcript_lines_without_id": "transcription lines without an utterance id, skipped",
    "unlabelled_transcript_ids": "transcribed ids without a label (overlaps), skipped",
    **{key: f"utterances kept with {what}" for key, what in DEGRADED.items()},
}
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
    with io.open_file(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def prepare(config: PrepareConfig, progress: bool = True) -> dict:
    """Runs preparation; returns the manifest (also written to out_dir/manifest.json)."""
    import tensorflow as tf
    from tqdm.auto import tqdm

    label_set = get_label_set(config.label_set)
    options = SignalOptions(config.mocap_rate, config.mocap_chunks)
    state_dir = io.join(config.out_dir, STATE_DIR)
    _open_out_dir(config, state_dir)

    index_policy = ErrorPolicy(config.on_error)
    index = index_release(config.source, index_policy, config.sessions)
    plans = plan_shards(index, label_set, config.shard_size)
    excluded = _excluded_counts(index, label_set)

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

    manifest = _manifest(config, label_set, index, shard_states, excluded,
                         index_policy.records, streams)
    manifest["rebuilt"] = rebuilt
    io.write_json_atomic(io.join(config.out_dir, MANIFEST), manifest)
    if progress:
        print(summary_table(manifest), file=sys.stderr)
    return manifest


def _open_out_dir(config: PrepareConfig, state_dir: str) -> None:
    if config.overwrite and io.exists(config.out_dir):
        for name in io.listdir(config.out_dir):
            if name.endswith(".tfrecord") or name in (MANIFEST, STATE_DIR) or ".tmp-" in name:
                path = io.join(config.out_dir, name)
                io.rmtree(path) if io.isdir(path) else io.remove(path)
    io.makedirs(state_dir)
    io.remove_temporaries(config.out_dir)
    io.remove_temporaries(state_dir)
    settings_path = io.join(state_dir, "settings.json")
    if io.exists(settings_path):
        previous = io.read_json(settings_path)
        if previous != config.settings():
            changed = sorted(k for k in config.settings() if previous.get(k) != config.settings()[k])
            raise ValueError(
                f"{config.out_dir} holds data prepared with other settings ({', '.join(changed)}); "
                "use another --out, or --overwrite to rebuild it")
    else:
        io.write_json_atomic(settings_path, config.settings())


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
            inputs[relative] = io.fingerprint(path)
    return inputs


def _finished_state(config: PrepareConfig, state_dir: str, plan: ShardPlan,
                    inputs: dict) -> tuple[dict | None, str | None]:
    """(state, None) for a shard an earlier run finished from the same sources and
    settings; else (None, why it must be rebuilt), the reason None for a new shard."""
    state_path = io.join(state_dir, plan.name + ".json")
    shard_path = io.join(config.out_dir, plan.name)
    if not (io.exists(state_path) and io.exists(shard_path)):
        return None, None
    state = io.read_json(state_path)
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
    for name in io.listdir(out_dir):
        if name.endswith(".tfrecord") and name not in planned:
            io.remove(io.join(out_dir, name))
            io.remove(io.join(state_dir, name + ".json"))


def _write_shard(config, state_dir, plan, label_set, options, streams, tf, bar,
                 inputs: dict) -> dict:
    from tqdm.auto import tqdm

    policy = ErrorPolicy(config.on_error)
    notes = DialogNotes()
    shard_path = io.join(config.out_dir, plan.name)
    tmp = io.temp_name(shard_path)
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
        io.rename(tmp, shard_path)
    finally:
        io.remove(tmp)
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
        "bytes": io.size(shard_path),
        "recipe": shard_recipe(config),
        "inputs": inputs,
    }
    io.write_json_atomic(io.join(state_dir, plan.name + ".json"), state)
    return state


def _excluded_counts(index, label_set) -> dict:
    """Per session, labelled utterances whose code is outside the label set."""
    return {
        str(session): dict(sorted(Counter(
            u.emotion for d in dialogs for u in d.utterances if label_set.class_of(u.emotion) is None
        ).items()))
        for session, dialogs in sorted(index.items())
    }


def _manifest(config, label_set, index, states, excluded, index_errors, streams) -> dict:
    sessions = {}
    for session in sorted(index):
        mine = [s for s in states if s["session"] == session]
        classes = Counter()
        speakers = Counter()
        for s in mine:
            classes.update(s["classes"])
            speakers.update(s["speakers"])
        sessions[str(session)] = {
            "utterances": sum(s["utterances"] for s in mine),
            "classes": {c: classes.get(c, 0) for c in label_set.classes},
            "speakers": dict(sorted(speakers.items())),
            "mocap_on_listener": sum(s["mocap_on_listener"] for s in mine),
            "excluded": excluded[str(session)],
            "skipped": sum(len(s["skipped"]) for s in mine)
            + sum(1 for r in index_errors if _record_session(r) == session),
            "shards": [s["file"] for s in mine],
        }
    total_classes = Counter()
    for s in sessions.values():
        total_classes.update(s["classes"])
    skipped = list(index_errors) + [r for s in states for r in s["skipped"]]
    return {
        "schema_version": SCHEMA_VERSION,
        "source": str(config.source),
        "label_set": label_set.name,
        "classes": list(label_set.classes),
        "on_error": config.on_error,
        "audio": {"sample_rate": 16000, "encoding": "pcm16"},
        "mocap": {"rate": config.mocap_rate, "chunks": config.mocap_chunks,
                  # value columns per stream, counted from the files' rows
                  "streams": {s: streams.get(s, {}).get("width") for s in MOCAP_STREAMS},
                  "columns": {s: streams.get(s, {}).get("columns") for s in MOCAP_STREAMS}},
        "utterances": sum(s["utterances"] for s in sessions.values()),
        "class_counts": {c: total_classes.get(c, 0) for c in label_set.classes},
        "sessions": sessions,
        "shards": [{"file": s["file"], "session": s["session"], "utterances": s["utterances"],
                    "sha256": s["sha256"], "bytes": s["bytes"]} for s in states],
        "excluded": dict(sorted(sum((Counter(e) for e in excluded.values()), Counter()).items())),
        "skipped": skipped,
        "skipped_count": len(skipped),
        "resampled": [r for s in states for r in s["resampled"]],
        "audio_from_dialog": [u for s in states for u in s["audio_from_dialog"]],
        # per dialog, what was accepted but is worth knowing (none of it an error)
        "dialog_notes": _dialog_notes(index, states),
    }


def _dialog_notes(index, states) -> dict:
    """Per dialog: lines its text files hold besides utterances (from the index) and
    utterances kept with a degraded input (from the shards)."""
    notes = {}
    for session in sorted(index):
        for dialog in index[session]:
            if dialog.notes:
                notes[dialog.dialog_id] = dict(dialog.notes)
    for state in states:
        for dialog, counts in state.get("degraded", {}).items():
            notes.setdefault(dialog, {}).update(counts)
    return {d: dict(sorted(n.items())) for d, n in sorted(notes.items())}


def _record_session(record: dict) -> int | None:
    ids = record.get("utterance_ids") or []
    if ids and ids[0].startswith("Ses") and ids[0][3:5].isdigit():
        return int(ids[0][3:5])
    return None


def summary_table(manifest: dict) -> str:
    classes = manifest["classes"]
    header = ["session", "utterances", *classes, "excluded", "skipped", "shards"]
    rows = []
    for session, info in manifest["sessions"].items():
        rows.append([session, info["utterances"], *[info["classes"][c] for c in classes],
                     sum(info["excluded"].values()), info["skipped"], len(info["shards"])])
    rows.append(["total", manifest["utterances"], *[manifest["class_counts"][c] for c in classes],
                 sum(manifest["excluded"].values()), manifest["skipped_count"],
                 len(manifest["shards"])])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).rjust(w) for v, w in zip(row, widths)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    extra = []
    if manifest["resampled"]:
        extra.append(f"resampled to 16 kHz: {len(manifest['resampled'])} WAV files")
    if manifest["audio_from_dialog"]:
        extra.append(f"audio cut from the dialog WAV (sentence WAV missing): "
                     f"{len(manifest['audio_from_dialog'])} utterances")
    for key, what in NOTE_DESCRIPTIONS.items():
        total = sum(n.get(key, 0) for n in manifest.get("dialog_notes", {}).values())
        if total:
            dialogs = sum(1 for n in manifest["dialog_notes"].values() if n.get(key))
            extra.append(f"{what}: {total} in {dialogs} dialogs")
    for name, reason in manifest.get("rebuilt", {}).items():
        extra.append(f"rebuilt {name}: {reason}")
    if manifest["skipped_count"]:
        extra.append(f"skipped: {manifest['skipped_count']} problems (listed in manifest.json)")
    return "\n".join(["", *lines, *extra, ""])


def ensure_synthetic_release(root: str, config: synthetic.SyntheticConfig) -> str:
    """Generates the synthetic release under `root` unless the same one is there."""
    marker = io.join(root, "SYNTHETIC.json")
    if io.exists(marker):
        found = io.read_json(marker)
        if (found.get("config") == dataclasses.asdict(config)
                and found.get("generator_version") == synthetic.GENERATOR_VERSION):
            return root
    io.rmtree(root)
    synthetic.generate(root, config)
    return root


def read_manifest(data_dir: str) -> dict:
    path = io.join(data_dir, MANIFEST)
    if not io.exists(path):
        raise DataError(path, "no manifest: prepare the data first "
                              "(python -m experiments.prepare --out DATA_DIR …)")
    manifest = io.read_json(path)
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
