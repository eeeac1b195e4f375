"""Crash safety: a run killed (SIGKILL) in the middle of writing a partition loses nothing.

The IO manager writes each partition to a temporary file and renames it into place, so a
kill mid-write leaves the previous complete file, or no file: never a truncated Parquet a
later run would read. The next run succeeds and writes exactly what an uninterrupted run
writes. The kill lands deterministically: `stalled_cli` holds the write of `completed_ohlcv`
after half of its bytes are on disk.
"""

import pytest

from stockmonitor_assets_tests.conftest import MARKET_ASSETS
from stockmonitor_assets_tests.reliability.conftest import (
    MARKET_SELECTION,
    demo_market,
    snapshot,
    unreadable_parquet,
    wait_for_file,
)

pytestmark = pytest.mark.reliability

DAY = "2024-06-12"
TARGET = f"completed_ohlcv/{DAY}.parquet"


def _kill_mid_write(cli, data_dir, tmp_path, partition=DAY):
    signal = tmp_path / "stalled"
    process = cli.start(
        cli.materialize_args(MARKET_SELECTION, partition),
        data_dir,
        stalled=True,
        RELIABILITY_STALL_ASSET="completed_ohlcv",
        RELIABILITY_SIGNAL=str(signal),
    )
    wait_for_file(signal, process)
    process.kill()
    process.wait()
    signal.unlink()


def test_kill_during_first_write_leaves_no_file_and_rerun_equals_uninterrupted_run(
    cli, pipeline_for, tmp_path
):
    reference = pipeline_for(demo_market(), "reference")
    assert reference.materialize(MARKET_ASSETS, DAY).success
    data_dir = tmp_path / "data"

    _kill_mid_write(cli, data_dir, tmp_path)
    assert not (data_dir / TARGET).exists()
    assert unreadable_parquet(data_dir) == []

    rerun = cli.run(cli.materialize_args(MARKET_SELECTION, DAY), data_dir)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert snapshot(data_dir) == snapshot(reference.data_dir)


def test_kill_during_rewrite_keeps_the_previous_complete_file(cli, pipeline_for, tmp_path):
    previous = pipeline_for(demo_market())
    assert previous.materialize(MARKET_ASSETS, DAY).success
    data_dir = previous.data_dir
    before = snapshot(data_dir)

    _kill_mid_write(cli, data_dir, tmp_path)
    assert snapshot(data_dir) == before
    assert unreadable_parquet(data_dir) == []
