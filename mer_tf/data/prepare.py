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

Shards are written by `workers` processes at once; this process takes their files in
plan order, so every byte is what one process writes (see `mer_tf.data.shard_writers`).
"""

from __future__ import annotations

import dataclasses
import logging
import sys

from mer_tf.config.settings import (
    check_choices,
    comma_separated_floats,
    comma_separated_ints,
    setting,
)
from mer_tf.data import out_folder
from mer_tf.data.corpora import (
    ALL_LABELS,
    CORPORA,
    check_dimension_scale,
    index_corpus,
    label_set_of,
    resolve,
)
from mer_tf.data.corpus import INDEX, MANIFEST
from mer_tf.data.dialog import SignalOptions
from mer_tf.data.errors import ON_ERROR_CHOICES, DataError, ErrorPolicy
from mer_tf.data.iemocap import Dialog
from mer_tf.data.labels import LABEL_SETS
from mer_tf.data.manifest import build_manifest, excluded_counts, summary_table, write_index
from mer_tf.data.schema import SCHEMA_VERSION
from mer_tf.data.shard_writers import (  # noqa: F401  usable_cores: benchmarks and tests
    ShardWriters,
    finish_shard,
    shard_recipe,
    usable_cores,
    worker_count,
)
from mer_tf.io import faults, locking, storage

STATE_DIR = out_folder.STATE_DIR
log = logging.getLogger("mer_tf.data")


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """One preparation run; each setting declared once, with its flag
    (`python -m experiments.prepare`)."""

    source: str  # the release: --iemocap's folder, --source, or --synthetic's release
    out_dir: str = setting("", "where shards and manifest.json go (local path or gs:// URL)",
                           flag="--out", metavar="DATA_DIR", required=True)
    corpus: str = setting("iemocap", "what --source is: a release folder as its producers "
                          "ship it (IEMOCAP_full_release, MSP-Podcast, MSP-IMPROV, CREMA-D, "
                          "RAVDESS's Audio_Speech_Actors_01-24, MELD.Raw, ESD) or a table of "
                          "your own (CSV, TSV or JSONL: path, label, speaker and optional "
                          "text, group, split, start, end, arousal, valence, dominance); "
                          "docs/corpora/index.md says what each reads",
                          flag="--corpus", choices=tuple(CORPORA))
    label_set: str = setting("", "seed4: ang/exc/neu/sad as annotated (the paper); merged4: "
                             "hap merged into exc; cross4: angry/happy/neutral/sad named alike "
                             "in every corpus (IEMOCAP's exc and hap: happy), for runs across "
                             "corpora; all: every label the corpus uses but "
                             "IEMOCAP's xxx (default: seed4 for IEMOCAP, all for the others)",
                             flag="--label-set",
                             choices=("", *sorted(LABEL_SETS), ALL_LABELS))
    mocap_rate: float = setting(30.0, "frames per second of the stored motion-capture frames, "
                                "averaged from 120/s", flag="--mocap-rate")
    mocap_chunks: int = setting(200, "chunks of the paper's fixed-size motion-capture view",
                                flag="--mocap-chunks")
    shard_size: int = setting(256, "utterances per shard at most; dialogs are never split",
                              flag="--shard-size")
    on_error: str = setting("stop", "stop at the first bad file, or skip the utterances it "
                            "concerns and list them in the manifest", flag="--on-error",
                            choices=ON_ERROR_CHOICES)
    sessions: tuple = setting((1, 2, 3, 4, 5), "comma-separated sessions to prepare",
                              flag="--sessions", to_field=comma_separated_ints)
    dimension_scale: tuple = setting((), "a table's arousal/valence/dominance scale, LOW,HIGH "
                                     "(e.g. 1,5 or 1,9), which training maps onto [0, 1]; "
                                     "every other corpus's is known", flag="--dimension-scale",
                                     to_field=comma_separated_floats)
    overwrite: bool = setting(False, "delete earlier shards in DATA_DIR first",
                              flag="--overwrite")
    into_existing: bool = setting(False, "write into a non-empty DATA_DIR that holds no "
                                  "earlier preparation (its other files are never touched)",
                                  flag="--into-existing")
    # Not a setting of the shards: it changes no byte.
    workers: int | None = setting(None, "processes writing shards at once; the output is the "
                                  "same whatever the number (default: the usable cores, one "
                                  "for a corpus too small to repay their start)",
                                  flag="--workers", type=int)
    classes: tuple = ()  # label set `all`: the classes found, filled in by `corpora.resolve`

    def __post_init__(self):
        check_choices(self)
        if not self.out_dir:
            raise ValueError("preparation needs an output folder (--out DATA_DIR)")

    def settings(self) -> dict:
        """What decides the bytes of the shards; a resumed run must match it."""
        settings = {
            "schema_version": SCHEMA_VERSION,
            "label_set": self.label_set,
            "mocap_rate": self.mocap_rate,
            "mocap_chunks": self.mocap_chunks,
            "shard_size": self.shard_size,
            "sessions": list(self.sessions),
        }
        if self.corpus != "iemocap":  # IEMOCAP's shards keep the settings they had
            settings.update(corpus=self.corpus, classes=list(self.classes))
        return settings


@dataclasses.dataclass(frozen=True)
class ShardPlan:
    session: int
    name: str
    dialogs: tuple  # the units a shard holds (IEMOCAP dialogs, table units)
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


def prepare(config: PrepareConfig, progress: bool = True) -> dict:
    """Runs preparation; returns the manifest (also written to out_dir/manifest.json).

    Holds the folder's lock throughout; a run refused before it wrote a shard leaves
    nothing behind (no folder, no `.state/`) that it did not find there. Workers are
    started by spawn, which imports the caller's main module again: a script that calls
    this needs the `if __name__ == "__main__":` guard."""
    out_existed = storage.exists(config.out_dir)
    state_dir = storage.join(config.out_dir, STATE_DIR)
    state_existed = storage.exists(state_dir)
    if out_existed and not storage.isdir(config.out_dir):
        raise DataError(config.out_dir, "is a file; --out takes a folder")
    try:
        with locking.locked(config.out_dir, "preparing data"):
            return _prepare(config, progress)
    except BaseException:
        out_folder.remove_if_untouched(config.out_dir, state_dir, out_existed, state_existed)
        raise


def _prepare(config: PrepareConfig, progress: bool) -> dict:
    from tqdm.auto import tqdm

    if config.workers is not None and config.workers < 1:
        raise ValueError(f"workers must be at least 1, got {config.workers}")
    SignalOptions(config.mocap_rate, config.mocap_chunks)  # refused before any file is read
    state_dir = storage.join(config.out_dir, STATE_DIR)

    index_policy = ErrorPolicy(config.on_error)
    index = index_corpus(config, index_policy)
    config = resolve(config, index)
    check_dimension_scale(config, index)
    label_set = label_set_of(config)
    out_folder.open_out_dir(config, state_dir)
    plans = plan_shards(index, label_set, config.shard_size)
    excluded = excluded_counts(index, label_set)
    missing = sorted(set(config.sessions) - set(index)) if config.corpus == "iemocap" else []
    if missing:
        log.warning("%s: no Session%s folder: preparing sessions %s only, so leave-one-"
                    "session-out will have %d folds", config.source,
                    ", Session".join(str(s) for s in missing),
                    ", ".join(str(s) for s in sorted(index)), len(index))

    shard_states = []
    rebuilt = {}  # shard -> why its earlier state could not be kept
    manifest_path = storage.join(config.out_dir, MANIFEST)

    def before_a_change():
        # The old manifest and index no longer describe the folder once a shard changes:
        # without the manifest, training refuses the folder until preparation finishes;
        # without the index, a folder missing only its manifest is known to be finished.
        storage.remove(manifest_path)
        storage.remove(storage.join(config.out_dir, INDEX))

    out_folder.remove_orphans(config.out_dir, state_dir, plans, before_a_change)
    finished = {}  # shard -> the state an earlier run left, to keep
    inputs = {plan.name: shard_inputs(plan, config.source) for plan in plans}
    for plan in plans:
        state, reason = _finished_state(config, state_dir, plan, inputs[plan.name])
        if state is not None:
            finished[plan.name] = state
        elif reason:
            rebuilt[plan.name] = reason
            tqdm.write(f"rebuilding {plan.name}: {reason}", file=sys.stderr)
    to_write = [plan for plan in plans if plan.name not in finished]
    if to_write:
        before_a_change()
    streams = {}  # stream -> {"width", "columns"}, from the first dialog read
    with ShardWriters(config, to_write, worker_count(config, to_write)) as writers:
        for session in sorted(index):
            session_plans = [p for p in plans if p.session == session]
            total = sum(p.utterances for p in session_plans)
            bar = tqdm(total=total, desc=f"Session {session}", unit="utt",
                       disable=not progress, file=sys.stderr, leave=True)
            for plan in session_plans:
                state = finished.get(plan.name)
                if state is None:
                    state = finish_shard(config, state_dir, plan, writers.take(plan, streams),
                                          streams, inputs[plan.name], bar)
                    faults.point("prepare:shard-written")
                else:
                    bar.update(plan.utterances)
                    for stream, layout in state["streams"].items():
                        streams.setdefault(stream, layout)
                shard_states.append(state)
            bar.close()

    manifest = build_manifest(config, label_set, index, shard_states, excluded,
                              index_policy.records, streams)
    manifest["rebuilt"] = rebuilt
    manifest["sessions_missing"] = missing
    index_path = storage.join(config.out_dir, INDEX)
    manifest.update(write_index(index_path, config.corpus, index, shard_states,
                                config.dimension_scale or None))
    manifest["index"] = {"file": INDEX, "sha256": storage.sha256_of(index_path)}
    storage.write_json_atomic(manifest_path, manifest)
    if progress:
        print(summary_table(manifest), file=sys.stderr)
    return manifest


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
    if "inputs" not in state or "index" not in state:
        return None, "written by an older version (no fingerprint of its sources or no index)"
    if state.get("recipe") != recipe:
        changed = [f"{k} {state.get('recipe', {}).get(k)!r} -> {v!r}"
                   for k, v in recipe.items() if state.get("recipe", {}).get(k) != v]
        return None, "settings changed: " + ", ".join(changed)
    if state["inputs"] != inputs:
        changed = sorted(set(state["inputs"]) ^ set(inputs)) + sorted(
            p for p in set(state["inputs"]) & set(inputs) if state["inputs"][p] != inputs[p])
        return None, (f"{len(changed)} source file(s) changed, added or removed since it was "
                      f"written, e.g. {changed[0]}")
    if state.get("sha256") != storage.sha256_of(shard_path):
        return None, "its file no longer matches its checksum"
    return state, None
