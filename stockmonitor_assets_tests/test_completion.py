"""Completion on crafted inputs: one row per listed stock and day, last close carried."""

import datetime as dt

import polars as pl
import pytest

from stockmonitor_assets import trading_calendar as tc
from stockmonitor_assets.schemas import COMPLETED_OHLCV, RAW_OHLCV
from stockmonitor_assets.transforms import completion
from stockmonitor_assets.transforms.completion import (
    last_known_from,
    last_traded_bars,
    stocks_needing_history,
)


def complete_day(*args) -> pl.DataFrame:
    """`completion.complete_day`, conformed as the write conforms it (proving the contract)."""
    return COMPLETED_OHLCV.conform(completion.complete_day(*args))


DAYS = tc.sessions(dt.date(2023, 1, 3), dt.date(2024, 12, 31))


def universe(day, stocks):
    """stocks: {id: (listed_date, de_listed_date, is_suspended)}"""
    return pl.DataFrame(
        {
            "order_book_id": list(stocks),
            "listed_date": [v[0] for v in stocks.values()],
            "de_listed_date": [v[1] for v in stocks.values()],
            "is_suspended": [v[2] for v in stocks.values()],
        },
        schema_overrides={"de_listed_date": pl.Date, "is_suspended": pl.Boolean},
    )


def bar(stock, day, close, **overrides):
    row = dict(
        order_book_id=stock,
        date=day,
        open=close,
        high=close * 1.01,
        low=close * 0.99,
        close=close,
        prev_close=close,
        volume=1e6,
        total_turnover=close * 1e6,
        limit_up=round(close * 1.1, 2),
        limit_down=round(close * 0.9, 2),
        adj_factor=1.0,
    )
    return {**row, **overrides}


def raw(rows):
    return (
        RAW_OHLCV.conform(pl.DataFrame(rows, schema=RAW_OHLCV.polars_schema))
        if rows
        else (RAW_OHLCV.empty())
    )


def run(days, stocks_of, bars_of):
    """Chain complete_day over days, as the asset does."""
    state, out = last_known_from(COMPLETED_OHLCV.empty()), []
    for day in days:
        frame = complete_day(day, universe(day, stocks_of(day)), raw(bars_of(day)), state)
        state = last_known_from(frame)
        out.append(frame)
    return pl.concat(out)


def test_stock_suspended_for_300_trading_days_carries_its_last_close():
    listed = dt.date(2020, 1, 2)
    suspended_from, resume_at = DAYS[10], DAYS[310]
    stocks = lambda d: {"600001.XSHG": (listed, None, suspended_from <= d < resume_at)}  # noqa: E731

    def bars(day):
        if suspended_from <= day < resume_at:
            return []
        return [bar("600001.XSHG", day, 10.0 + DAYS.index(day) * 0.01)]

    out = run(DAYS[:320], stocks, bars)
    gap = out.filter(pl.col("date").is_between(suspended_from, resume_at, closed="left"))
    last_close = 10.0 + 9 * 0.01
    assert len(gap) == 300
    assert gap["fill_reason"].unique().to_list() == ["suspended"]
    for column in ("open", "high", "low", "close"):
        assert gap[column].to_list() == pytest.approx([last_close] * 300)
    assert gap["volume"].sum() == 0 and gap["total_turnover"].sum() == 0
    assert gap["last_traded_date"].unique().to_list() == [DAYS[9]]
    resumed = out.filter(pl.col("date") == resume_at).row(0, named=True)
    assert not resumed["is_filled"] and resumed["last_traded_date"] == resume_at


def test_new_listing_has_no_rows_before_listing_and_delisted_stock_disappears():
    listing, delisting = DAYS[5], DAYS[15]
    stocks = lambda d: {  # noqa: E731
        "688001.XSHG": (listing, None, False),
        "000002.XSHE": (dt.date(2010, 1, 4), delisting, False),
    }
    bars = lambda d: [bar("688001.XSHG", d, 30.0), bar("000002.XSHE", d, 5.0)]  # noqa: E731
    out = run(DAYS[:20], stocks, bars)
    new = out.filter(pl.col("order_book_id") == "688001.XSHG")
    gone = out.filter(pl.col("order_book_id") == "000002.XSHE")
    assert new["date"].min() == listing and len(new) == 15
    assert gone["date"].max() == DAYS[14] and len(gone) == 15


