"""Merging the day's inputs: exactly the universe rows (left join), and listed trading days.

The calendar around the 2024 National Day holiday (no session 2024-10-01..07) checks that
`listed_trading_days` counts sessions, not calendar days.
"""

import datetime as dt

import polars as pl
import pytest

from stockmonitor_assets.schemas import (
    COMPLETED_OHLCV,
    FUNDAMENTAL_INDICATORS,
    FUNDAMENTALS,
    INSTRUMENTS,
    MERGED,
    TECHNICAL_INDICATORS,
)
from stockmonitor_assets.transforms.merge import merge_daily

D = dt.date
SESSIONS = [D(2024, 9, 26), D(2024, 9, 27), D(2024, 9, 30), D(2024, 10, 8), D(2024, 10, 9)]
DAYS = [D(2024, 10, 8), D(2024, 10, 9)]
LISTED = {
    "old.XSHG": D(2001, 1, 1),  # before the first session: counts from SESSIONS[0]
    "sep30.XSHE": D(2024, 9, 30),
    "oct08.XSHE": D(2024, 10, 8),  # listed on the first day after the holiday
}
FUNDAMENTALS_ROW = {"order_book_id": "sep30.XSHE", "date": DAYS[1], "total_market_cap": 1e9}


def frame(schema, rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema.polars_schema)


def completed() -> pl.DataFrame:
    rows = [
        {"order_book_id": s, "date": d, "close": 10.0, "adj_factor": 1.0, "is_filled": False}
        for s in LISTED
        for d in DAYS
    ]
    return frame(COMPLETED_OHLCV, rows)


def instruments() -> pl.DataFrame:
    rows = [
        {"order_book_id": s, "date": d, "board": "main", "listed_date": listed, "is_st": False}
        for s, listed in LISTED.items()
        for d in DAYS
    ]
    # Outside the universe: must not add rows.
    gone = {"order_book_id": "gone.XSHG", "date": DAYS[0], "board": "main", "is_st": False}
    rows.append({**gone, "listed_date": D(2000, 1, 1)})
    return frame(INSTRUMENTS, rows)


def technical() -> pl.DataFrame:
    rows = [
        {"order_book_id": "old.XSHG", "date": DAYS[0], "sma_5": 9.5, "traded_bars": 250},
        {"order_book_id": "old.XSHG", "date": D(2024, 9, 30), "sma_5": 1.0, "traded_bars": 1},
        {"order_book_id": "other.XSHG", "date": DAYS[0], "sma_5": 1.0, "traded_bars": 1},
    ]
    return frame(TECHNICAL_INDICATORS, rows)


def merge(**overrides) -> pl.DataFrame:
    inputs = {
        "completed": completed(),
        "instruments": instruments(),
        "fundamentals": frame(FUNDAMENTALS, [FUNDAMENTALS_ROW]),
        "technical": technical(),
        "fundamental_indicators": FUNDAMENTAL_INDICATORS.empty(),
        "sessions": SESSIONS,
    }
    return MERGED.conform(merge_daily(**{**inputs, **overrides}))  # as the write conforms it


def test_merge_keeps_exactly_the_universe_rows_of_every_day():
    merged = merge()
    assert merged.schema == MERGED.polars_schema
    assert merged.select("order_book_id", "date").equals(
        completed().select("order_book_id", "date").sort("order_book_id", "date")
    )


def test_inputs_are_matched_on_stock_and_date_and_missing_ones_are_null():
    merged = merge()
    sma = {(r["order_book_id"], r["date"]): r["sma_5"] for r in merged.iter_rows(named=True)}
    assert sma[("old.XSHG", DAYS[0])] == 9.5
    assert sma[("old.XSHG", DAYS[1])] is None  # the 09-30 value does not leak to another day
    caps = merged.filter(pl.col("total_market_cap").is_not_null())
    assert caps.select("order_book_id", "date").rows() == [("sep30.XSHE", DAYS[1])]
    assert merged["is_st"].to_list() == [False] * 6


def test_listed_trading_days_count_sessions_across_the_national_day_holiday():
    merged = merge()
    days = {
        (r["order_book_id"], r["date"]): r["listed_trading_days"] for r in merged.rows(named=True)
    }
    assert days == {
        ("oct08.XSHE", DAYS[0]): 1,  # listing day counts
        ("oct08.XSHE", DAYS[1]): 2,
        ("sep30.XSHE", DAYS[0]): 2,  # 09-30, 10-08: the holiday week adds nothing
        ("sep30.XSHE", DAYS[1]): 3,
        ("old.XSHG", DAYS[0]): 4,  # listed before SESSIONS[0]: counted from SESSIONS[0]
        ("old.XSHG", DAYS[1]): 5,
    }


def test_duplicated_key_in_an_input_raises_instead_of_duplicating_rows():
    doubled = pl.concat([technical(), technical().head(1)])
    with pytest.raises(ValueError, match="technical_indicators.*duplicate"):
        merge(technical=doubled)


def test_day_after_the_last_session_is_refused():
    with pytest.raises(ValueError, match="after the last session"):
        merge(sessions=SESSIONS[:-1])


def test_empty_universe_gives_an_empty_merged_frame():
    assert merge(completed=COMPLETED_OHLCV.empty()).equals(MERGED.empty())
