"""The RQDatac response cache: one Parquet file per SDK call about published days.

Files live in `<cache_dir>/rqdatac/<function>/<digest>.parquet`, keyed by the call and its
normalized arguments. The cache never decides a day's fate: a file that cannot be read
(truncated by a full disk, damaged by hand) is deleted and the call made again, instead of
failing that day forever. Responses are licensed market data: folders are created 0700 and
files written 0600, through an unpredictable temp name (`mkstemp`) in the target folder,
renamed into place, so a planted symlink or a reader never sees a half-written file.
"""

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

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
    try:
        return pl.read_parquet(path)
    except FileNotFoundError:
        return None
    except Exception as error:  # noqa: BLE001 - any unreadable file is a cache miss
        logger.warning("re-fetching: unreadable RQDatac cache file %s (%s)", path, error)
        path.unlink(missing_ok=True)
        return None


def write_cached(frame: pl.DataFrame, path: Path, cache_dir: Path) -> None:
    """Store `frame` at `path` atomically, in private folders below `cache_dir`."""
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
