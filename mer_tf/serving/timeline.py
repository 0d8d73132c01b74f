"""A whole recording in, a row per turn out: what `predict --recording` and
`EmotionRecognizer.predict_recording` do.

Turns come from a transcript (`mer_tf.serving.turns`) or, without one, from voice activity
detection (`mer_tf.serving.recording.find_speech`; then there is no text, and a model that
takes text must have learned to do without it: modality dropout). Each turn is read from
the file when its batch is predicted, so memory holds one batch of windows, not the
recording. A turn longer than the speech tower's input is read in windows of that
length, back to back, the last one ending where the turn ends (so it overlaps the one
before rather than being short); every window gets the turn's whole transcript and the
motion capture of its own span, and the turn's probabilities are the mean of its
windows'. A turn shorter than the speech encoder's receptive field (one frame: 400
samples, 25 ms) gets no prediction, only a note.
"""

from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np

from mer_tf.data.audio import downmix, resample
from mer_tf.evaluation.dimensions import DIMENSIONS
from mer_tf.frames import RECEPTIVE_FIELD, SAMPLE_RATE, input_windows
from mer_tf.io import storage
from mer_tf.serving.recording import Recording, SpeechSettings, find_speech
from mer_tf.serving.turns import Turn, check_turn, read_turns

SKIPPED = ""  # the label of a turn too short to predict


@dataclasses.dataclass
class TurnPrediction:
    start: float
    end: float
    speaker: str | None
    text: str | None
    label: str  # a class, "uncertain" (below --min-confidence) or "" (skipped)
    probabilities: dict  # class -> probability; empty when skipped
    notes: list = dataclasses.field(default_factory=list)
    dimensions: dict | None = None  # --targets both: arousal, valence, dominance on [0, 1]

    def to_dict(self) -> dict:
        """As JSON writes it: times to the millisecond (voice activity detection's frame
        arithmetic gives 13.049999999999999), as the CSV has them."""
        row = dataclasses.asdict(self)
        row["start"], row["end"] = round(self.start, 3), round(self.end, 3)
        if self.dimensions is None:
            row.pop("dimensions")
        return row


def predict_recording(recognizer, path: str, turns=None, mocap_files: dict | None = None,
                      speech: SpeechSettings = SpeechSettings(), batch_size: int = 16,
                      progress: bool = False) -> list[TurnPrediction]:
    """Rows for the turns of the recording at `path`: `turns` is a turns file, a list of
    `Turn`, or None (find the speech)."""
    info = recognizer.info
    with Recording(path, rate=int(info["sample_rate"])) as recording:
        found = []
        if turns is None:
            _check_speech_only(recognizer)
            turns = [Turn(a, b) for a, b in find_speech(recording, speech)]
            found = ["turn found by voice activity detection (no --turns): no text, "
                     "so no transcript went into the prediction"]
        elif isinstance(turns, str):
            turns = read_turns(turns, recording.duration)
        else:
            turns = [check_turn(path, t, recording.duration) for t in turns]
        tracks = recognizer.read_mocap_tracks(mocap_files) if mocap_files else None
        context = [*recording.notes(), *found]
        rows = _predict_turns(recognizer, recording, turns, tracks, context, batch_size,
                              progress)
    for index, note in overlap_notes(turns).items():
        rows[index].notes.append(note)
    return rows


def overlap_notes(turns: list[Turn]) -> dict[int, str]:
    """{index: note} for each turn that overlaps one starting before it: both are read
    from the same stretch of audio, so each answer hears the other speaker too. Of the
    earlier turns, the one ending last overlaps it most; one pass in time order."""
    notes, reaching = {}, None  # the earlier turn that ends last
    for index in sorted(range(len(turns)), key=lambda i: (turns[i].start, i)):
        turn = turns[index]
        if reaching is not None and reaching.end > turn.start:
            who = f" ({reaching.speaker})" if reaching.speaker else ""
            notes[index] = (f"overlaps the turn at {reaching.start:.2f}-{reaching.end:.2f} s"
                            f"{who} by {min(reaching.end, turn.end) - turn.start:.2f} s: both "
                            "were read from that audio, and its time counts once in the shares")
        if reaching is None or turn.end > reaching.end:
            reaching = turn
    return notes


