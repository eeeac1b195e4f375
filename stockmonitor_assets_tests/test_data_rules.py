"""Failure isolation (docs/data-rules.md): an impossible stock-day in a 60-day range run is
withheld and reported, every other day is merged and scored, and a rerun of the affected
day after the fix completes it. Checks run inside their asset's step, one verdict per run."""

import datetime as dt
import functools

import dagster as dg
import polars as pl
import pytest

from stockmonitor_assets.assets.scoring import ATTENTION_TAG
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets.trading_calendar import partition_key, sessions
from stockmonitor_assets.transforms import completion, technical
from stockmonitor_assets_tests.clean_run import ASSETS
from stockmonitor_assets_tests.conftest import DEMO_CACHE, Pipeline

DAYS = sessions(dt.date(2024, 3, 1), dt.date(2024, 6, 30))[:60]
BAD_OHLC_DAY, BAD_RSI_DAY = DAYS[20], DAYS[41]
REBUILT = ["completed_ohlcv", "technical_indicators", "merged", "scores"]


def _first_traded(frame: pl.DataFrame) -> str:
    return frame.filter(~pl.col("is_filled"))["order_book_id"].sort()[0]


def _high_below_low(complete_day):
    """complete_day, but one traded stock of BAD_OHLC_DAY gets high < low."""

    @functools.wraps(complete_day)
    def broken(day, *args):
        frame = complete_day(day, *args)
        if day != BAD_OHLC_DAY:
            return frame
        victim = pl.col("order_book_id") == _first_traded(frame)
        return frame.with_columns(high=pl.when(victim).then(pl.col("low") - 1).otherwise("high"))

    return broken


def _rsi_above_100(compute):
    """compute_technical_indicators, but one stock's RSI on BAD_RSI_DAY is 101."""

    @functools.wraps(compute)
    def broken(history, target_dates, *args, **kwargs):
        values = compute(history, target_dates, *args, **kwargs)
        on_day = (pl.col("date") == BAD_RSI_DAY) & pl.col("rsi_14").is_not_null()
        victim = values.filter(on_day)["order_book_id"].sort()
        if victim.is_empty():
            return values
        hit = on_day & (pl.col("order_book_id") == victim[0])
        return values.with_columns(rsi_14=pl.when(hit).then(101.0).otherwise("rsi_14"))

    return broken


@pytest.fixture(scope="module")
def broken_range(tmp_path_factory):
    """The whole graph over 60 days, with one impossible stock-day on two of the days."""
    instance = dg.DagsterInstance.ephemeral()
    pipeline = Pipeline(
        tmp_path_factory.mktemp("isolation"),
        DemoMarket(cache_dir=DEMO_CACHE, seed=11, universe_size=40),
        instance,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(completion, "complete_day", _high_below_low(completion.complete_day))
        patch.setattr(
            technical,
            "compute_technical_indicators",
            _rsi_above_100(technical.compute_technical_indicators),
        )
        result = pipeline.materialize(ASSETS, partition_key(DAYS[0]), partition_key(DAYS[-1]))
    return pipeline, result


def _withheld(pipeline: Pipeline, day: dt.date) -> pl.DataFrame:
    merged = pipeline.read("merged", partition_key(day))
    return merged.filter(pl.col("withheld_reason").is_not_null())


def test_one_bad_stock_day_never_blocks_the_range(broken_range):
    pipeline, result = broken_range
    assert result.success
    assert pipeline.keys("scores") == [partition_key(d) for d in DAYS]
    withheld = {d: _withheld(pipeline, d) for d in DAYS}
    assert {d for d, rows in withheld.items() if len(rows)} == {BAD_OHLC_DAY, BAD_RSI_DAY}
    assert withheld[BAD_OHLC_DAY]["withheld_reason"].to_list() == ["max(open, close) <= high"]
    assert withheld[BAD_RSI_DAY]["withheld_reason"].to_list() == ["rsi_14 <= 100"]
    for day in (BAD_OHLC_DAY, BAD_RSI_DAY):
        (stock,) = withheld[day]["order_book_id"]
        scores = pipeline.read("scores", partition_key(day))
        row = scores.filter(pl.col("order_book_id") == stock).row(0, named=True)
        assert row["is_eligible"] is False and row["ineligible_reason"] == "data_defect"
        assert row["score"] is None
        assert scores["score"].drop_nulls().len() > 20  # the rest of the day is ranked


def test_the_run_reports_what_was_withheld(broken_range):
    pipeline, result = broken_range
    (check,) = [e for e in result.get_asset_check_evaluations() if e.asset_key.path == ["merged"]]
    assert check.check_name == "withheld_stock_days" and not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["failing_partitions"].value == [
        partition_key(BAD_OHLC_DAY),
        partition_key(BAD_RSI_DAY),
    ]
    assert check.metadata["partitions_checked"].value == 60
    run = pipeline.instance.get_run_by_id(result.run_id)
    for day in (BAD_OHLC_DAY, BAD_RSI_DAY):
        assert partition_key(day) in run.tags[ATTENTION_TAG]


def test_rerun_of_an_affected_day_after_the_fix_completes_it(broken_range):
    pipeline, _ = broken_range
    (stock,) = _withheld(pipeline, BAD_OHLC_DAY)["order_book_id"]
    rerun = pipeline.materialize(
        ASSETS, partition_key(BAD_OHLC_DAY), selection=dg.AssetSelection.assets(*REBUILT)
    )
    assert rerun.success
    assert _withheld(pipeline, BAD_OHLC_DAY).is_empty()
    scores = pipeline.read("scores", partition_key(BAD_OHLC_DAY))
    reason = scores.filter(pl.col("order_book_id") == stock)["ineligible_reason"][0]
    assert reason != "data_defect"
    (check,) = [e for e in rerun.get_asset_check_evaluations() if e.asset_key.path == ["merged"]]
    assert check.passed


def test_clean_range_passes_every_check_with_one_verdict_each(tmp_path):
    demo = DemoMarket(cache_dir=DEMO_CACHE, seed=7, universe_size=40)
    pipeline = Pipeline(tmp_path, demo, dg.DagsterInstance.ephemeral())
    result = pipeline.materialize(ASSETS, partition_key(DAYS[0]), partition_key(DAYS[4]))
    evaluations = result.get_asset_check_evaluations()
    names = sorted((e.asset_key.to_user_string(), e.check_name) for e in evaluations)
    assert names == [
        ("completed_ohlcv", "completion"),
        ("fundamental_indicators", "source_ratios"),
        ("merged", "withheld_stock_days"),
    ]
    assert all(e.passed for e in evaluations), [e.description for e in evaluations]
    assert all(e.partition is None for e in evaluations)
