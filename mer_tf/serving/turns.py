"""Turns of a recording from the transcripts people have: SubRip (`.srt`) and WebVTT
(`.vtt`), as Whisper and most speech recognisers write them; an IEMOCAP transcription
file (`Ses01F_impro01_F000 [006.2901-008.2357]: text`); a TSV of `start end [speaker]
text` (seconds; a header line is allowed).

SubRip is parsed by `srt`, WebVTT by `webvtt-py`. A speaker is taken where the format
has one: WebVTT's voice tag (`<v Anna>`), a diarizer's `[SPEAKER_00]:` prefix (WhisperX
writes it into SubRip), the TSV's speaker column, IEMOCAP's utterance suffix (`_F000`:
the session's female actor). A turn with bad times (end not after start, beyond the
recording) is a DataError naming the file and the line of its times.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re

from mer_tf.data.errors import DataError
from mer_tf.io import storage

TURN_FORMATS = "SubRip (.srt), WebVTT (.vtt), an IEMOCAP transcription (.txt) or a TSV (.tsv)"
# A turn may end this far past the recording's last sample (rounded cue times); it is cut.
END_TOLERANCE = 0.5
_SPEAKER_PREFIX_RE = re.compile(r"^\[(?P<speaker>[^\]]+)\]:\s*(?P<text>.*)$", re.S)
_IEMOCAP_RE = re.compile(r"^(?P<id>Ses\d{2}[FM]_\S+_(?P<gender>[FM])\d{3})\s+"
                         r"\[(?P<start>\d+(?:\.\d*)?)-(?P<end>\d+(?:\.\d*)?)\]:\s?(?P<text>.*)$")


@dataclasses.dataclass(frozen=True)
class Turn:
    start: float  # seconds from the recording's start
    end: float
    speaker: str | None = None
    text: str | None = None
    line: int | None = None  # where its times are in the file it came from

    @property
    def seconds(self) -> float:
        return self.end - self.start


def read_turns(path: str, duration: float | None = None) -> list[Turn]:
    """The turns of `path` in time order, checked against the recording's `duration`."""
    from mer_tf.data.audio import check_is_file

    check_is_file(path, "turns file")
    text = read_text_file(path)  # not stripped: line numbers count from the file's first
    suffix = path.lower().rsplit(".", 1)[-1] if "." in path else ""
    readers = {"srt": _srt, "vtt": _vtt, "tsv": _tsv, "txt": _iemocap}
    if suffix not in readers:
        raise DataError(path, f"unknown turns format .{suffix or '(none)'}: give "
                              f"{TURN_FORMATS}")
    turns = readers[suffix](path, text)
    if not turns:
        raise DataError(path, "holds no turn")
    return sorted((check_turn(path, turn, duration) for turn in turns),
                  key=lambda t: (t.start, t.end))


def check_turn(path: str, turn: Turn, duration: float | None) -> Turn:
    """The turn, cut at the recording's end when it ends within END_TOLERANCE of it; bad
    times are a DataError naming the file and line."""
    if not turn.start >= 0:
        raise DataError(path, f"turn starts at {turn.start:g} s, before the recording",
                        turn.line)
    if not turn.end > turn.start:
        raise DataError(path, f"turn ends at {turn.end:g} s, not after its start at "
                              f"{turn.start:g} s", turn.line)
    if duration is not None:
        if turn.start >= duration or turn.end > duration + END_TOLERANCE:
            raise DataError(path, f"turn [{turn.start:g}, {turn.end:g}] s lies beyond the "
                                  f"recording, which is {duration:.2f} s long", turn.line)
        if turn.end > duration:
            turn = dataclasses.replace(turn, end=duration)
    return turn


def read_transcript_file(path: str) -> str:
    """A transcript from a text file (see `read_text_file`), without surrounding space."""
    return read_text_file(path).strip()


def read_text_file(path: str) -> str:
    """A text file: UTF-8 (a byte-order mark is stripped) or UTF-16 with its byte-order
    mark; anything else is a DataError naming the file."""
    from mer_tf.data.audio import check_is_file

    check_is_file(path, "text file")
    data = storage.read_bytes(path)
    for mark, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"),
                           (b"\xfe\xff", "utf-16")):
        if data.startswith(mark):
            break
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise DataError(path, f"not {encoding.upper().replace('-SIG', '')} text (byte "
                              f"{data[error.start:error.start + 1]!r} at offset {error.start}); "
                              "save it as UTF-8") from None


