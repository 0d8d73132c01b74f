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
plan order, so every byte is what one process writes (see `_ShardWriters`).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from mer_tf import faults, locking, storage
from mer_tf.data import out_folder
from mer_tf.data.corpus import INDEX, MANIFEST
from mer_tf.data.dialog import DialogNotes, SignalOptions, read_dialog_examples
from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.iemocap import Dialog, index_release
from mer_tf.data.labels import get_label_set
from mer_tf.data.manifest import build_manifest, excluded_counts, summary_table
from mer_tf.data.schema import SCHEMA_VERSION, encode_example

STATE_DIR = out_folder.STATE_DIR
log = logging.getLogger("mer_tf.data")


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
    into_existing: bool = False  # write into a non-empty folder that is not ours
    # processes writing shards; None: the usable cores, or one for a job too small to
    # repay their start. Not a setting: it changes no byte.
    workers: int | None = None

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
    label_set = get_label_set(config.label_set)
    SignalOptions(config.mocap_rate, config.mocap_chunks)  # refused before any file is read
    state_dir = storage.join(config.out_dir, STATE_DIR)

    index_policy = ErrorPolicy(config.on_error)
    index = index_release(config.source, index_policy, config.sessions)
    out_folder.open_out_dir(config, state_dir)
    plans = plan_shards(index, label_set, config.shard_size)
    excluded = excluded_counts(index, label_set)
    missing = sorted(set(config.sessions) - set(index))
    if missing:
        log.warning("%s: no Session%s folder: preparing sessions %s only, so leave-one-"
                    "session-out will have %d folds", config.source,
                    ", Session".join(str(s) for s in missing),
                    ", ".join(str(s) for s in sorted(index)), len(index))

    shard_states = []
    rebuilt = {}  # shard -> why its earlier state could not be kept
    manifest_path = storage.join(config.out_dir, MANIFEST)

    def before_a_change():
        # The old manifest no longer describes the folder once a shard changes: without
        # it, training refuses the folder until preparation finishes.
        storage.remove(manifest_path)

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
    with _ShardWriters(config, to_write, worker_count(config, to_write)) as writers:
        for session in sorted(index):
            session_plans = [p for p in plans if p.session == session]
            total = sum(p.utterances for p in session_plans)
            bar = tqdm(total=total, desc=f"Session {session}", unit="utt",
                       disable=not progress, file=sys.stderr, leave=True)
            for plan in session_plans:
                state = finished.get(plan.name)
                if state is None:
                    state = _finish_shard(config, state_dir, plan, writers.take(plan, streams),
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
    storage.write_json_atomic(index_path, {"schema_version": SCHEMA_VERSION, "utterances": [
        row for state in shard_states for row in state["index"]]})
    manifest["index"] = {"file": INDEX, "sha256": storage.sha256_of(index_path)}
    storage.write_json_atomic(manifest_path, manifest)
    if progress:
        print(summary_table(manifest), file=sys.stderr)
    return manifest


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


def usable_cores() -> int:
    """The cores this process may run on (a container or `taskset` may allow fewer)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# A worker starts by importing TensorFlow: ~6 s of CPU on the 2-core machine of the
# benchmarks, the time one process takes there to write ~450 utterances (~75/s at
# IEMOCAP's 4.5 s mean length). By default each worker gets at least this many, so a
# small corpus (the tests', the demo's) stays in one process, where it is written fastest.
UTTERANCES_PER_WORKER = 500


def worker_count(config: PrepareConfig, to_write: list) -> int:
    """Processes to write `to_write` with: `config.workers`, or by default the usable
    cores for a job big enough; never more than there are shards. One unless both paths
    are local: a worker's `ram://` is its own, so this process could not take its files."""
    if storage.is_remote(config.source) or storage.is_remote(config.out_dir):
        return 1
    if config.workers is not None:
        wanted = config.workers
    else:
        wanted = min(usable_cores(), sum(p.utterances for p in to_write) // UTTERANCES_PER_WORKER)
    return max(1, min(wanted, len(to_write)))


class _ShardWriters:
    """Writes shards in worker processes, ahead of the loop that finishes them in plan order.

    A worker writes a shard to a temporary name; this process renames it and writes its
    state, in plan order, so the lock, the resume logic and the fault points work as with
    one process. A worker reads its dialogs without the stream widths of the shards before
    it; where its widths disagree with theirs, or it failed (a DataError under
    `--on-error stop`, say), this process writes the shard again itself, as one process
    would, raising the same error; a temporary it does not take is removed. When the run
    fails, the workers stop at their next utterance and leave no temporary behind; when
    it is killed, they exit at once.

    The pool starts in `__enter__`, so that `__exit__` stops it whatever interrupts.
    """

    def __init__(self, config: PrepareConfig, to_write: list, workers: int):
        self._config = config
        self._to_write = to_write
        self._workers = workers
        self._futures = {}
        self._temps = {}  # shard -> its temporary, until this process takes it
        self._executor = None
        self._broken = False
        self.taken = 0  # shards a worker wrote and this process took

    def __enter__(self):
        if self._workers < 2:
            return self
        context = multiprocessing.get_context("spawn")  # TensorFlow is not fork-safe
        self._stop = context.Event()
        try:
            self._executor = ProcessPoolExecutor(self._workers, mp_context=context,
                                                 initializer=_start_worker,
                                                 initargs=(self._stop,))
            for plan in self._to_write:
                tmp = storage.temp_name(storage.join(self._config.out_dir, plan.name))
                self._temps[plan.name] = tmp
                self._futures[plan.name] = self._executor.submit(_write_in_worker,
                                                                 self._config, plan, tmp)
        except BaseException as error:  # Ctrl-C: `with` calls no `__exit__` for this
            self.__exit__(type(error), error, error.__traceback__)
            raise
        return self

    def take(self, plan: ShardPlan, streams: dict) -> dict | None:
        """The worker's shard, when it wrote one that agrees with `streams`; else None,
        its temporary removed."""
        future = self._futures.pop(plan.name, None)
        if future is None:
            return None
        try:
            written = future.result()
        except BrokenProcessPool:  # a worker died; the pool ends the others mid-write
            if not self._broken:
                self._broken = True
                log.warning("a shard-writing worker process died: this process writes the "
                            "remaining shards itself")
                self._executor.shutdown(wait=True)  # no worker writes on
            written = None
        except Exception as error:  # noqa: BLE001  this process writes it
            log.debug("worker failed on %s: %s", plan.name, error)
            written = None
        if written is not None and any(streams[s]["width"] != layout["width"]
                                       for s, layout in written["streams"].items()
                                       if s in streams):
            written = None
        if written is None:
            storage.remove(self._temps.pop(plan.name))
            return None
        del self._temps[plan.name]
        self.taken += 1
        return written

    def __exit__(self, error_type, error, traceback):
        if self._executor is None:
            return
        if error_type is not None:
            self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        for tmp in self._temps.values():  # shards never taken: a failed run
            storage.remove(tmp)
        log.debug("%d of %d shards written by worker processes", self.taken,
                  len(self._to_write))


_stop_event = None  # set by the parent when its run failed


def _start_worker(stop_event) -> None:
    global _stop_event
    _stop_event = stop_event
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the workers
    # The parent logs what a shard skipped when it takes the shard: in plan order, once.
    logging.getLogger("mer_tf").setLevel(logging.CRITICAL + 1)
    threading.Thread(target=_exit_when_orphaned, daemon=True).start()
    from mer_tf.quiet import quiet_tensorflow

    quiet_tensorflow()


def _exit_when_orphaned() -> None:
    """A worker of a killed run exits at once: idle, it would wait for work forever, and
    busy, it would go on writing into a folder the next run may own. (The temporary it
    leaves is removed by the next run, as a killed single process's is.) The parent's
    sentinel, unlike `os.getppid()`, works on Windows too."""
    multiprocessing.connection.wait([multiprocessing.parent_process().sentinel])
    os._exit(1)


class _Stopped(Exception):
    """The run this worker writes for failed."""


def _stop_if_asked() -> None:
    if _stop_event.is_set():
        raise _Stopped


def _write_in_worker(config: PrepareConfig, plan: ShardPlan, tmp: str) -> dict | None:
    """A worker's shard at `tmp`; None where it failed (the parent writes it again)."""
    try:
        _stop_if_asked()
        return _write_shard_file(config, plan, {}, tmp, on_example=_stop_if_asked)
    except _Stopped:
        return None
    except Exception:  # noqa: BLE001  the parent writes it again, raising it as one process does
        return None


def _write_shard_file(config: PrepareConfig, plan: ShardPlan, streams: dict, tmp: str,
                      on_example=None) -> dict:
    """Writes the shard's examples to `tmp`; returns what its state says of them.

    `streams` is read and filled as `read_dialog_examples` does; `on_example` is called
    after each example written.
    """
    import tensorflow as tf

    label_set = get_label_set(config.label_set)
    options = SignalOptions(config.mocap_rate, config.mocap_chunks)
    policy = ErrorPolicy(config.on_error)
    notes = DialogNotes()
    counts = Counter()
    speakers = Counter()
    kinds = {}  # kind -> Counter of classes
    index = []  # one row per utterance: what splits and the leakage audit need
    listener = 0
    try:
        with tf.io.TFRecordWriter(tmp) as writer:
            for dialog in plan.dialogs:
                for example in read_dialog_examples(dialog, label_set, options, policy, notes,
                                                    streams):
                    writer.write(encode_example(example))
                    u = example.utterance
                    counts[example.label_name] += 1
                    speakers[u.speaker] += 1
                    kinds.setdefault(u.kind, Counter())[example.label_name] += 1
                    index.append({"utterance_id": u.utterance_id, "session": u.session,
                                  "speaker": u.speaker, "dialog": u.dialog, "kind": u.kind,
                                  "script": u.script, "label": example.label,
                                  "text": u.transcript})
                    listener += not example.utterance.mocap_is_speaker
                    if on_example is not None:
                        on_example()
        checksum = storage.sha256_of(tmp)
    except BaseException:
        storage.remove(tmp)
        raise
    return {
        "tmp": tmp,
        "utterances": sum(counts.values()),
        "classes": dict(sorted(counts.items())),
        "speakers": dict(sorted(speakers.items())),
        "kinds": {k: dict(sorted(c.items())) for k, c in sorted(kinds.items())},
        "index": index,
        "mocap_on_listener": listener,
        "skipped": policy.records,
        "resampled": notes.resampled,
        "audio_from_dialog": notes.audio_from_dialog,
        "degraded": notes.counts,
        "streams": streams,
        "sha256": checksum,
    }


def _finish_shard(config, state_dir, plan, written: dict | None, streams: dict, inputs: dict,
                  bar) -> dict:
    """Renames the shard a worker wrote (or writes it here, when `written` is None) and
    writes its state; `streams` takes the shard's stream widths."""
    from tqdm.auto import tqdm

    shard_path = storage.join(config.out_dir, plan.name)
    if written is None:
        written = _write_shard_file(config, plan, streams, storage.temp_name(shard_path),
                                    on_example=lambda: bar.update(1))
        bar.update(plan.utterances - written["utterances"])  # the skipped ones
    else:
        for record in written["skipped"]:  # what one process logs as it skips
            log.warning("skipped: %s", DataError(record["path"], record["reason"],
                                                 record["line"]))
        bar.update(plan.utterances)
    for stream, layout in written.pop("streams").items():
        streams.setdefault(stream, layout)
    tmp = written.pop("tmp")
    try:
        storage.rename(tmp, shard_path)
    finally:
        storage.remove(tmp)
    for path, rate in written["resampled"]:
        tqdm.write(f"resampled {path} from {rate} Hz to 16000 Hz with soxr", file=sys.stderr)
    state = {
        "file": plan.name,
        "session": plan.session,
        "dialogs": [d.dialog_id for d in plan.dialogs],
        **written,
        "streams": dict(streams),
        "bytes": storage.size(shard_path),
        "recipe": shard_recipe(config),
        "inputs": inputs,
    }
    storage.write_json_atomic(storage.join(state_dir, plan.name + ".json"), state)
    return state
