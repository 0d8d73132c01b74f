"""A run folder's identity: is it this run (moved or not), finished, or another one?

`open_run_dir` writes config.json for a new run and, for an existing one, compares what
decides the result (never where the run or its data live: a folder moved elsewhere, or
its data folder holding the same shards by checksum, is the same run).
"""

from __future__ import annotations

import json
import sys

from mer_tf.config import RunConfig
from mer_tf.io import storage
from mer_tf.layout import BACKBONES_KEY, CORPUS_KEY, RunLayout

# Settings that do not change what a run computes: a run folder moved elsewhere (or its
# data folder, with the same shards) is the same run.
LOCATION_FIELDS = (("run_dir",), ("data", "data_dir"), ("data", "verify"))


class RunFolderConflict(ValueError):
    """The run folder holds another run."""


def _comparable(settings: dict) -> dict:
    settings = json.loads(storage.to_json(settings))  # tuples are lists in JSON
    for path in LOCATION_FIELDS:
        target = settings
        for key in path[:-1]:
            target = target.get(key, {})
        target.pop(path[-1], None)
    return settings


def open_run_dir(config: RunConfig, corpus, overwrite: bool = False) -> None:
    """Writes config.json for a new run; checks an existing run folder is this run."""
    run = RunLayout(config.run_dir)
    if overwrite and storage.exists(run.config):
        print(f"--overwrite: removing the run in {config.run_dir}", file=sys.stderr)
        for name in storage.listdir(config.run_dir):
            if name != ".lock":  # held by this process
                storage.rmtree(storage.join(config.run_dir, name))
    digest = corpus.digest()
    if not storage.exists(run.config):
        config.save()
        add_to_config(config.run_dir, {CORPUS_KEY: digest})
        return
    stored = storage.read_json(run.config)
    facts = {key: stored.get(key) for key in (BACKBONES_KEY, CORPUS_KEY)}
    # Read back through the dataclasses: a setting added since that run was written takes
    # its default; one no longer known is refused by name.
    previous = RunConfig.load(config.run_dir)
    if _comparable(previous.to_dict()) != _comparable(config.to_dict()):
        mine, theirs = _comparable(config.to_dict()), _comparable(previous.to_dict())
        changed = sorted(_differences(theirs, mine))
        raise RunFolderConflict(
            f"{config.run_dir} holds a run with another configuration ({', '.join(changed[:6])}"
            f"{', …' if len(changed) > 6 else ''}); use a new --run-dir (the same settings "
            "resume a killed run), or --overwrite to train afresh")
    moved = [what for what, old, new in (("run folder", previous.run_dir, config.run_dir),
                                         ("data folder", previous.data.data_dir,
                                          config.data.data_dir)) if old != new]
    if "data folder" in moved and facts[CORPUS_KEY] not in (None, digest):
        raise RunFolderConflict(
            f"{config.run_dir} was trained on {previous.data.data_dir}, whose shards differ "
            f"from those in {config.data.data_dir}; use a new --run-dir")
    if moved:
        print(f"{config.run_dir}: the {' and the '.join(moved)} moved since the run began "
              f"({previous.run_dir}, {previous.data.data_dir}); continuing here",
              file=sys.stderr)
        config.save()
        add_to_config(config.run_dir, {k: v for k, v in facts.items() if v is not None})
    if not run.is_finished():
        print(f"resuming the run in {config.run_dir}", file=sys.stderr)


def _differences(a, b, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [f"{prefix.rstrip('.')} {a!r} -> {b!r}"]


def add_to_config(run_dir: str, facts: dict) -> None:
    path = RunLayout(run_dir).config
    storage.write_json_atomic(path, {**storage.read_json(path), **facts})


def finished_summary(run_dir: str) -> dict | None:
    """The summary of a finished run (its summary.json, written last), or None."""
    run = RunLayout(run_dir)
    return storage.read_json(run.summary) if storage.exists(run.summary) else None
