"""Motion-capture files: parsing, per-utterance slicing, and the two views.

IEMOCAP MOCAP files have two header lines, then whitespace-separated rows
`frame time v1 v2 …` at 120 frames/s, with `NaN` for missing markers. As public
readers of the real release do, the two header lines are skipped and the values
taken from the third column on: the number of value columns comes from the rows
(every row must agree; the first that does not is the error), never from the
second header line, which nobody documents (`MOCAP_rotated` has `X01 Y01 Z01 …`
there, `MOCAP_head` names pose columns on line 1). Column names come from line 1
where they fit the width (one name per value, or one per marker of `k` values)
and are generic otherwise.

Two views of an utterance, both kept by preparation:

- frames: the frames inside [start, end) averaged into bins of a chosen rate
  (default 30/s), with a mask of which values were present, so a transformer
  sees the real sequence length;
- chunks: the paper's fixed-size view, the frames split into 200 equal chunks,
  each the mean of its frames (NaN -> 0), with a mask of non-empty chunks.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from mer_tf.data.errors import DataError
from mer_tf.io import storage

MOCAP_FPS = 120.0
PAPER_CHUNKS = 200


@dataclasses.dataclass
class MocapTrack:
    """One dialog's stream: times (seconds) and values [frames, dim] with NaN gaps."""

    path: str
    columns: tuple[str, ...]
    times: np.ndarray
    values: np.ndarray

    @property
    def dim(self) -> int:
        return self.values.shape[1]


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def parse_mocap_text(text: str, path: str) -> MocapTrack:
    """Parses MOCAP text; raises DataError naming the line on any bad row.

    The release's rows are single-space separated, which pyarrow's CSV reader parses
    about four times as fast as `numpy.loadtxt`, to the same bits (both round each
    number correctly). Text it refuses or cannot vouch for (other spacing, comments, a
    bad row, times that are NaN or go backwards) is parsed by loadtxt as before, so
    the values and every error message stay loadtxt's.
    """
    fast = _single_space_table(text)
    if fast is not None:
        header, table = fast
        times = table[:, 1]
        if not np.isnan(times).any() and not np.any(np.diff(times) < 0):
            return _track(path, header, table)
    return _parse_lines(text, path)


def _track(path: str, header: str, table: np.ndarray) -> MocapTrack:
    values = table[:, 2:].astype(np.float32)
    return MocapTrack(path, column_names(header, values.shape[1]), table[:, 1], values)


_FIRST_ROW = re.compile(rb"[\r\n]*([^\r\n]*)")  # blank lines, then the first row


def _single_space_table(text: str) -> tuple[str, np.ndarray] | None:
    """(header line 1, float64 rows) read by pyarrow, or None where loadtxt must decide.

    Only text whose first two lines end at `\\n` is taken (the lines `splitlines`
    would see), and only rows of single-space separated numbers: pyarrow refuses any
    other spacing, a row of another width, and every token loadtxt would refuse but two,
    so a body holding them is left to loadtxt: `nan(...)` (MSVC writes `-nan(ind)`) and
    a byte order mark, which pyarrow skips at the start.
    """
    first_end = text.find("\n")
    second_end = text.find("\n", first_end + 1) if first_end >= 0 else -1
    if second_end < 0:
        return None
    header = text[:second_end + 1].splitlines()
    if len(header) != 2:
        return None
    body = text[second_end + 1:].encode("utf-8")
    if b"(" in body or b"\xef\xbb\xbf" in body:
        return None
    first_row = _FIRST_ROW.match(body).group(1)
    columns = first_row.count(b" ") + 1
    if not first_row or columns < 3:
        return None
    import pyarrow
    from pyarrow import csv

    try:
        table = csv.read_csv(pyarrow.BufferReader(body), read_options=csv.ReadOptions(
            autogenerate_column_names=True, use_threads=False), parse_options=csv.ParseOptions(
            delimiter=" ", quote_char=False), convert_options=csv.ConvertOptions(
            column_types={f"f{k}": pyarrow.float64() for k in range(columns)}, null_values=[]))
    except pyarrow.ArrowException:  # any refusal: loadtxt decides
        return None
    del body  # the table holds its own copy of the values
    if table.num_columns != columns or table.num_rows == 0:
        return None
    rows = np.empty((table.num_rows, columns), dtype=np.float64)
    for k, column in enumerate(table.columns):
        rows[:, k] = column.to_numpy()
    return header[0], rows


def _parse_lines(text: str, path: str) -> MocapTrack:
    """numpy.loadtxt's parse, and the error that names the line of a bad row."""
    lines = text.splitlines()
    if len(lines) < 2:
        raise DataError(path, "MOCAP file has fewer than the two header lines", len(lines) or None)
    first = next((n for n, line in enumerate(lines[2:], start=3) if line.strip()), None)
    if first is None:
        raise DataError(path, "MOCAP file has no rows after its two header lines", len(lines))
    columns = len(lines[first - 1].split())
    if columns < 3:
        raise DataError(path, f"row has {columns} columns; expected frame, time and at least "
                              "one value", first)
    try:  # a list of lines: no joined copy of a file that can be 100 MB
        table = np.loadtxt(lines[2:], dtype=np.float64, ndmin=2)
    except ValueError:
        raise _locate_bad_row(lines, columns, path) from None
    if table.shape[1] != columns:
        raise _locate_bad_row(lines, columns, path)
    times = table[:, 1]
    if np.isnan(times).any():
        row = int(np.argmax(np.isnan(times)))
        raise DataError(path, "time column is NaN", _body_line_number(lines, row))
    if times.size > 1 and np.any(np.diff(times) < 0):
        row = int(np.argmax(np.diff(times) < 0)) + 1
        raise DataError(path, "time column goes backwards", _body_line_number(lines, row))
    return _track(path, lines[0], table)