def _timing_lines(text: str) -> list[int]:
    """1-based numbers of the lines holding a cue's times (`… --> …`), in order."""
    return [n for n, line in enumerate(text.splitlines(), start=1) if "-->" in line]


def _speaker_and_text(text: str, speaker: str | None = None):
    text = " ".join(text.split())
    match = _SPEAKER_PREFIX_RE.match(text)
    if match and speaker is None:
        return match["speaker"].strip(), match["text"].strip()
    return speaker, text


def _srt(path: str, text: str) -> list[Turn]:
    import srt

    lines = _timing_lines(text)
    try:
        cues = list(srt.parse(text, ignore_errors=False))
    except srt.SRTParseError as error:
        line = text.count("\n", 0, error.expected_start) + 1
        raise DataError(path, "not SubRip: unreadable from here "
                              f"({error.unmatched_content[:60]!r})", line) from None
    turns = []
    for index, cue in enumerate(cues):
        speaker, words = _speaker_and_text(cue.content)
        turns.append(Turn(cue.start.total_seconds(), cue.end.total_seconds(), speaker, words,
                          lines[index] if index < len(lines) else None))
    return turns


def _vtt(path: str, text: str) -> list[Turn]:
    import webvtt

    lines = _timing_lines(text)
    try:
        captions = webvtt.from_buffer(io.StringIO(text))
    except (webvtt.errors.MalformedFileError, webvtt.errors.MalformedCaptionError) as error:
        raise DataError(path, f"not WebVTT: {error}") from None

    def seconds(stamp) -> float:  # webvtt's *_in_seconds are whole seconds
        return stamp.hours * 3600 + stamp.minutes * 60 + stamp.seconds + stamp.milliseconds / 1e3

    turns = []
    for index, caption in enumerate(captions):
        speaker, words = _speaker_and_text(caption.text, caption.voice)
        turns.append(Turn(seconds(caption.start_time), seconds(caption.end_time), speaker,
                          words, lines[index] if index < len(lines) else None))
    return turns


def _tsv(path: str, text: str) -> list[Turn]:
    """Rows of `start end text` or `start end speaker text`, after an optional header. Every
    row has as many fields as the header (or the first row): a three-field row in a
    four-column file would read its speaker as the transcript."""
    turns = []
    width, set_by = None, None  # fields every row has, and the line that said so
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter="\t"), start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) not in (3, 4):
            raise DataError(path, f"expected 'start<TAB>end<TAB>[speaker<TAB>]text', got "
                                  f"{len(row)} fields", number)
        if width is not None and len(row) != width:
            columns = "start, end, speaker, text" if width == 4 else "start, end, text"
            raise DataError(path, f"{len(row)} fields where line {set_by} has {width} "
                                  f"({columns}): every row needs the same columns", number)
        width, set_by = len(row), set_by or number
        try:
            start, end = float(row[0]), float(row[1])
        except ValueError:
            if number == set_by and not turns:  # a header line
                continue
            raise DataError(path, f"start and end must be seconds, got {row[0]!r} and "
                                  f"{row[1]!r}", number) from None
        speaker = row[2].strip() or None if len(row) == 4 else None
        turns.append(Turn(start, end, speaker, " ".join(row[-1].split()) or None, number))
    return turns


def _iemocap(path: str, text: str) -> list[Turn]:
    """Labelled utterance lines; lines naming no utterance (`M: sorry`) are skipped, as
    preparation skips them."""
    turns = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _IEMOCAP_RE.match(line.strip())
        if match:
            session = match["id"][:5]  # Ses01: the speaker is that session's actor
            turns.append(Turn(float(match["start"]), float(match["end"]),
                              f"{session}{match['gender']}", match["text"].strip(), number))
    if not turns and text.strip():
        raise DataError(path, f"no line reads 'UTTERANCE_ID [START-END]: TEXT'; a .txt is "
                              f"read as an IEMOCAP transcription (give {TURN_FORMATS})")
    return turns
