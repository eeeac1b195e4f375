"""On-disk cache of the demo market's simulated years, shared by every process.

Simulating a year needs the end state of the previous one, so without this cache the first
request of a process for a 2025 day re-simulates every year since the 2005 epoch (a few
years in memory at a time; see bench/RESULTS.md for the cost). Files are keyed by
everything a year depends on: SIMULATION_VERSION (bump it on any change of `demo_universe`
or `demo_simulation` that changes a number), the seed, the universe size, the year, and a
digest of the calendar from the epoch through that year (holiday lists beyond the recorded
years may change it). Arrays round-trip exactly, so a loaded year equals a simulated one
bit for bit; a file that cannot be read is ignored and the year simulated again. Writes
are atomic (temp file + rename), so concurrent processes at worst both simulate the same
year.

Location: the directory the demo source is given (`settings_resource.Settings.demo_cache_dir`:
`$CACHE_DIR/demo/`, else `$XDG_CACHE_HOME/stockmonitor/demo/`, default
`~/.cache/stockmonitor/demo/`); none given, nothing is kept on disk.
"""

import hashlib
import logging
import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SIMULATION_VERSION = 2

log = logging.getLogger(__name__)


def cache_path(
    directory: Path, seed: int, size: int, year: int, calendar: list[np.ndarray]
) -> Path:
    """The file of one simulated year; `calendar` is the session ordinals per year through it."""
    digest = hashlib.sha256(np.concatenate(calendar).astype("<i8").tobytes()).hexdigest()[:16]
    return directory / f"v{SIMULATION_VERSION}-seed{seed}-n{size}-{year}-{digest}.npz"


def load_arrays(
    path: Path | None, names: Sequence[str] | None = None
) -> dict[str, np.ndarray] | None:
    """The read-only arrays stored at `path` (only `names`, when given: an .npz member is read
    on access, so a year's small arrays load without its matrices), or None when absent,
    unreadable or not kept (`path` None)."""
    if path is None:
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in (names or stored.files)}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        log.warning("ignoring unreadable demo cache file %s: %s", path, error)
        return None
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


def store_arrays(path: Path | None, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` atomically (not at all: `path` None); a failed write only costs a
    later re-simulation."""
    if path is None:
        return
    temp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as out:
            temp = Path(out.name)
            np.savez(out, **arrays)
        os.replace(temp, path)
    except OSError as error:
        log.warning("could not write demo cache file %s: %s", path, error)
        if temp is not None:
            temp.unlink(missing_ok=True)
