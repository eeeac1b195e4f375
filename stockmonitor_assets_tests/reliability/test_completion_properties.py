"""Completion holds its invariants on any market hypothesis can draw.

Over random universes (listings, delistings), random days (traded bars, missing rows,
suspensions, zero-volume bars, lost or inconsistent open/high/low) chained day by day as the asset
does: the grid has exactly one row per listed stock and day, OHLC is ordered on every
priced row, and a row without a traded bar carries the last traded close (and its date).

Indicator properties (SMA within its window's min/max, RSI in [0, 100] and invariant to
price scaling) are already hypothesis tests in test_technical.py
(`test_sma_lies_within_its_window_of_closes`, `test_rsi_is_bounded_and_invariant_to_price_scale`)
and are not repeated here.
"""

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockmonitor_assets import trading_calendar as tc
from stockmonitor_assets.schemas import COMPLETED_OHLCV, RAW_OHLCV
from stockmonitor_assets.transforms import completion
from stockmonitor_assets.transforms.completion import last_known_from


def complete_day(*args) -> pl.DataFrame:
    """`completion.complete_day`, conformed as the write conforms it (proving the contract)."""
    return COMPLETED_OHLCV.conform(completion.complete_day(*args))


pytestmark = pytest.mark.reliability

DAYS = tc.sessions(dt.date(2024, 3, 1), dt.date(2024, 4, 30))
EVENTS = ("traded", "traded", "traded", "missing_row", "suspended", "zero_volume")
# A field is kept, lost (None/NaN) or inconsistent (close * 0.9 or 1.1: outside the body).
DAMAGE = st.sampled_from([None, float("nan"), "keep", 0.9, 1.1])


@st.composite
def markets(draw):
    """{stock: (listed index, delisted index or None, [(event, close, damage) per day])}."""
    n_days = draw(st.integers(1, 12))
    stocks = {}
    for i in range(draw(st.integers(1, 6))):
        listed = draw(st.integers(0, n_days - 1))
        delisted = draw(st.one_of(st.none(), st.integers(listed + 1, n_days + 1)))
        days = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(EVENTS),
                    st.floats(1.0, 500.0).map(lambda x: round(x, 2)),
                    st.fixed_dictionaries({f: DAMAGE for f in ("open", "high", "low")}),
                ),
                min_size=n_days,
                max_size=n_days,
            )
        )
        stocks[f"{600000 + i}.XSHG"] = (listed, delisted, days)
    return n_days, stocks


def _inputs(day_index: int, stocks: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    day, universe, bars = DAYS[day_index], [], []
    for stock, (listed, delisted, events) in stocks.items():
        event, close, damage = events[day_index]
        universe.append(
            {
                "order_book_id": stock,
                "listed_date": DAYS[listed],
                "de_listed_date": DAYS[delisted] if delisted is not None else None,
                "is_suspended": event == "suspended",
            }
        )
        if event in ("missing_row", "suspended"):
            continue
        bar = dict(open=close * 1.01, high=close * 1.03, low=close * 0.97, close=close)
        for field, value in damage.items():
            if value != "keep":
                bar[field] = close * value if isinstance(value, float) and value == value else value
        volume = 0.0 if event == "zero_volume" else 1e5
        bars.append(
            dict(
                order_book_id=stock,
                date=day,
                **bar,
                prev_close=close,
                volume=volume,
                total_turnover=volume * close,
                limit_up=None,
                limit_down=None,
                adj_factor=1.0,
            )
        )
    schema = {"de_listed_date": pl.Date, "is_suspended": pl.Boolean}
    raw = pl.DataFrame(bars, schema=RAW_OHLCV.polars_schema) if bars else RAW_OHLCV.empty()
    return pl.DataFrame(universe, schema_overrides=schema), raw


def _complete(n_days: int, stocks: dict) -> pl.DataFrame:
    state, out = last_known_from(COMPLETED_OHLCV.empty()), []
    for i in range(n_days):
        universe, raw = _inputs(i, stocks)
        frame = complete_day(DAYS[i], universe, raw, state)
        state = last_known_from(frame)
        out.append(frame)
    return pl.concat(out)


def _is_listed(stock_spec, i: int) -> bool:
    listed, delisted, _ = stock_spec
    return listed <= i and (delisted is None or i < delisted)


@settings(max_examples=40, deadline=None)
@given(markets())
def test_grid_has_exactly_one_row_per_listed_stock_and_day(market):
    n_days, stocks = market
    out = _complete(n_days, stocks)
    expected = {
        (stock, DAYS[i])
        for stock, spec in stocks.items()
        for i in range(n_days)
        if _is_listed(spec, i)
    }
    assert set(out.select("order_book_id", "date").iter_rows()) == expected
    assert len(out) == len(expected)


@settings(max_examples=40, deadline=None)
@given(markets())
def test_every_priced_row_has_low_le_open_close_le_high(market):
    out = _complete(*market).filter(pl.col("close").is_not_null())
    assert out.select("open", "high", "low").null_count().sum_horizontal().item() == 0
    broken = out.filter(
        (pl.col("low") > pl.min_horizontal("open", "close"))
        | (pl.col("high") < pl.max_horizontal("open", "close"))
    )
    assert broken.is_empty(), broken


@settings(max_examples=40, deadline=None)
@given(markets())
def test_row_without_traded_bar_carries_last_traded_close_and_its_date(market):
    n_days, stocks = market
    rows = {
        (r["order_book_id"], r["date"]): r for r in _complete(n_days, stocks).iter_rows(named=True)
    }
    for stock, spec in stocks.items():
        last_close = last_date = None
        for i in range(n_days):
            if not _is_listed(spec, i):
                continue
            event, close, _ = spec[2][i]
            row = rows[(stock, DAYS[i])]
            if event == "traded":
                assert row["close"] == close and row["volume"] == 1e5
                last_close, last_date = close, DAYS[i]
            else:
                assert row["is_filled"] and row["volume"] == 0
                assert row["fill_reason"] == (
                    "missing_row" if event == "missing_row" else "suspended"
                )
                assert row["close"] == last_close and row["last_traded_date"] == last_date
                if last_close is not None:
                    assert row["open"] == row["high"] == row["low"] == last_close
