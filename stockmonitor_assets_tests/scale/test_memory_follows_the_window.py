"""Memory follows the chunk and the indicator window, not the range (issue 14): a range run
4x longer peaks at about the same RSS (while the same run computed in one piece grows, which
shows the measurement can tell), and a range's outputs equal day-by-day runs."""

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stockmonitor_testkit.operator_settings import HISTORY_LOAD

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("range_run.py")
ASSETS = ["completed_ohlcv", "technical_indicators", "merged", "scores"]
SHORT = ("2022-01-04", "2022-03-02")  # 40 sessions
LONG = ("2022-01-04", "2022-08-31")  # 160 sessions


def run(firsts: str, lasts: str, data_dir: Path, chunk_days: int = 20) -> int:
    """Peak RSS (KiB) of a fresh process materializing the ranges into `data_dir`, as a
    history is loaded (one-off, no daemon: HISTORY_LOAD's one planned event per asset)."""
    out = data_dir.with_suffix(".rss")
    settings = {
        "DATA_DIR": str(data_dir),
        "STOCKMONITOR_UNIVERSE_SIZE": "300",
        "STOCKMONITOR_CHUNK_DAYS": str(chunk_days),
        "STOCKMONITOR_LOOKBACK_DAYS": "60",
    }
    env = {**os.environ, **HISTORY_LOAD, **settings}
    subprocess.run([sys.executable, SCRIPT, firsts, lasts, out], env=env, check=True)
    return int(out.read_text())


def test_a_four_times_longer_range_peaks_at_the_same_memory(tmp_path):
    short = run(*SHORT, tmp_path / "short")
    long = run(*LONG, tmp_path / "long")
    whole = run(*LONG, tmp_path / "whole", chunk_days=10_000)
    assert long < short * 1.10, f"peak {short} KiB over 40 days, {long} KiB over 160"
    assert whole > long * 1.10, f"unchunked {whole} KiB vs chunked {long} KiB: insensitive"


def test_range_outputs_equal_day_by_day_runs(tmp_path):
    days = ["2023-03-27", "2023-03-28", "2023-03-29", "2023-03-30", "2023-03-31"]
    run(days[0], days[-1], tmp_path / "range", chunk_days=2)
    run(",".join(days), ",".join(days), tmp_path / "daily")
    for asset in ASSETS:
        for day in days:
            ranged = pl.read_parquet(tmp_path / "range" / asset / f"{day}.parquet")
            daily = pl.read_parquet(tmp_path / "daily" / asset / f"{day}.parquet")
            assert_frame_equal(ranged, daily, check_exact=True)
