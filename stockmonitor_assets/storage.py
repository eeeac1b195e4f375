"""Partition files: `<base_dir>/<asset>/<YYYY-MM-DD>.parquet`, local or on an object store.

One place for the layout, the atomic write and the read, shared by the IO manager (what
Dagster hands over between steps), run health, and the assets that read history beyond
their own days (the indicator window, the previous day's carried state). Every file is
conformed to its contract (`schemas.FOLDERS`) by `PartitionStore.write`, the one
write-time `conform`: nothing reaches the disk past it. No Dagster import of its own.
"""

import contextlib
import datetime as dt
import io
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import polars as pl
from upath import UPath

from stockmonitor_assets.schemas import FOLDERS, TableSchema
from stockmonitor_assets.trading_calendar import partition_key

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
OPEN_AT_ONCE = 256  # files `read_many` holds open (well under the usual limit of 1,024)


class DataDirError(ValueError):
    """DATA_DIR cannot hold partitions; the message names the path and the fix."""


class MissingPartitionError(FileNotFoundError):
    """A partition that a step needs was never written."""


class PartitionStore:
    """Reads and writes one Parquet file per asset and partition key."""

    def __init__(self, base_dir: str, storage_options: Mapping[str, object] | None = None):
        self.base_dir = base_dir
        self.storage_options = dict(storage_options or {})
        self.root = UPath(base_dir, **self.storage_options)

    @property
    def is_local(self) -> bool:
        return _is_local(self.root)

    def path(self, asset: str, key: str) -> UPath:
        return self.root / asset / f"{key}.parquet"

    def exists(self, asset: str, key: str) -> bool:
        return self.path(asset, key).exists()

    def read(self, asset: str, key: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """The stored partition (only `columns`, when given: the others are not decoded);
        MissingPartitionError (naming it) when it was never written."""
        columns = list(columns) if columns else None
        if self.is_local:
            with self._open_local(asset, key) as handle:
                return pl.read_parquet(handle, columns=columns)
        try:
            with self.path(asset, key).open("rb") as handle:
                return pl.read_parquet(handle, columns=columns)
        except FileNotFoundError:
            raise self._missing(asset, key) from None

    def read_many(
        self, asset: str, keys: Sequence[str], columns: Sequence[str] | None = None
    ) -> pl.DataFrame:
        """The stored partitions of `keys` (at least one) as one frame, in their order.

        Locally polars decodes the files in parallel, each opened once as by `read`: a
        270-day indicator window in a third of the time of one `read` per key (RESULTS
        §21.2). At most OPEN_AT_ONCE files are open at a time."""
        if not self.is_local:
            return pl.concat([self.read(asset, key, columns) for key in keys])
        columns, frames = list(columns) if columns else None, []
        for first in range(0, len(keys), OPEN_AT_ONCE):
            with contextlib.ExitStack() as files:
                handles = [
                    files.enter_context(self._open_local(asset, key))
                    for key in keys[first : first + OPEN_AT_ONCE]
                ]
                frames.append(pl.read_parquet(handles, columns=columns))
        return pl.concat(frames)

    def _open_local(self, asset: str, key: str):
        # One open handle pins one version of the file: a lazy scan opens the path twice,
        # and a concurrent rename in between pairs one footer with other pages.
        try:
            return open(_local(self.path(asset, key)), "rb")
        except FileNotFoundError:
            raise self._missing(asset, key) from None

    def _missing(self, asset: str, key: str) -> MissingPartitionError:
        return MissingPartitionError(f"{asset}[{key}] was never written ({self.path(asset, key)})")

    def read_if_exists(self, asset: str, key: str) -> pl.DataFrame | None:
        try:
            return self.read(asset, key)
        except MissingPartitionError:
            return None

    def stored_keys(self, asset: str, keys: Sequence[str]) -> list[str]:
        """Those of `keys` that have a file (one listing, not one request per key)."""
        folder = self.root / asset
        try:
            present = {p.name.removesuffix(".parquet") for p in folder.iterdir()}
        except FileNotFoundError:
            return []
        return [k for k in keys if k in present]

    def write(self, asset: str, key: str, frame: pl.DataFrame) -> pl.DataFrame:
        """Conform `frame` to the folder's contract (SchemaViolation, naming table and column,
        writes nothing) and publish it whole or not at all: temp file + rename locally; one
        PUT remotely. Returns the frame written, for its metadata and checks.

        Remotely the file is encoded in memory first: a `path.open("wb")` upload publishes
        whatever was written when its block exits, also on an exception or a termination
        mid-file (measured on s3fs: a 0-byte object replaced a good partition). An object
        store's PUT replaces the object whole or leaves the previous one (s3fs sends files of
        100 MB and more as a multipart upload, which likewise publishes only when completed).
        """
        frame = table_of(asset).conform(frame)
        path = self.path(asset, key)
        if not self.is_local:
            buffer = io.BytesIO()
            frame.write_parquet(buffer, compression="zstd", statistics=True)
            path.fs.pipe_file(path.path, buffer.getvalue())
            return frame
        final = _local(path)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        tmp = f"{os.path.dirname(final)}/.{os.path.basename(final)}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as handle:
                frame.write_parquet(handle, compression="zstd", statistics=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return frame


class StoredPartitions(Mapping[str, pl.DataFrame]):
    """Partitions of one asset, read from the store when looked up (never all at once).

    What a step receives for an upstream asset: a range of 20 years costs nothing until the
    step asks for a chunk of days, so memory follows the chunk, not the range.
    """

    def __init__(
        self,
        store: PartitionStore,
        asset: str,
        keys: Sequence[str],
        on_read: Callable[[pl.DataFrame], None] | None = None,
    ):
        self.store, self.asset, self._keys = store, asset, list(keys)
        self._known = set(self._keys)
        self.on_read = on_read  # sees every frame read (run health counts its rows)

    def __getitem__(self, key: str) -> pl.DataFrame:
        if key not in self._known:
            raise KeyError(key)
        frame = self.store.read(self.asset, key)
        if self.on_read is not None:
            self.on_read(frame)
        return frame

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def stack(
        self, keys: Iterable[str | dt.date], columns: Sequence[str] | None = None
    ) -> pl.DataFrame:
        """The partitions of `keys` (keys or days) as one frame of the table's dtypes, typed
        even when there are none; only `columns`, when given (the others are not decoded)."""
        empty = table_of(self.asset).empty()
        columns = list(columns) if columns else empty.columns
        keys = [key if isinstance(key, str) else partition_key(key) for key in keys]
        for key in keys:
            if key not in self._known:
                raise KeyError(key)
        if not keys:
            return empty.select(columns)
        frame = self.store.read_many(self.asset, keys, columns)
        if self.on_read is not None:
            self.on_read(frame)
        return pl.concat([empty.select(columns), frame])


def table_of(folder: str) -> TableSchema:
    """The contract of a folder's files; a folder without one is refused (never written)."""
    try:
        return FOLDERS[folder]
    except KeyError:
        raise ValueError(f"no table contract for store folder {folder!r}") from None


def check_local_data_dir(path: str) -> None:
    """Refuse a data directory that is inside the package or cannot be written."""
    resolved = os.path.realpath(path)
    if os.path.commonpath([resolved, PACKAGE_DIR]) == PACKAGE_DIR:
        raise DataDirError(
            f"DATA_DIR={path!r} is inside the source tree ({PACKAGE_DIR}); "
            "point it outside the package, e.g. ./data"
        )
    existing = resolved
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.access(existing, os.W_OK | os.X_OK) or not os.path.isdir(existing):
        raise DataDirError(f"DATA_DIR={path!r} is not a writable directory ({existing})")


def _is_local(path: UPath) -> bool:
    return path.protocol in ("", "file", "local")


def _local(path: UPath) -> str:
    return os.fspath(path.path if hasattr(path, "path") else path)
