"""The RQDatac response cache: one Parquet file per SDK call about published days.

Files live in `<cache_dir>/rqdatac/<function>/<digest>.parquet`, keyed by the call and its
normalized arguments. The cache never decides a day's fate: a file that cannot be read
(truncated by a full disk, damaged by hand) is deleted and the call made again, instead of
failing that day forever. Responses are licensed market data: folders are created 0700 and
files written 0600, through an unpredictable temp name (`mkstemp`) in the target folder,
renamed into place, so a planted symlink or a reader never sees a half-written file. Nor
does the cache decide a request's fate: a full or read-only cache logs a warning and the
fetched response is returned uncached (`stockmonitor validate` reports such a CACHE_DIR).
"""

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from stockmonitor_assets import settings

CACHE_VERSION = 1
PRIVATE_DIR = 0o700
logger = logging.getLogger(__name__)


def cache_path(cache_dir: Path, function: str, kwargs: dict[str, Any]) -> Path:
    """Where the response of `function(**kwargs)` is kept."""
    request = json.dumps(
        {"v": CACHE_VERSION, "function": function, "kwargs": kwargs}, sort_keys=True, default=str
    )
    digest = hashlib.sha256(request.encode()).hexdigest()[:32]
    return cache_dir / "rqdatac" / function / f"{digest}.parquet"


def read_cached(path: Path) -> pl.DataFrame | None:
    """The stored response, or None when there is none or it cannot be read (then removed)."""
    if not path.is_file():  # also when CACHE_DIR is unusable: a miss, not a damaged file
        return None
    try:
        return pl.read_parquet(path)
    except FileNotFoundError:
        return None
    except Exception as error:  # noqa: BLE001 - any unreadable file is a cache miss
        logger.warning("re-fetching: unreadable RQDatac cache file %s (%s)", path, error)
        with contextlib.suppress(OSError):  # nothing to remove where nothing can be written
            path.unlink(missing_ok=True)
        return None


def write_cached(frame: pl.DataFrame, path: Path, cache_dir: Path) -> bool:
    """Store `frame` at `path` atomically, in private folders below `cache_dir`; False, with
    a warning, when the cache cannot be written (full, read-only): the response was fetched,
    its quota spent, and the caller still gets it."""
    try:
        _write_atomically(frame, path, cache_dir)
    except (OSError, pl.exceptions.ComputeError) as error:  # polars: ENOSPC as ComputeError
        logger.warning(
            "RQDatac response not cached: %s cannot be written (%s); the data is used "
            "uncached, a rerun fetches it again (check %s)",
            path,
            error,
            settings.CACHE_DIR,
        )
        return False
    return True


def unwritable_reason(cache_dir: Path) -> str | None:
    """Why files cannot be created in `cache_dir` (None: they can). Tried by writing, as
    root's permission checks pass on a read-only or full filesystem."""
    existing = cache_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    try:
        with tempfile.TemporaryFile(dir=existing) as probe:
            probe.write(b"\0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        return f"{existing}: {error.strerror or error}"
    return None


def _write_atomically(frame: pl.DataFrame, path: Path, cache_dir: Path) -> None:
    make_private_dirs(cache_dir, path.parent)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            frame.write_parquet(out)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def make_private_dirs(root: Path, folder: Path) -> None:
    """Create `root` and `folder` below it, each missing level with mode 0700.

    `Path.mkdir(parents=True, mode=...)` applies the mode to the last level only. The
    `rqdatac` folder, ours alone, is tightened even if an older version created it open.
    """
    root.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    level = root
    for part in folder.relative_to(root).parts:
        level = level / part
        level.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    ours = root / "rqdatac"
    if ours.stat().st_mode & 0o077:
        ours.chmod(PRIVATE_DIR)