def column_names(header: str, width: int) -> tuple[str, ...]:
    """Names for `width` value columns from header line 1 (`Frame# Time NAME …`).

    One name per column where they fit, `NAME_X/_Y/_Z` where each name is a marker
    of three values, generic `v001 …` otherwise.
    """
    tokens = header.split()
    names = tokens[2:] if len(tokens) >= 2 and tokens[0].lower().startswith("frame") else tokens
    if len(names) == width:
        return tuple(names)
    if names and width % len(names) == 0:
        per = width // len(names)
        axes = ("X", "Y", "Z") if per == 3 else tuple(str(k + 1) for k in range(per))
        return tuple(f"{name}_{axis}" for name in names for axis in axes)
    return tuple(f"v{k + 1:03d}" for k in range(width))


def _body_line_number(lines: list[str], row: int) -> int:
    """1-based file line of data row `row` (blank lines are skipped by the parser)."""
    seen = -1
    for number, line in enumerate(lines[2:], start=3):
        if line.strip():
            seen += 1
            if seen == row:
                return number
    return len(lines)


def _locate_bad_row(lines: list[str], columns: int, path: str) -> DataError:
    for number, line in enumerate(lines[2:], start=3):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != columns:
            return DataError(path, f"row has {len(tokens)} columns, the first row has {columns} "
                                   f"(frame, time and {columns - 2} values)", number)
        bad = [t for t in tokens if not _is_number(t)]
        if bad:
            return DataError(path, f"value {bad[0]!r} is not a number", number)
    return DataError(path, "could not parse MOCAP rows")


def read_mocap(path: str) -> MocapTrack:
    if not storage.exists(path):
        raise DataError(path, "missing MOCAP file")
    return parse_mocap_text(storage.read_text(path, errors="replace"), path)


def slice_track(track: MocapTrack, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """Times and values of the frames with start <= time < end (times are sorted)."""
    lo, hi = np.searchsorted(track.times, [start, end], side="left")
    return track.times[lo:hi], track.values[lo:hi]


def _binned_nanmean(values: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the non-NaN values of each bin [bounds[i], bounds[i+1]); 0 where none."""
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0).astype(np.float64)
    zero = np.zeros((1, values.shape[1]))
    sums = np.concatenate([zero, np.cumsum(filled, axis=0)])
    counts = np.concatenate([zero, np.cumsum(present, axis=0)])
    bin_sums = sums[bounds[1:]] - sums[bounds[:-1]]
    bin_counts = counts[bounds[1:]] - counts[bounds[:-1]]
    means = np.divide(bin_sums, bin_counts, out=np.zeros_like(bin_sums), where=bin_counts > 0)
    return means.astype(np.float32), bin_counts > 0


def frames_view(times: np.ndarray, values: np.ndarray, start: float, end: float,
                rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Bins frames into 1/rate-second windows from `start`: (values [T, D], present [T, D])."""
    num_bins = max(int(np.ceil(round((end - start) * rate, 6))), 1)
    bins = np.clip(np.floor((times - start) * rate).astype(np.int64), 0, num_bins - 1)
    bounds = np.searchsorted(bins, np.arange(num_bins + 1), side="left")
    return _binned_nanmean(values, bounds)


def chunks_view(values: np.ndarray,
                num_chunks: int = PAPER_CHUNKS) -> tuple[np.ndarray, np.ndarray]:
    """The paper's view: `num_chunks` equal splits (as np.array_split), each averaged.

    Returns (values [num_chunks, D], present [num_chunks]) where a chunk is
    present when it holds at least one frame.
    """
    n = values.shape[0]
    sizes = np.full(num_chunks, n // num_chunks)
    sizes[: n % num_chunks] += 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    means, _ = _binned_nanmean(values, bounds)
    return means, sizes > 0


def missing_as_nan(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Stored frames and their presence -> what the mocap tower takes: NaN where absent."""
    return np.where(present, values, np.nan).astype(np.float32)


def model_view(times: np.ndarray, values: np.ndarray, start: float, end: float, view: str,
               chunks: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """An utterance's frames as the model takes them, the view training read from the
    shards: (values [T, D], mask [T]). `frames`: 1/rate-second bins, a missing marker NaN,
    every bin a frame; `chunks`: the paper's `chunks` averages, a chunk without frames
    masked."""
    if view == "chunks":
        return chunks_view(values, chunks)
    frames, present = frames_view(times, values, start, end, rate)
    return missing_as_nan(frames, present), np.ones(frames.shape[0], bool)
