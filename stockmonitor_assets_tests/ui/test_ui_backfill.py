"""A backfill launched the way the Dagster UI launches it (`launchPartitionBackfill` through
the webserver's GraphQL API, planned by the daemon of `dagster dev`) equals a CLI range: one
run, exactly the selected partitions written, nothing outside the range, downstream never
older than what it was computed from."""

import time
from pathlib import Path

import pytest

from stockmonitor_testkit.dagster_dev import (
    BACKFILL_DONE,
    backfill_status,
    dagster_dev,
    launch_ui_backfill,
)

pytestmark = pytest.mark.slow

ASSETS = [
    "instruments",
    "raw_ohlcv",
    "completed_ohlcv",
    "fundamentals",
    "technical_indicators",
    "fundamental_indicators",
    "merged",
    "scores",
    "qlib_provider",
]
DAYS = ["2026-10-26", "2026-10-27", "2026-10-28", "2026-10-29", "2026-10-30"]
# Upstream -> downstream edges whose files must be written in this order.
EDGES = [
    ("instruments", "raw_ohlcv"),
    ("raw_ohlcv", "completed_ohlcv"),
    ("completed_ohlcv", "technical_indicators"),
    ("fundamentals", "fundamental_indicators"),
    ("technical_indicators", "merged"),
    ("fundamental_indicators", "merged"),
    ("merged", "scores"),
]


def wait_for_backfill(server, backfill_id: str, timeout: float = 240) -> tuple[str, list]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, runs = backfill_status(server, backfill_id)
        if status in BACKFILL_DONE:
            return status, runs
        time.sleep(2)
    raise AssertionError(f"backfill {backfill_id} not done after {timeout} s")


def written(data_dir: Path, asset: str) -> dict[str, float]:
    return {p.stem: p.stat().st_mtime for p in (data_dir / asset).glob("*.parquet")}


def test_ui_backfill_of_every_asset_is_one_run_over_exactly_the_range(tmp_path):
    data_dir = tmp_path / "data"
    env = {"DATA_DIR": str(data_dir), "STOCKMONITOR_UNIVERSE_SIZE": "60"}
    with dagster_dev(tmp_path / "repo", env) as server:
        backfill = launch_ui_backfill(server, ASSETS, DAYS)
        status, runs = wait_for_backfill(server, backfill)

    assert status.startswith("COMPLETED") and status != "COMPLETED_FAILED", status
    assert len(runs) == 1, f"{len(runs)} runs: {runs}"
    assert runs[0]["status"] == "SUCCESS"
    for asset in ASSETS[:-1]:  # every Parquet asset (qlib_provider writes one directory)
        assert sorted(written(data_dir, asset)) == DAYS, asset
    for upstream, downstream in EDGES:
        up, down = written(data_dir, upstream), written(data_dir, downstream)
        stale = [day for day in DAYS if down[day] < up[day]]
        assert not stale, f"{downstream} older than {upstream} on {stale}"
