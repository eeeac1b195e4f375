"""A qlib provider directory, kept current day by day (no Dagster import).

Layout (what qlib's `scripts/dump_bin.py` writes and `qlib.data.storage.file_storage` reads):
    calendars/day.txt                  one YYYY-MM-DD per line, every session held
    instruments/all.txt                CODE <tab> first day <tab> last day, e.g. SH600000
    features/<code lowercase>/<field>.day.bin
        little-endian float32: value 0 is the index in day.txt of the first value, then one
        value per session from there (NaN where the stock has none: suspended, missing).

Incremental by construction: the value of (stock, field, day) lives at byte
`4 * (1 + calendar_index(day) - start_index)` of its file, so a new day is one 4-byte write
at the end of each file (the history is never read or rewritten), a past day is a write in
place at its offset, and a chunk of days is one contiguous write per file.

Consistency for a reader (qlib) that may open the directory at any moment, or after a run
was killed half-way: qlib reads a feature only up to the calendar's last day, so values
written beyond it are invisible. Each chunk therefore writes the feature files first, then
`instruments/all.txt`, then `calendars/day.txt`, the last two each by an atomic rename; a
reader sees the old calendar (and the old values for it) until the rename, the new one
after. Writes go to an offset computed from the calendar, never appended, so rerunning an
interrupted run overwrites whatever half-chunk it left instead of duplicating it. Where a
stock's file starts and ends is read from `instruments/all.txt` (published after the
features) where the file's header agrees: a day needs no `fstat`, and values a killed run
left past the published end are never taken for stored days.
One limit: re-materializing a *past* day rewrites its values file by file; a reader during
that rewrite (or after a kill in it) may see some stocks' new values and others' old ones
for that day, until the rerun completes it. The rewrite of a day with unchanged inputs
writes the same bytes.
"""

import datetime as dt
import fcntl
import os
import struct
import uuid
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl

FREQ = "day"
CALENDAR = Path("calendars") / f"{FREQ}.txt"
INSTRUMENTS = Path("instruments") / "all.txt"
LOCK = ".stockmonitor.lock"
NAN32 = np.float32("nan")
NAN_BYTES = NAN32.astype("<f4").tobytes()
_HEADER = struct.Struct("<f")  # qlib stores the start index as a float32 too


class QlibProviderError(ValueError):
    """The provider cannot take these days (or this location); the message says why and how."""


def check_location(path: str) -> None:
    """qlib reads its provider from the local filesystem only: refuse anything else."""
    if "://" in path and not path.startswith("file://"):
        raise QlibProviderError(
            f"qlib provider directory {path!r} is not on the local filesystem; qlib's "
            "provider_uri reads local files only: set STOCKMONITOR_QLIB_DIR to a local path"
        )


class QlibProvider:
    """Reads the calendar and instruments, and writes days of fields into the features."""

    def __init__(self, root: str | Path):
        self.root = Path(str(root).removeprefix("file://"))

    def calendar(self) -> list[dt.date]:
        path = self.root / CALENDAR
        if not path.exists():
            return []
        return [dt.date.fromisoformat(line) for line in path.read_text().split()]

    def instruments(self) -> dict[str, tuple[dt.date, dt.date]]:
        path = self.root / INSTRUMENTS
        if not path.exists():
            return {}
        spans = {}
        for line in path.read_text().splitlines():
            code, first, last = line.split("\t")
            spans[code] = (dt.date.fromisoformat(first), dt.date.fromisoformat(last))
        return spans

    @contextmanager
    def locked(self):
        """One writer at a time (two runs of overlapping days would interleave files)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK, "a") as handle:  # "a": the lock file is never modified
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def plan(self, days: Sequence[dt.date], sessions) -> list[dt.date]:
        """The calendar after writing `days` (QlibProviderError if they cannot be written)."""
        return extend_calendar(self.calendar(), days, sessions)

    def write_chunk(self, frame: pl.DataFrame, days: Sequence[dt.date], sessions) -> int:
        """Write `frame` (code, date, one Float32 column per field) for `days`; returns files.

        `days` are sessions the provider already holds (rewritten in place) or the sessions
        right after its last one (appended); `sessions` is the exchange calendar through
        them, to tell a gap. Features first, then instruments, then the calendar.
        """
        calendar = extend_calendar(self.calendar(), days, sessions)
        index = {d: i for i, d in enumerate(calendar)}
        fields = [c for c in frame.columns if c not in ("code", "date")]
        frame = frame.filter(pl.col("date").is_in(list(days))).sort("code", "date")
        spans = self.instruments()
        files = self._write_features(frame, fields, index, spans)
        self._write_instruments(frame, spans)
        _replace_text(self.root / CALENDAR, "".join(f"{d.isoformat()}\n" for d in calendar))
        return files

    def _write_features(
        self, frame: pl.DataFrame, fields: list[str], index: dict, spans: dict
    ) -> int:
        if frame.is_empty():
            return 0
        codes = frame["code"].to_numpy()
        positions = np.array([index[d] for d in frame["date"].to_list()], dtype=np.int64)
        # fields x rows, so one field of one stock is a contiguous run of bytes
        values = np.ascontiguousarray(frame.select(fields).to_numpy().astype("<f4").T)
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        ends = np.r_[starts[1:], len(codes)]
        written, features = 0, os.path.join(self.root, "features")
        names = [f"{field}.{FREQ}.bin" for field in fields]
        for first, stop in zip(starts, ends, strict=True):
            code = str(codes[first])
            folder = os.path.join(features, code.lower())
            extent = _extent(spans.get(code), index)
            os.makedirs(folder, exist_ok=True)
            block, at = _dense_block(values[:, first:stop], positions[first:stop])
            for j, name in enumerate(names):
                write_values(os.path.join(folder, name), at, block[j].tobytes(), extent)
                written += 1
        return written

    def _write_instruments(self, frame: pl.DataFrame, spans: dict) -> None:
        seen = frame.group_by("code").agg(first=pl.col("date").min(), last=pl.col("date").max())
        for code, first, last in seen.iter_rows():
            old = spans.get(code)
            spans[code] = (min(first, old[0]), max(last, old[1])) if old else (first, last)
        lines = (f"{c}\t{a.isoformat()}\t{b.isoformat()}\n" for c, (a, b) in sorted(spans.items()))
        _replace_text(self.root / INSTRUMENTS, "".join(lines))


def extend_calendar(
    calendar: list[dt.date], days: Sequence[dt.date], sessions: Sequence[dt.date]
) -> list[dt.date]:
    """The calendar after writing `days`, or QlibProviderError when they leave a gap.

    A provider holds one unbroken run of sessions: days already in it are rewritten, the
    sessions right after its last day are appended. Days before its first day would shift
    every stored index (a rebuild), so they are refused with the way to rebuild.
    """
    days = sorted(set(days))
    if not days:
        return list(calendar)
    held = set(calendar)
    if calendar and days[0] < calendar[0]:
        raise QlibProviderError(
            f"qlib provider starts on {calendar[0]}; {days[0]} is earlier. Delete the provider "
            "directory and materialize qlib_provider over the whole range (one run) to rebuild"
        )
    new = [d for d in days if d not in held]
    if not new:
        return list(calendar)
    last = calendar[-1] if calendar else None
    expected = [s for s in sessions if (last is None or s > last) and s <= new[-1]]
    if last is None:
        expected = [s for s in expected if s >= new[0]]
    if expected != new:
        missing = ", ".join(d.isoformat() for d in sorted(set(expected) - set(new))[:5])
        raise QlibProviderError(
            f"qlib provider ends on {last}; writing {new[0]}..{new[-1]} would leave "
            f"session(s) {missing} without data: materialize qlib_provider over the "
            "sessions right after its last day"
        )
    return [*calendar, *new]


def _dense_block(values: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, int]:
    """A stock's values over its calendar span [first, last] (NaN where it has no row)."""
    first, span = int(positions[0]), int(positions[-1] - positions[0] + 1)
    if span == len(positions):
        return values, first
    block = np.full((values.shape[0], span), NAN32, dtype="<f4")
    block[:, positions - first] = values
    return block, first