def test_missing_row_versus_suspension_is_told_apart():
    stocks = {"600001.XSHG": (DAYS[0], None, False), "600002.XSHG": (DAYS[0], None, True)}
    state = last_known_from(
        COMPLETED_OHLCV.empty().vstack(
            complete_day(
                DAYS[0],
                universe(DAYS[0], {k: (v[0], v[1], False) for k, v in stocks.items()}),
                raw([bar("600001.XSHG", DAYS[0], 8.0), bar("600002.XSHG", DAYS[0], 9.0)]),
                last_known_from(COMPLETED_OHLCV.empty()),
            )
        )
    )
    out = complete_day(DAYS[1], universe(DAYS[1], stocks), raw([]), state)
    assert dict(zip(out["order_book_id"], out["fill_reason"], strict=True)) == {
        "600001.XSHG": "missing_row",
        "600002.XSHG": "suspended",
    }
    assert out["close"].to_list() == [8.0, 9.0]


def test_zero_volume_bar_counts_as_suspended():
    stocks = {"600001.XSHG": (DAYS[0], None, None)}
    state = pl.DataFrame(
        {
            "order_book_id": ["600001.XSHG"],
            "close": [7.0],
            "adj_factor": [1.0],
            "last_traded_date": [DAYS[0]],
        }
    )
    out = complete_day(
        DAYS[1],
        universe(DAYS[1], stocks),
        raw([bar("600001.XSHG", DAYS[1], 7.0, volume=0.0)]),
        state,
    )
    assert out["fill_reason"].to_list() == ["suspended"] and out["is_filled"].to_list() == [True]


@pytest.mark.parametrize(
    "damage",
    [
        {"close": float("nan")},
        {"open": None},
        {"high": float("nan"), "low": None},
        {"high": None, "close": 12.0},
        {"open": float("nan"), "high": float("nan"), "low": float("nan")},
    ],
)
def test_partial_nan_fields_are_repaired_and_ohlc_ordering_holds(damage):
    stocks = {"600001.XSHG": (DAYS[0], None, False)}
    state = pl.DataFrame(
        {
            "order_book_id": ["600001.XSHG"],
            "close": [10.0],
            "adj_factor": [1.0],
            "last_traded_date": [DAYS[0]],
        }
    )
    damaged = {**bar("600001.XSHG", DAYS[1], 10.5, prev_close=10.0), **damage}
    row = complete_day(DAYS[1], universe(DAYS[1], stocks), raw([damaged]), state).row(0, named=True)
    assert row["fill_reason"] == "missing_fields" and row["is_filled"]
    assert None not in (row["open"], row["high"], row["low"], row["close"])
    assert row["low"] <= min(row["open"], row["close"]) <= max(row["open"], row["close"])
    assert max(row["open"], row["close"]) <= row["high"]
    assert row["volume"] == 1e6  # it traded: volume is kept


def test_grid_is_complete_and_unique_and_ordered_over_a_random_market():
    import random

    rng = random.Random(7)
    ids = [f"{600000 + i}.XSHG" for i in range(40)]
    listing = {s: DAYS[rng.randrange(0, 30)] for s in ids}
    delisting = {s: (DAYS[rng.randrange(40, 60)] if rng.random() < 0.2 else None) for s in ids}

    def stocks(day):
        return {s: (listing[s], delisting[s], rng.random() < 0.05) for s in ids}

    def bars(day):
        rows = []
        for s in ids:
            if rng.random() < 0.1:
                continue
            close = round(10 + rng.random(), 2)
            damage = {"high": float("nan")} if rng.random() < 0.05 else {}
            rows.append(bar(s, day, close, **damage))
        return rows

    out = run(DAYS[:60], stocks, bars)
    expected = sum(
        1
        for d in DAYS[:60]
        for s in ids
        if listing[s] <= d and (delisting[s] is None or d < delisting[s])
    )
    assert len(out) == expected
    assert not out.select("order_book_id", "date").is_duplicated().any()
    assert out.filter(
        (pl.col("low") > pl.min_horizontal("open", "close"))
        | (pl.col("high") < pl.max_horizontal("open", "close"))
    ).is_empty()
    # Only a stock that never traded in the known history may lack prices.
    unpriced = out.filter(pl.col("close").is_null())
    assert unpriced["last_traded_date"].is_null().all() and unpriced["is_filled"].all()


def test_bootstrap_takes_the_last_traded_bar_from_history():
    history = raw(
        [
            bar("600001.XSHG", DAYS[0], 5.0),
            bar("600001.XSHG", DAYS[1], 6.0, adj_factor=1.5),
            bar("600001.XSHG", DAYS[2], 6.5, volume=0.0),
        ]
    )
    state = last_traded_bars(history)
    assert state.row(0, named=True) == {
        "order_book_id": "600001.XSHG",
        "close": 6.0,
        "adj_factor": 1.5,
        "last_traded_date": DAYS[1],
    }
    stocks = universe(DAYS[3], {"600001.XSHG": (DAYS[0], None, True)})
    empty = last_known_from(COMPLETED_OHLCV.empty())
    assert stocks_needing_history(DAYS[3], stocks, raw([]), empty) == ["600001.XSHG"]
    assert stocks_needing_history(DAYS[3], stocks, raw([]), state) == []
