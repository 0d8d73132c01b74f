"""Writing shards: one process, or several at once with byte-identical output.

Split from `prepare` (which plans, resumes and sums up): a shard's file is written by
`write_shard_file`, in this process or in a worker process (`ShardWriters`), and
`finish_shard` renames it and writes its state, always in this process and in plan
order, so the lock, the resume logic and the fault points work as with one process.
`config` is a `prepare.PrepareConfig` and `plan` a `prepare.ShardPlan` throughout.
"""

from __future__ import annotations

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

from mer_tf.data.corpora import label_set_of, read_unit
from mer_tf.data.dialog import DialogNotes, SignalOptions
from mer_tf.data.errors import DataError, ErrorPolicy
from mer_tf.data.schema import encode_example
from mer_tf.frames import SAMPLE_RATE
from mer_tf.io import storage

log = logging.getLogger("mer_tf.data")


def shard_recipe(config) -> dict:
    """Every setting that decides a shard's bytes, `--on-error` included."""
    return {**config.settings(), "on_error": config.on_error}


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


def worker_count(config, to_write: list) -> int:
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


class ShardWriters:
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

    def __init__(self, config, to_write: list, workers: int):
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

    def take(self, plan, streams: dict) -> dict | None:
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
    from mer_tf.io.quiet import quiet_tensorflow

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


def _write_in_worker(config, plan, tmp: str) -> dict | None:
    """A worker's shard at `tmp`; None where it failed (the parent writes it again)."""
    try:
        _stop_if_asked()
        return write_shard_file(config, plan, {}, tmp, on_example=_stop_if_asked)
    except _Stopped:
        return None
    except Exception:  # noqa: BLE001  the parent writes it again, raising it as one process does
        return None


def write_shard_file(config, plan, streams: dict, tmp: str,
                      on_example=None) -> dict:
    """Writes the shard's examples to `tmp`; returns what its state says of them.

    `streams` is read and filled as `dialog.read_dialog_examples` does; `on_example` is called
    after each example written.
    """
    import tensorflow as tf

    label_set = label_set_of(config)
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
                for example in read_unit(dialog, label_set, options, policy, notes, streams):
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


def finish_shard(config, state_dir, plan, written: dict | None, streams: dict, inputs: dict,
                  bar) -> dict:
    """Renames the shard a worker wrote (or writes it here, when `written` is None) and
    writes its state; `streams` takes the shard's stream widths."""
    from tqdm.auto import tqdm

    shard_path = storage.join(config.out_dir, plan.name)
    if written is None:
        written = write_shard_file(config, plan, streams, storage.temp_name(shard_path),
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
        tqdm.write(f"resampled {path} from {rate} Hz to {SAMPLE_RATE} Hz with soxr",
                   file=sys.stderr)
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