def _check_speech_only(recognizer) -> None:
    modalities, rate = recognizer.modalities, float(recognizer.info.get("modality_dropout", 0))
    if "speech" not in modalities:
        raise ValueError(f"this model takes {', '.join(modalities)}, no speech: without "
                         "--turns there is nothing to predict from; give --turns")
    if "text" in modalities and not rate:
        raise ValueError("without --turns there is no text, and this model was trained "
                         "without modality dropout, so it cannot predict without it; give "
                         "--turns (SubRip, WebVTT, IEMOCAP or TSV) with the transcript")


def windows_of(item: dict, info: dict, reads_speech: bool = True) -> list[dict]:
    """`item`, or one item per window of its audio when that is longer than the model's
    speech input (resampled to the model's rate first, said once)."""
    length = int(info.get("waveform_length", 0) or 0)
    waveform = item.get("waveform")
    if waveform is None or not length or not reads_speech:
        return [item]
    waveform = downmix(np.asarray(waveform, np.float32))
    rate, source = int(info["sample_rate"]), int(item.get("sample_rate") or SAMPLE_RATE)
    if waveform.ndim != 1 or waveform.size * rate <= length * source:
        return [item]  # fits (or is refused with its reason by the speech tower)
    notes = list(item.get("input_notes", ()))
    if source != rate:
        waveform = resample(waveform, source, rate)
        notes.append(f"resampled from {source} Hz to {rate} Hz")
    spans = input_windows(waveform.size, length)
    if len(spans) == 1:
        return [{**item, "waveform": waveform, "sample_rate": rate, "input_notes": notes}]
    note = (f"{waveform.size / rate:.1f} s read in {len(spans)} windows of the model's "
            f"{length / rate:g} s input; their probabilities averaged")
    return [{**item, "waveform": waveform[a:b], "sample_rate": rate, "input_notes": notes,
             "window_note": note} for a, b in spans]


def _windows(turn: Turn, rate: int, length: int) -> list[tuple[float, float]]:
    """[(start, end)] s of the windows a turn is read in (`input_windows`)."""
    samples = int(round(turn.seconds * rate))
    spans = input_windows(samples, length)
    if len(spans) == 1:
        return [(turn.start, turn.end)]
    return [(turn.start + a / rate, turn.start + b / rate) for a, b in spans[:-1]] + [
        (turn.end - length / rate, turn.end)]


def _predict_turns(recognizer, recording, turns, tracks, context, batch_size, progress):
    from tqdm.auto import tqdm

    info = recognizer.info
    reads_speech = "speech" in recognizer.modalities
    rate, length = int(info["sample_rate"]), int(info.get("waveform_length", 0) or 0)
    rows = [TurnPrediction(t.start, t.end, t.speaker, t.text, SKIPPED, {}, list(context))
            for t in turns]
    sums = [None] * len(turns)
    counts = [0] * len(turns)
    pending = []

    def flush():
        items = [_item(recognizer, recording, turns[i], span, tracks, reads_speech)
                 for i, span in pending]
        probabilities, notes = recognizer.score_many(items, batch_size)
        for (i, _), p, note in zip(pending, probabilities, notes):
            sums[i] = p if sums[i] is None else sums[i] + p
            counts[i] += 1
            rows[i].notes.extend(n for n in note if n not in rows[i].notes)
        pending.clear()

    for index, turn in enumerate(tqdm(turns, desc="turns", unit="turn", disable=not progress)):
        if reads_speech and turn.seconds * rate < RECEPTIVE_FIELD:
            rows[index].notes.append(
                f"skipped: {turn.seconds * 1000:.0f} ms is shorter than one frame of the "
                f"speech encoder ({RECEPTIVE_FIELD} samples, {RECEPTIVE_FIELD / rate * 1000:.0f} "
                "ms)")
            continue
        windows = _windows(turn, rate, length if reads_speech else 0)
        if len(windows) > 1:
            rows[index].notes.append(
                f"{turn.seconds:.1f} s read in {len(windows)} windows of the model's "
                f"{length / rate:g} s input; their probabilities averaged")
        for span in windows:
            pending.append((index, span))
            if len(pending) >= batch_size:
                flush()
    if pending:
        flush()
    for index, row in enumerate(rows):
        if counts[index]:
            decided = recognizer.decide(sums[index] / counts[index], row.notes)
            row.label, row.probabilities, row.notes = (decided.label, decided.probabilities,
                                                      decided.notes)
            row.dimensions = decided.dimensions
    return rows


