"""The manifest of a prepared folder: what preparation found, summed up from the
shards' state files, and the table it prints."""

from __future__ import annotations

from collections import Counter

from mer_tf.data.dialog import DEGRADED
from mer_tf.data.iemocap import MOCAP_STREAMS
from mer_tf.data.schema import SCHEMA_VERSION
from mer_tf.frames import SAMPLE_RATE

# manifest["dialog_notes"] keys, as the summary names them
NOTE_DESCRIPTIONS = {
    "transcript_lines_without_id": "transcription lines without an utterance id, skipped",
    "unlabelled_transcript_ids": "transcribed ids without a label (overlaps), skipped",
    "transcribed_twice": "utterances transcribed twice (the later line kept)",
    "utf8_bom": "text files starting with a UTF-8 byte-order mark (stripped)",
    "lines_with_undecodable_bytes": "text lines with bytes that are not UTF-8 (read as U+FFFD)",
    "songs_not_read": "RAVDESS songs (vocal channel 02), not read",
    "renamed_files_read": "files read under their corrected name (CREMA-D's 1040_ITH_SAD_X)",
    "silent_files_skipped": "files with no audio in them, skipped (CREMA-D's 1076_MTI_SAD_XX)",
    "unknown_speakers": "segments whose speaker is Unknown (kept as unknown_<podcast>)",
    "label_file_concensus": "labels read from the older releases' labels_concensus.csv",
    "mojibake_mended": "transcripts whose mojibake ftfy mended (MELD's CSVs)",
    "clips_missing": "clips listed in the CSV but absent from the release, skipped",
    "split_by_number": "ESD utterances without a split folder, split by their number",
    "transcript_lines_unparsed": "text-file lines that are not <id>, text, emotion "
                                 "(their utterances keep an empty transcript)",
    **{f"text_file_{name}": f"speakers' text files in {what}" for name, what in (
        ("utf8", "UTF-8"), ("utf16", "UTF-16"), ("gb18030", "GB2312/GB18030"),
        ("cp1252", "Latin-1/Windows-1252"))},
    **{key: f"utterances kept with {what}" for key, what in DEGRADED.items()},
}

def excluded_counts(index, label_set) -> dict:
    """Per session, labelled utterances whose code is outside the label set."""
    return {
        str(session): dict(sorted(Counter(
            u.emotion for d in dialogs for u in d.utterances
            if label_set.class_of(u.emotion) is None
        ).items()))
        for session, dialogs in sorted(index.items())
    }


def build_manifest(config, label_set, index, states, excluded, index_errors, streams) -> dict:
    sessions = {}
    for session in sorted(index):
        mine = [s for s in states if s["session"] == session]
        classes = Counter()
        speakers = Counter()
        kinds = {}
        for s in mine:
            classes.update(s["classes"])
            speakers.update(s["speakers"])
            for kind, counts in s["kinds"].items():
                kinds.setdefault(kind, Counter()).update(counts)
        sessions[str(session)] = {
            "utterances": sum(s["utterances"] for s in mine),
            "classes": {c: classes.get(c, 0) for c in label_set.classes},
            "speakers": dict(sorted(speakers.items())),
            # per dialog kind (impro, script) and class: scripted lines repeat across sessions
            "kinds": {k: {c: kinds[k].get(c, 0) for c in label_set.classes}
                      for k in sorted(kinds)},
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
    has_text = any(r["text"].strip() for s in states for r in s["index"])
    modalities = ["speech", *(["text"] if has_text else []),
                  *(["mocap"] if streams else [])]
    return {
        "schema_version": SCHEMA_VERSION,
        "source": str(config.source),
        "corpus": config.corpus,
        "modalities": modalities,
        "label_set": label_set.name,
        "classes": list(label_set.classes),
        "on_error": config.on_error,
        "audio": {"sample_rate": SAMPLE_RATE, "encoding": "pcm16"},
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
    if manifest.get("sessions_missing"):
        extra.append(f"WARNING: no folder for session(s) "
                     f"{', '.join(map(str, manifest['sessions_missing']))} in the release: "
                     f"prepared sessions {', '.join(manifest['sessions'])} only")
    for name, reason in manifest.get("rebuilt", {}).items():
        extra.append(f"rebuilt {name}: {reason}")
    if manifest["skipped_count"]:
        extra.append(f"skipped: {manifest['skipped_count']} problems (listed in manifest.json)")
    return "\n".join(["", *lines, *extra, ""])


def index_rows(corpus: str, index: dict, shard_states: list):
    """The shards' index rows with what the reader knows of each utterance besides
    (corpus, official split, dimensional values): taken from the reader's index here,
    so shards an earlier version finished get them too."""
    from mer_tf.data.corpora import index_row_extras

    by_id = {u.utterance_id: u for units in index.values() for unit in units
             for u in unit.utterances}
    for state in shard_states:
        for row in state["index"]:
            yield {**row, **index_row_extras(corpus, by_id.get(row["utterance_id"]))}


def write_index(path: str, corpus: str, index: dict, shard_states: list,
                scale: tuple | None = None) -> dict:
    """Writes `utterances.json` a row at a time (one row a line: never the whole index
    in memory as text); returns what the manifest says of it (`official_splits`, and the
    scale and count of `dimensions`)."""
    import json

    from mer_tf.data.corpora import CORPORA
    from mer_tf.io import storage

    splits, annotated = Counter(), [0]

    def lines():
        yield f'{{"schema_version": {SCHEMA_VERSION}, "utterances": [\n'
        for number, row in enumerate(index_rows(corpus, index, shard_states)):
            splits[row["split"]] += bool(row["split"])
            annotated[0] += row["arousal"] is not None
            yield ("" if number == 0 else ",\n") + json.dumps(row, sort_keys=True,
                                                              ensure_ascii=False)
        yield "\n]}\n"

    storage.write_lines_atomic(path, lines())
    scale = scale or CORPORA[corpus].scale
    return {"official_splits": {name: n for name, n in sorted(splits.items()) if n},
            "dimensions": {"scale": list(scale) if scale else None, "annotated": annotated[0]}}
