"""Switching to the `files` source: exported demo data materializes to the same partitions."""

import datetime as dt
import shutil

from polars.testing import assert_frame_equal

from stockmonitor_assets.resources import MarketDataResource
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets.sources.files import export_to_files
from stockmonitor_assets_tests.conftest import DEMO_CACHE, MARKET_ASSETS

DAYS = ["2024-06-03", "2024-06-04", "2024-06-05", "2024-06-06", "2024-06-07"]


def test_demo_exported_to_files_materializes_identical_completed_bars(pipeline_for, tmp_path):
    demo = DemoMarket(cache_dir=DEMO_CACHE, seed=11, universe_size=80)
    from_demo = pipeline_for(demo, "demo")
    assert from_demo.materialize(MARKET_ASSETS, DAYS[0], DAYS[-1]).success

    exported = export_to_files(
        demo, None, dt.date(2024, 6, 3), dt.date(2024, 6, 7), tmp_path / "export"
    )
    from_files = pipeline_for(MarketDataResource(source="files", files_dir=str(exported)), "files")
    # Both stores start from the same carried state: the first day's completed bars.
    seed = from_files.data_dir / "completed_ohlcv"
    seed.mkdir(parents=True)
    shutil.copy(from_demo.data_dir / "completed_ohlcv" / f"{DAYS[0]}.parquet", seed)

    assert from_files.materialize(MARKET_ASSETS, DAYS[1], DAYS[-1]).success
    for key in DAYS[1:]:
        for asset in ("instruments", "raw_ohlcv", "completed_ohlcv", "fundamentals"):
            assert_frame_equal(from_files.read(asset, key), from_demo.read(asset, key))
