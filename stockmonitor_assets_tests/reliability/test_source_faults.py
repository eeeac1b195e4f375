"""Source faults: transient errors are retried to the same output; garbage is refused.

A provider failing transiently on every k-th call still yields byte-identical partitions
(the resource retries each failed call with backoff: `sources.retry.RetryingSource`);
authentication errors fail at once; a provider returning garbage is stopped at the
boundary (`transforms.bars.validate_source_bars`, the point-in-time check) with a message
naming the defect, and no bar partition is written.
"""

import datetime as dt

import polars as pl
import pytest

from stockmonitor_assets.sources.base import AuthenticationError, TransientSourceError
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets_tests.conftest import MARKET_ASSETS, failure_message
from stockmonitor_assets_tests.reliability.conftest import (
    DEMO_SEED,
    UNIVERSE_SIZE,
    demo_market,
    snapshot,
)

pytestmark = pytest.mark.reliability

FIRST, LAST = "2024-06-11", "2024-06-13"
DATA_METHODS = ("trading_days", "instruments", "daily_bars", "ex_factors", "fundamentals_pit")


class FaultyDemo:
    """Patches DemoMarket so that chosen calls raise `error` (counted across all methods)."""

    def __init__(self, monkeypatch, fails, error=TransientSourceError):
        self.calls, self.failures, self._fails, self._error = [], 0, fails, error
        for name in DATA_METHODS:
            monkeypatch.setattr(DemoMarket, name, self._wrap(name, getattr(DemoMarket, name)))

    def _wrap(self, name, method):
        def call(source, *args):
            self.calls.append(name)
            if self._fails(len(self.calls), name):
                self.failures += 1
                raise self._error(f"demo {name}: injected fault #{self.failures}")
            return method(source, *args)

        return call


def test_source_failing_every_third_call_completes_with_identical_partitions(
    pipeline_for, monkeypatch
):
    clean = pipeline_for(demo_market(), "clean")
    assert clean.materialize(MARKET_ASSETS, FIRST, LAST).success
    faulty = FaultyDemo(monkeypatch, fails=lambda n, _: n % 3 == 0)
    flaky = pipeline_for(demo_market(), "flaky")
    assert flaky.materialize(MARKET_ASSETS, FIRST, LAST).success
    assert faulty.failures >= 3
    assert snapshot(flaky.data_dir) == snapshot(clean.data_dir)


def test_source_that_stays_down_fails_the_run_naming_the_call_and_writes_no_bars(
    pipeline_for, monkeypatch
):
    faulty = FaultyDemo(monkeypatch, fails=lambda _, name: name == "daily_bars")
    pipeline = pipeline_for(demo_market())
    result = pipeline.materialize(MARKET_ASSETS, FIRST, LAST, raise_on_error=False)
    assert not result.success
    assert "demo daily_bars: injected fault" in failure_message(result)
    assert faulty.calls.count("daily_bars") > 1  # retried before giving up
    assert not list(pipeline.data_dir.glob("raw_ohlcv/*.parquet"))


def test_authentication_error_fails_at_once_without_retries(pipeline_for, monkeypatch):
    faulty = FaultyDemo(
        monkeypatch, fails=lambda _, name: name == "daily_bars", error=AuthenticationError
    )
    result = pipeline_for(demo_market()).materialize(MARKET_ASSETS, FIRST, raise_on_error=False)
    assert not result.success
    assert "AuthenticationError" in failure_message(result)
    assert faulty.calls.count("daily_bars") == 1


class GarbageDemo(DemoMarket):
    """The demo market with one of its answers damaged by `damage`."""

    def __init__(self, bars=None, reports=None):
        super().__init__(seed=DEMO_SEED, universe_size=UNIVERSE_SIZE)
        self._bars, self._reports = bars, reports

    def daily_bars(self, ids, start, end):
        bars = super().daily_bars(ids, start, end)
        return self._bars(bars) if self._bars else bars

    def fundamentals_pit(self, ids, day):
        reports = super().fundamentals_pit(ids, day)
        return self._reports(reports) if self._reports else reports


def _first_row(column: str, value) -> pl.Expr:
    return pl.when(pl.int_range(pl.len()) == 0).then(value).otherwise(pl.col(column))


GARBAGE_BARS = {
    "wrong_dtype": (
        lambda b: b.with_columns(close=_first_row("close", pl.lit("n/a")).cast(pl.String)),
        "cannot cast to contract dtypes",
    ),
    "missing_column": (lambda b: b.drop("volume"), "missing column(s) ['volume']"),
    "negative_price": (
        lambda b: b.with_columns(low=_first_row("low", pl.lit(-1.0))),
        "negative prices or volume",
    ),
    "duplicated_rows": (
        lambda b: pl.concat([b, b.head(2)]),
        "rows share a key ['order_book_id', 'date'], e.g. [{'order_book_id': '",
    ),
    "future_date": (
        lambda b: pl.concat([b, b.head(1).with_columns(date=pl.lit(dt.date(2099, 1, 5)))]),
        "unrequested dates [datetime.date(2099, 1, 5)]",
    ),
}


@pytest.mark.parametrize("defect", GARBAGE_BARS)
def test_garbage_bars_are_refused_at_the_boundary_naming_the_defect(pipeline_for, defect):
    damage, message = GARBAGE_BARS[defect]
    pipeline = pipeline_for(GarbageDemo(bars=damage))
    result = pipeline.materialize(MARKET_ASSETS, FIRST, LAST, raise_on_error=False)
    assert not result.success
    assert message in failure_message(result)
    for asset in ("raw_ohlcv", "completed_ohlcv"):
        assert not list(pipeline.data_dir.glob(f"{asset}/*.parquet"))


def test_report_announced_after_the_day_is_refused_as_look_ahead(pipeline_for):
    leak = lambda r: r.with_columns(announce_date=pl.lit(dt.date(2024, 12, 31)))  # noqa: E731
    pipeline = pipeline_for(GarbageDemo(reports=leak))
    result = pipeline.materialize(MARKET_ASSETS, FIRST, raise_on_error=False)
    assert not result.success
    assert "announced after 2024-06-11 (look-ahead)" in failure_message(result)
    assert not list(pipeline.data_dir.glob("fundamentals/*.parquet"))
