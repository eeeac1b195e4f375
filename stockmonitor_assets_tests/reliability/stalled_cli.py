"""The `dagster` CLI, with Parquet writes that can be held mid-file (crash and race tests).

With RELIABILITY_STALL_ASSET=<asset> set, the first Parquet file written for `<asset>`
(a local file, an object-store handle or the in-memory buffer of an object-store write)
gets half of its bytes, flushed, and then the writer waits:
- with RELIABILITY_BARRIER_DIR set, until RELIABILITY_BARRIER_PARTIES processes (default 2)
  have reached the same point, then writes the rest (two writers overlapping for sure);
- otherwise it touches RELIABILITY_SIGNAL and sleeps until the test kills the process.

Usage: python -m stockmonitor_assets_tests.reliability.stalled_cli asset materialize ...
"""

import io
import os
import runpy
import sys
import time

import polars as pl

from stockmonitor_assets.storage import PartitionStore

_write_parquet = pl.DataFrame.write_parquet
_store_write = PartitionStore.write
_state = {"stalled": False, "asset": None}


def _noting_store_write(self: PartitionStore, asset: str, key: str, frame: pl.DataFrame):
    """Which asset the store is writing: an in-memory buffer or an S3 handle has no path."""
    _state["asset"] = asset
    try:
        return _store_write(self, asset, key, frame)
    finally:
        _state["asset"] = None


def _stalling_write_parquet(self: pl.DataFrame, file, *args, **kwargs):
    if _state["stalled"] or _state["asset"] != os.environ["RELIABILITY_STALL_ASSET"]:
        return _write_parquet(self, file, *args, **kwargs)
    _state["stalled"] = True
    buffer = io.BytesIO()
    _write_parquet(self, buffer, *args, **kwargs)
    data = buffer.getvalue()
    handle = file if hasattr(file, "write") else open(os.fspath(file), "wb")
    handle.write(data[: len(data) // 2])
    handle.flush()
    if isinstance(handle, io.FileIO | io.BufferedWriter):
        os.fsync(handle.fileno())
    _wait()
    handle.write(data[len(data) // 2 :])
    if handle is not file:
        handle.close()


def _wait() -> None:
    barrier = os.environ.get("RELIABILITY_BARRIER_DIR")
    if barrier is None:
        open(os.environ["RELIABILITY_SIGNAL"], "w").close()
        time.sleep(600)
        return
    open(os.path.join(barrier, str(os.getpid())), "w").close()
    parties = int(os.environ.get("RELIABILITY_BARRIER_PARTIES", "2"))
    deadline = time.monotonic() + 120
    while len(os.listdir(barrier)) < parties and time.monotonic() < deadline:
        time.sleep(0.05)


if __name__ == "__main__":
    if os.environ.get("RELIABILITY_STALL_ASSET"):
        pl.DataFrame.write_parquet = _stalling_write_parquet
        PartitionStore.write = _noting_store_write
    sys.argv[0] = "dagster"
    runpy.run_module("dagster", run_name="__main__", alter_sys=True)  # = `python -m dagster`
