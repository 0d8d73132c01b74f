"""Predict the emotion of new recordings with a trained run's SavedModel.

    python -m experiments.predict --run runs/concat/TIMESTAMP \\
        --wav turn.wav --transcript "I can't believe you did that" \\
        --mocap-head head.txt --mocap-hand hand.txt --mocap-rotated rotated.txt \\
        --start 12.30 --end 15.90
    python -m experiments.predict --saved-model PATH --wav turn.wav --transcript-file turn.txt
    python -m experiments.predict --run RUN --jsonl utterances.jsonl --out predictions.jsonl
    python -m experiments.predict --run RUN --recording call.wav [--turns call.srt] \\
        --out timeline.csv [--plot timeline.png] [--min-confidence 0.5]

A model takes only the modalities it was trained on. MOCAP files are IEMOCAP's
dialog-level files (two header lines, 120 frames/s); --start/--end pick the
utterance. Each JSONL line holds {"id", "wav", "transcript" or
"transcript_file", "mocap": {"head", "hand", "rotated"}, "start", "end"}.
--recording reads a whole conversation in blocks and writes a row per turn (start,
end, speaker, text, label, probabilities, notes): turns from --turns (SubRip, WebVTT,
an IEMOCAP transcription or a TSV of start, end, [speaker,] text), or, without it,
speech found by voice activity detection and predicted without text (a model trained
with modality dropout). MOCAP files then cover the whole recording.
"""

import json
import os
import sys
import time


def build_parser():
    from mer_tf.commands.runner import new_parser
    from mer_tf.data.audio import AUDIO_FORMATS

    parser = new_parser("python -m experiments.predict", __doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="a run folder (its saved_model is used)")
    source.add_argument("--saved-model", help="an exported SavedModel directory")
    parser.add_argument("--fold", help="LOSO runs: which fold's model (e.g. fold1); without "
                                       "it, the fold models' probabilities are averaged")
    parser.add_argument("--wav", help=f"an audio file: {AUDIO_FORMATS}, any rate (resampled to "
                                      "16 kHz), any channels (averaged to mono); each said in "
                                      "the notes")
    text = parser.add_mutually_exclusive_group()
    text.add_argument("--transcript", help="the transcript as a string (empty: as if none)")
    text.add_argument("--transcript-file", help="a text file holding the transcript (UTF-8, "
                                                "or UTF-16 with a byte-order mark)")
    for stream in ("head", "hand", "rotated"):
        parser.add_argument(f"--mocap-{stream}", help=f"IEMOCAP MOCAP_{stream} file")
    parser.add_argument("--start", type=float, help="utterance start within the MOCAP files (s)")
    parser.add_argument("--end", type=float, help="utterance end within the MOCAP files (s)")
    parser.add_argument("--jsonl", help="many utterances, one JSON object per line")
    parser.add_argument("--recording", help=f"a whole recording ({AUDIO_FORMATS}; any length, "
                                            "rate, channels): a row per turn")
    parser.add_argument("--turns", help="with --recording: its turns, from a .srt, .vtt, "
                                        "IEMOCAP .txt or .tsv (start end [speaker] text); "
                                        "without it, voice activity detection finds them")
    parser.add_argument("--max-segment", type=float, default=10.0, metavar="S",
                        help="with --recording and no --turns: cut speech longer than S "
                             "seconds into equal parts (default: %(default)s)")
    parser.add_argument("--plot", metavar="PNG", help="with --recording: draw the timeline here")
    parser.add_argument("--out", help="with --jsonl: write predictions here (default: "
                                      "stdout); with --recording: a .csv or .jsonl of rows")
    parser.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                        help="answer 'uncertain' (probabilities still given) where the top "
                             "probability is below P; a run's metrics.json lists coverage and "
                             "accuracy on validation at several P (calibration.validation."
                             "coverage) (default: %(default)s, always answer)")
    return parser


# Files the flags name, and what each is called in a message.
FILE_FLAGS = {"wav": "WAV file", "recording": "recording", "turns": "turns file",
              "jsonl": "JSONL file", "transcript_file": "text file",
              "mocap_head": "MOCAP file", "mocap_hand": "MOCAP file",
              "mocap_rotated": "MOCAP file"}


def _check_paths(args):
    """Every file and folder the flags name is there, checked before TensorFlow starts."""
    from mer_tf.data.audio import check_is_file
    from mer_tf.data.errors import DataError
    from mer_tf.io import storage

    for dest, what in FILE_FLAGS.items():
        path = getattr(args, dest, None)
        if path and not storage.is_remote(path):
            check_is_file(path, what)
    for dest, what in (("run", "run folder"), ("saved_model", "SavedModel folder")):
        path = getattr(args, dest, None)
        if path and not storage.is_remote(path) and not storage.isdir(path):
            raise DataError(path, f"no such {what}" if not storage.exists(path)
                            else f"a file, not a {what}")


def _read_text(path):
    from mer_tf.serving.turns import read_transcript_file

    return read_transcript_file(path)


def _item(entry):
    transcript = entry.get("transcript")
    if transcript is None and entry.get("transcript_file"):
        transcript = _read_text(entry["transcript_file"])
    return {"wav": entry.get("wav"), "transcript": transcript,
            "mocap_files": entry.get("mocap") or None,
            "start": entry.get("start"), "end": entry.get("end")}