def _item(recognizer, recording, turn: Turn, span, tracks, reads_speech) -> dict:
    item = {"transcript": turn.text, "input_notes": []}
    if reads_speech:
        item["waveform"], item["sample_rate"] = recording.read(*span), recording.rate
    if tracks is not None:
        item["mocap"], item["mocap_mask"] = recognizer.mocap_from_tracks(tracks, *span)
    return item


# -- output -------------------------------------------------------------------------------

def check_rows_path(path: str) -> None:
    """Refuses an output name `write_rows` cannot write, before minutes of prediction."""
    if not path.lower().endswith((".csv", ".jsonl")):
        raise ValueError(f"--out {path}: give a .csv or .jsonl file")


def rows_as_jsonl(rows: list[TurnPrediction]) -> str:
    import json

    return "".join(json.dumps(row.to_dict(), ensure_ascii=False) + "\n" for row in rows)


def write_rows(rows: list[TurnPrediction], path: str, label_names) -> None:
    """CSV (`.csv`: start, end, speaker, text, label, p_<class>…, notes joined by ' | ') or
    JSON Lines (`.jsonl`: one object per row), written to a temporary name, then renamed."""
    check_rows_path(path)
    if path.lower().endswith(".jsonl"):
        text = rows_as_jsonl(rows)
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        dims = [n for n in DIMENSIONS if any(row.dimensions for row in rows)]
        writer.writerow(["start", "end", "speaker", "text", "label",
                         *[f"p_{name}" for name in label_names], *dims, "notes"])
        for row in rows:
            writer.writerow([f"{row.start:.3f}", f"{row.end:.3f}", row.speaker or "",
                             row.text or "", row.label,
                             *[f"{row.probabilities[n]:.4f}" if row.probabilities else ""
                               for n in label_names],
                             *[f"{row.dimensions[n]:.4f}" if row.dimensions else ""
                               for n in dims], " | ".join(row.notes)])
        text = buffer.getvalue()
    storage.write_text_atomic(path, text)


def summary(rows: list[TurnPrediction]) -> dict:
    """Share of speaking time per label (skipped turns apart). Time two turns share (two
    people at once, or overlapping cues) counts once, split evenly between them: one
    sweep over the turns' starts and ends."""
    events = sorted((t, kind, i) for i, row in enumerate(rows)
                    for t, kind in ((row.start, 1), (row.end, 0)))  # ends first at a tie
    seconds, speaking, last = {}, set(), None
    for time, kind, index in events:
        if speaking and time > last:
            for i in speaking:
                key = rows[i].label or "skipped"
                seconds[key] = seconds.get(key, 0.0) + (time - last) / len(speaking)
        (speaking.add if kind else speaking.discard)(index)
        last = time
    total = sum(seconds.values()) or 1.0
    return {label: round(s / total, 3) for label, s in sorted(seconds.items(),
                                                            key=lambda kv: -kv[1])}
