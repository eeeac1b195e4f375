"""A subset sync (`target_stocks`) refreshes only its stocks' rows inside each stored day:
every other stock's rows of every touched partition stay identical, and a day never synced
whole is refused before anything is written."""

import shutil

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stockmonitor_assets.assets import market
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets_tests.conftest import DEMO_CACHE, Pipeline, failure_message

SYNC = [market.instruments, market.raw_ohlcv, market.completed_ohlcv, market.fundamentals]
NAMES = [a.key.to_user_string() for a in SYNC]
FIRST, LAST = "2024-06-03", "2024-06-05"
DAYS = ["2024-06-03", "2024-06-04", "2024-06-05"]


def subset_config(targets: list[str]) -> dict:
    return {"ops": {name: {"config": {"target_stocks": targets}} for name in NAMES}}


@pytest.fixture
def synced(tmp_path, instance) -> Pipeline:
    pipeline = Pipeline(
        tmp_path / "data", DemoMarket(cache_dir=DEMO_CACHE, seed=5, universe_size=40), instance
    )
    assert pipeline.materialize(SYNC, FIRST, LAST).success
    return pipeline


def test_a_subset_sync_keeps_every_other_stocks_rows_identical(synced, tmp_path):
    before = tmp_path / "before"
    shutil.copytree(synced.data_dir, before)
    targets = synced.read("instruments", DAYS[0])["order_book_id"].sort().to_list()[3:5]
    result = synced.materialize(SYNC, FIRST, LAST, run_config=subset_config(targets))
    assert result.success
    others = ~pl.col("order_book_id").is_in(targets)
    for name in NAMES:
        for day in DAYS:
            old = pl.read_parquet(before / name / f"{day}.parquet")
            new = synced.read(name, day)
            assert_frame_equal(new.filter(others), old.filter(others), check_exact=True)
            assert set(new.filter(~others)["order_book_id"]) == set(targets), (name, day)
            assert len(new) == len(old), (name, day)


def test_a_subset_sync_of_days_never_synced_whole_is_refused(synced):
    targets = synced.read("instruments", DAYS[0])["order_book_id"].sort().to_list()[:1]
    result = synced.materialize(
        SYNC, "2024-06-06", "2024-06-07", run_config=subset_config(targets), raise_on_error=False
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.message
    assert "never synced for the whole universe (2024-06-06..2024-06-07)" in failure
    assert not (synced.data_dir / "instruments" / "2024-06-06.parquet").exists()
    assert not result.get_asset_materialization_events()


def test_a_malformed_target_fails_naming_it_and_writes_nothing(synced, tmp_path):
    before = {p: p.stat().st_mtime for p in synced.data_dir.rglob("*.parquet")}
    result = synced.materialize(
        SYNC, FIRST, run_config=subset_config(["600000.XS"]), raise_on_error=False
    )
    assert not result.success
    assert "600000.XS" in failure_message(result)
    assert {p: p.stat().st_mtime for p in synced.data_dir.rglob("*.parquet")} == before
