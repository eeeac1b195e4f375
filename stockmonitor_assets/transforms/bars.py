"""Source bars at the boundary: reject garbage, attach the cumulative ex-dividend factor."""

import datetime as dt
from collections.abc import Collection

import polars as pl

from stockmonitor_assets.schemas import EX_FACTORS, RAW_OHLCV, SOURCE_BARS, SchemaViolation

_NON_NEGATIVE = ("open", "high", "low", "close", "prev_close", "volume", "total_turnover")


class BadSourceDataError(ValueError):
    """A source returned data that breaks the contract; nothing from it is written."""


def validate_source_bars(
    bars: pl.DataFrame, days: Collection[dt.date], source: str
) -> pl.DataFrame:
    """SOURCE_BARS conformed, or BadSourceDataError naming the defect.

    Rejected: missing columns or uncastable dtypes, duplicated (stock, date) rows, dates
    outside the requested trading days (a future date is one), negative prices or volumes.
    Missing rows and NaN fields are not defects here: completion handles them.
    """
    try:
        bars = SOURCE_BARS.conform(bars)
    except SchemaViolation as exc:
        raise BadSourceDataError(f"source {source!r} returned bad bars: {exc}") from None
    unexpected = bars.filter(~pl.col("date").is_in(list(days)))["date"].unique().sort()
    if len(unexpected):
        raise BadSourceDataError(
            f"source {source!r} returned bars for unrequested dates {unexpected.to_list()[:5]}"
        )
    negative = bars.filter(pl.any_horizontal(pl.col(c) < 0 for c in _NON_NEGATIVE))
    if len(negative):
        row = negative.row(0, named=True)
        raise BadSourceDataError(
            f"source {source!r} returned {len(negative)} bar(s) with negative prices or volume, "
            f"e.g. {row['order_book_id']} on {row['date']}"
        )
    return bars


def attach_adj_factor(bars: pl.DataFrame, ex_factors: pl.DataFrame) -> pl.DataFrame:
    """RAW_OHLCV: each bar with the latest `ex_cum_factor` whose ex_date <= date (else 1.0).

    The factor is back-adjusted (cumulative from listing), so a stored partition never
    changes when a later dividend happens.
    """
    events = EX_FACTORS.conform(ex_factors).sort("ex_date")
    with_factor = bars.sort("date").join_asof(
        events,
        left_on="date",
        right_on="ex_date",
        by="order_book_id",
        strategy="backward",
        check_sortedness=False,
    )
    return RAW_OHLCV.conform(
        with_factor.with_columns(adj_factor=pl.col("ex_cum_factor").fill_null(1.0))
    )