def _extent(span: tuple[dt.date, dt.date] | None, index: dict) -> tuple[int, int] | None:
    """Calendar indices of a stock's first and last stored values, as instruments/all.txt
    records them (every chunk writes the features first, then that file)."""
    if span is None or span[0] not in index or span[1] not in index:
        return None
    return index[span[0]], index[span[1]]


def write_values(path: str, at: int, values: bytes, extent: tuple[int, int] | None = None) -> None:
    """Put float32 `values` (little-endian bytes) for calendar indices at, at+1, ... into a
    qlib feature file (the hot loop: no array per call).

    `extent` is a known stock's first and last stored index, from instruments/all.txt. A file
    whose header says it starts there needs no `fstat` (4 system calls: RESULTS §21.1), and
    days between the last stored one and `at` become NaN, even where a killed run left
    values past it. A new file of a known stock (a field added) starts there too, NaN before
    `at`. Any other file (a header written elsewhere) says itself where it starts and ends.
    """
    if extent is None or at < extent[0]:
        _write_values_anywhere(path, at, values)
        return
    start, last = extent
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        header = os.pread(fd, 4, 0)
        if not header:
            os.pwrite(fd, _HEADER.pack(start) + NAN_BYTES * (at - start) + values, 0)
            return
        if len(header) == 4 and int(_HEADER.unpack(header)[0]) == start:
            _write_after(fd, start, last, at, values)
            return
    finally:
        os.close(fd)
    _write_values_anywhere(path, at, values)


def _write_values_anywhere(path: str, at: int, values: bytes) -> None:
    """`write_values` for a file that alone says where it starts and ends (5 calls)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size < 4:
            os.pwrite(fd, _HEADER.pack(at) + values, 0)
            return
        start = int(_HEADER.unpack(os.pread(fd, 4, 0))[0])
        if at < start:
            _prepend(path, fd, start, at, np.frombuffer(values, dtype="<f4"))
            return
        _write_after(fd, start, start + (size - 4) // 4 - 1, at, values)
    finally:
        os.close(fd)


def _write_after(fd: int, start: int, last: int, at: int, values: bytes) -> None:
    """Write `values` from index `at` into a file starting at `start` and holding values
    through `last`; days in between become NaN, never stale values or a sparse hole's zeros."""
    gap = at - last - 1
    if gap > 0:
        values, at = NAN_BYTES * gap + values, at - gap
    os.pwrite(fd, values, 4 * (1 + at - start))


def _prepend(path: str, fd: int, start: int, at: int, values: np.ndarray) -> None:
    """A stock's file gets values before its first one (rare): rewrite it whole, atomically."""
    size = os.fstat(fd).st_size
    old = np.frombuffer(os.pread(fd, size - 4, 4)[: (size - 4) // 4 * 4], dtype="<f4")
    length = max(start + len(old), at + len(values)) - at
    merged = np.full(length, NAN32, dtype="<f4")
    merged[start - at : start - at + len(old)] = old
    merged[: len(values)] = values
    _replace_bytes(Path(path), _HEADER.pack(at) + merged.tobytes())


def _replace_text(path: Path, text: str) -> None:
    _replace_bytes(path, text.encode())


def _replace_bytes(path: Path, data: bytes) -> None:
    """Publish `data` at `path` whole or not at all (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
