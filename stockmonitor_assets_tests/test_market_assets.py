"""Market-data assets wired through Dagster, on a crafted provider."""

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from stockmonitor_assets.assets import market
from stockmonitor_assets_tests.conftest import MARKET_ASSETS, failure_message
from stockmonitor_assets_tests.crafted_market import CraftedMarket, bars_frame, instruments_frame

D1, D2, D3 = dt.date(2024, 3, 4), dt.date(2024, 3, 5), dt.date(2024, 3, 6)


def bar(stock, day, close):
    return dict(
        order_book_id=stock,
        date=day,
        open=close,
        high=close,
        low=close,
        close=close,
        prev_close=close,
        volume=100.0,
        total_turnover=close * 100,
        limit_up=None,
        limit_down=None,
    )


def report(stock, period, announced, profit):
    return dict(
        order_book_id=stock,
        total_market_cap=1e9,
        float_market_cap=5e8,
        net_profit_ttm=profit,
        total_equity=2e8,
        revenue_ttm=1e9,
        report_period=period,
        announce_date=announced,
        source_pe_ttm=None,
        source_pb=None,
    )


@pytest.fixture
def crafted():
    reports = pl.DataFrame(
        [
            report("600000.XSHG", dt.date(2023, 12, 31), dt.date(2024, 3, 5), 2e7),
            report("600000.XSHG", dt.date(2023, 9, 30), dt.date(2023, 10, 28), 1e7),
        ]
    )
    return CraftedMarket(
        instruments_frame=instruments_frame(
            [
                {"order_book_id": "600000.XSHG", "listed_date": dt.date(2000, 1, 4)},
                {"order_book_id": "688001.XSHG", "listed_date": D2, "board": "star"},
            ]
        ),
        bars=bars_frame(
            [bar("600000.XSHG", d, 10.0 + i) for i, d in enumerate([D1, D2, D3])]
            + [bar("688001.XSHG", D3, 50.0)]
        ),
        reports=reports.cast({"report_period": pl.Date, "announce_date": pl.Date}),
    )


def test_fundamentals_are_point_in_time(pipeline_for, crafted):
    pipeline = pipeline_for(crafted)
    assert pipeline.materialize(
        [market.instruments, market.fundamentals], "2024-03-04", "2024-03-06"
    ).success
    profits = {
        k: pipeline.read("fundamentals", k)["net_profit_ttm"].to_list()
        for k in pipeline.keys("fundamentals")
    }
    # The annual report announced on 03-05 is invisible on 03-04.
    assert profits == {"2024-03-04": [1e7], "2024-03-05": [2e7], "2024-03-06": [2e7]}


def test_a_source_leaking_future_reports_is_rejected_and_nothing_is_written(pipeline_for, crafted):
    crafted.fundamentals_pit = lambda ids, day: crafted.reports.filter(
        pl.col("order_book_id").is_in(ids)
    )
    pipeline = pipeline_for(crafted)
    result = pipeline.materialize(
        [market.instruments, market.fundamentals], "2024-03-04", raise_on_error=False
    )
    assert not result.success
    assert "look-ahead" in failure_message(result)
    assert pipeline.keys("fundamentals") == []


def test_day_the_source_says_was_closed_fails_naming_it_and_writes_nothing(pipeline_for, crafted):
    crafted.closed_days = frozenset({D2})
    pipeline = pipeline_for(crafted)
    result = pipeline.materialize(MARKET_ASSETS, "2024-03-04", "2024-03-06", raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert "2024-03-05 is not a trading day for source 'crafted'" in message
    assert pipeline.keys("instruments") == [] and pipeline.keys("raw_ohlcv") == []


def test_range_run_writes_one_file_per_day_and_listing_starts_on_its_day(pipeline_for, crafted):
    pipeline = pipeline_for(crafted)
    result = pipeline.materialize(MARKET_ASSETS, "2024-03-04", "2024-03-06")
    assert result.success
    for asset in ("instruments", "raw_ohlcv", "completed_ohlcv", "fundamentals"):
        assert pipeline.keys(asset) == ["2024-03-04", "2024-03-05", "2024-03-06"]
    star = [
        pipeline.read("completed_ohlcv", k).filter(pl.col("order_book_id") == "688001.XSHG")
        for k in pipeline.keys("completed_ohlcv")
    ]
    assert [len(f) for f in star] == [0, 1, 1]
    # Listed on 03-05 but first traded on 03-06: no history, no price yet.
    assert star[1]["fill_reason"].to_list() == ["missing_row"]
    assert star[2]["close"].to_list() == [50.0]


def test_target_stocks_config_refreshes_only_those_stocks_and_rejects_bad_codes(
    pipeline_for, crafted
):
    pipeline = pipeline_for(crafted)
    assert pipeline.materialize(MARKET_ASSETS, "2024-03-06").success
    whole = pipeline.read("completed_ohlcv", "2024-03-06")
    targets = ["600000.SH"]
    config = dg.RunConfig(
        {
            a.key.to_user_string(): market.UniverseConfig(target_stocks=targets)
            for a in MARKET_ASSETS
        }
    )
    assert pipeline.materialize(MARKET_ASSETS, "2024-03-06", run_config=config).success
    after = pipeline.read("completed_ohlcv", "2024-03-06")
    assert after["order_book_id"].to_list() == whole["order_book_id"].to_list()
    with pytest.raises(Exception, match=r"bad stock code\(s\) \['XYZ'\]"):
        market.UniverseConfig(target_stocks=["XYZ"])