def _predict(args) -> int:
    from mer_tf.serving.recognizer import EmotionRecognizer

    if not 0.0 <= args.min_confidence <= 1.0:
        raise ValueError(f"--min-confidence must be between 0 and 1, got {args.min_confidence}")
    recognizer = (EmotionRecognizer(args.saved_model) if args.saved_model
                  else EmotionRecognizer.from_run(args.run, args.fold))
    recognizer.min_confidence = args.min_confidence
    if args.recording:
        return _predict_recording(recognizer, args)
    if args.jsonl:
        return _predict_jsonl(recognizer, args)
    mocap = {s: getattr(args, f"mocap_{s}") for s in ("head", "hand", "rotated")
             if getattr(args, f"mocap_{s}")}
    transcript = _read_text(args.transcript_file) if args.transcript_file else args.transcript
    prediction = recognizer.predict_files(wav=args.wav, transcript=transcript,
                                          mocap_files=mocap or None, start=args.start,
                                          end=args.end)
    for note in prediction.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"predicted emotion: {prediction.label}")
    for name, probability in sorted(prediction.probabilities.items(), key=lambda kv: -kv[1]):
        print(f"  {name:>5}  {probability:.3f}  {'#' * int(round(probability * 40))}")
    for name, value in (prediction.dimensions or {}).items():  # --targets both, on [0, 1]
        print(f"  {name:>9}  {value:.3f}")
    return 0


def main(argv=None) -> int:
    from mer_tf.commands.runner import run_command

    return run_command(build_parser(), _predict, argv, check=_check_paths)


def _read_jsonl(path):
    """[(line number, entry)], or a ValueError naming the line that is not a JSON object."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not JSON ({error.msg})") from None
            if not isinstance(entry, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object "
                                 '({"id", "wav", "transcript", …}), got '
                                 f"{type(entry).__name__}")
            entries.append((number, entry))
    return entries


def _predict_jsonl(recognizer, args) -> int:
    """Every line is checked and predicted before the output exists: a bad line leaves no
    partial file under --out (written to a temporary name, then renamed)."""
    from tqdm.auto import tqdm

    from mer_tf.io import storage

    entries = _read_jsonl(args.jsonl)
    lines = []
    batch = 16
    for start in tqdm(range(0, len(entries), batch), desc="predicting", unit="batch",
                      file=sys.stderr):
        chunk = entries[start:start + batch]
        items = []
        for number, entry in chunk:
            try:
                items.append(recognizer.load_files(**_item(entry)))
            except (ValueError, OSError) as error:
                raise ValueError(f"{args.jsonl}:{number}: {error}") from None
        try:
            predictions = recognizer.predict_many(items, batch)
        except ValueError:
            for (number, _), item in zip(chunk, items):  # which line it was
                try:
                    recognizer.predict_many([item])
                except ValueError as error:
                    raise ValueError(f"{args.jsonl}:{number}: {error}") from None
            raise
        for (_, entry), prediction in zip(chunk, predictions):
            lines.append(json.dumps({"id": entry.get("id"), **prediction.to_dict()}) + "\n")
    if args.out:
        storage.write_text_atomic(args.out, "".join(lines))
    else:
        sys.stdout.write("".join(lines))
    return 0


def _predict_recording(recognizer, args) -> int:
    from mer_tf.evaluation.plots import figure_png
    from mer_tf.io import storage
    from mer_tf.serving import timeline as recording
    from mer_tf.serving.recording import SpeechSettings

    if not args.out:
        raise ValueError("--recording needs --out FILE.csv or FILE.jsonl")
    if args.wav or args.jsonl:
        raise ValueError("--recording reads the whole file: leave out --wav and --jsonl")
    recording.check_rows_path(args.out)
    mocap = {s: getattr(args, f"mocap_{s}") for s in ("head", "hand", "rotated")
             if getattr(args, f"mocap_{s}")}
    started = time.perf_counter()
    rows = recognizer.predict_recording(args.recording, args.turns, mocap or None,
                                        speech=SpeechSettings(max_segment=args.max_segment),
                                        progress=True)
    took = f"{time.perf_counter() - started:.0f} s"
    if not rows:
        print(f"note: no {'turn in --turns' if args.turns else 'speech found'} in "
              f"{args.recording}; {args.out} holds the header alone", file=sys.stderr)
    try:
        recording.write_rows(rows, args.out, recognizer.label_names)
    except Exception as error:
        if not storage.is_disk_full(error):
            raise
        # The rows took minutes: keep them on standard output rather than lose them.
        sys.stdout.write(recording.rows_as_jsonl(rows))
        raise ValueError(f"the disk is full: {args.out} was not written (no part of it is "
                         f"left); the {len(rows)} rows predicted in {took} went to standard "
                         "output as JSON lines instead") from None
    if args.plot:
        title = f"{os.path.basename(args.recording)}: emotion per turn"
        from mer_tf.serving.timeline_plot import timeline_figure

        figure = timeline_figure(rows, recognizer.label_names, title=title)
        try:
            storage.write_bytes_atomic(args.plot, figure_png(figure))
        except Exception as error:
            if not storage.is_disk_full(error):
                raise
            raise ValueError(f"the disk is full: the timeline {args.plot} was not written (no "
                             f"part of it is left); the {len(rows)} rows are in "
                             f"{args.out}") from None
    shares = ", ".join(f"{label} {share:.0%}" for label, share in recording.summary(rows).items())
    print(f"{len(rows)} turns -> {args.out}{' and ' + args.plot if args.plot else ''}; "
          f"share of speaking time: {shares}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
