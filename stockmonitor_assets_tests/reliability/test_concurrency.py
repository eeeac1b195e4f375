"""Concurrency: runs started together never corrupt a partition.

Two runs of the same partition are made to overlap for certain: `stalled_cli` holds each
one's write of `completed_ohlcv` after half its bytes until both have reached that point.
They disagree (universes of 30 and 40 stocks, as after a source correction), so a torn
file would not read back. Each writer has its own temporary file and renames it into
place: the last writer wins with a complete file. Runs over disjoint ranges proceed in parallel and
write exactly what one run over the union writes.
"""

import polars as pl
import pytest

from stockmonitor_assets.schemas import TABLES
from stockmonitor_assets_tests.reliability.conftest import (
    ALL_ASSETS,
    MARKET_SELECTION,
    demo_pipeline,
    snapshot,
    unreadable_parquet,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

DAY = "2024-06-12"
TARGET = f"completed_ohlcv/{DAY}.parquet"


def _finish(process) -> str:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-3000:]
    return output


def test_two_runs_of_one_partition_overlapping_mid_write_leave_one_complete_file(cli, tmp_path):
    data_dir, barrier = tmp_path / "data", tmp_path / "barrier"
    barrier.mkdir()
    racing = [
        cli.start(
            cli.materialize_args(MARKET_SELECTION, DAY),
            data_dir,
            stalled=True,
            STOCKMONITOR_UNIVERSE_SIZE=size,
            RELIABILITY_STALL_ASSET="completed_ohlcv",
            RELIABILITY_BARRIER_DIR=str(barrier),
        )
        for size in ("30", "40")
    ]
    for process in racing:
        _finish(process)
    assert len(list(barrier.iterdir())) == 2  # both writes really were in flight together
    assert unreadable_parquet(data_dir) == []
    completed = pl.read_parquet(data_dir / TARGET)
    assert len(completed) > 0 and not completed["order_book_id"].is_duplicated().any()


def test_backfills_of_disjoint_ranges_run_in_parallel_and_equal_one_run(
    cli, pipeline_for, tmp_path
):
    union = demo_pipeline(pipeline_for, "union")
    assert union.materialize(ALL_ASSETS, "2024-06-03", "2024-06-06").success
    data_dir = tmp_path / "data"
    ranges = ("2024-06-03...2024-06-04", "2024-06-05...2024-06-06")
    # The Parquet assets: the qlib directory grows in date order only (docs/qlib.md).
    parquet = ",".join(
        a.key.to_user_string() for a in ALL_ASSETS if a.key.to_user_string() in TABLES
    )
    running = [cli.start(cli.materialize_args(parquet, r), data_dir) for r in ranges]
    for process in running:
        _finish(process)
    assert unreadable_parquet(data_dir) == []
    assert snapshot(data_dir).keys() == snapshot(union.data_dir).keys()
    assert snapshot(data_dir) == snapshot(union.data_dir)
