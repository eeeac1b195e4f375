"""Market-data assets on the demo market: range runs equal daily runs; re-runs are identical."""

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets_tests.conftest import DEMO_CACHE, MARKET_ASSETS, failure_message

FIRST, LAST = "2024-06-05", "2024-06-13"


@pytest.fixture(scope="module")
def demo():
    return DemoMarket(cache_dir=DEMO_CACHE, seed=7, universe_size=120)


def test_range_run_equals_day_by_day_runs(pipeline_for, demo, instance):
    ranged = pipeline_for(demo, "ranged")
    daily = pipeline_for(demo, "daily")
    result = ranged.materialize(MARKET_ASSETS, FIRST, LAST)
    assert result.success
    assert len(instance.get_runs()) == 1
    keys = ranged.keys("completed_ohlcv")
    assert len(keys) == 6 and "2024-06-10" not in keys and keys[0] == FIRST and keys[-1] == LAST
    for key in keys:
        assert daily.materialize(MARKET_ASSETS, key).success
    for asset in ("instruments", "raw_ohlcv", "completed_ohlcv", "fundamentals"):
        assert daily.keys(asset) == keys
        for key in keys:
            assert_frame_equal(ranged.read(asset, key), daily.read(asset, key))


def test_completed_grid_has_every_listed_stock_once_with_fills(pipeline_for, demo):
    pipeline = pipeline_for(demo)
    assert pipeline.materialize(MARKET_ASSETS, FIRST, LAST).success
    for key in pipeline.keys("completed_ohlcv"):
        completed = pipeline.read("completed_ohlcv", key)
        universe = pipeline.read("instruments", key)
        assert completed["order_book_id"].to_list() == universe["order_book_id"].sort().to_list()
        assert completed.filter(pl.col("close").is_null()).is_empty()
    every = pl.concat(pipeline.read("completed_ohlcv", k) for k in pipeline.keys("completed_ohlcv"))
    reasons = set(every["fill_reason"].drop_nulls().to_list())
    assert "suspended" in reasons


def test_rematerializing_a_partition_gives_identical_parquet(pipeline_for, demo):
    pipeline = pipeline_for(demo)
    assert pipeline.materialize(MARKET_ASSETS, FIRST, LAST).success
    paths = {
        a: pipeline.data_dir / a / "2024-06-11.parquet"
        for a in ("instruments", "raw_ohlcv", "completed_ohlcv", "fundamentals")
    }
    before = {a: p.read_bytes() for a, p in paths.items()}
    assert pipeline.materialize(MARKET_ASSETS, "2024-06-11").success
    assert {a: p.read_bytes() for a, p in paths.items()} == before


def test_bad_target_stock_fails_before_anything_is_written(pipeline_for, demo):
    pipeline = pipeline_for(demo)
    result = pipeline.materialize(
        MARKET_ASSETS,
        FIRST,
        run_config={"ops": {"instruments": {"config": {"target_stocks": ["XYZ"]}}}},
        raise_on_error=False,
    )
    assert not result.success
    assert "bad stock code(s) ['XYZ']" in failure_message(result)
    assert not pipeline.data_dir.exists()
