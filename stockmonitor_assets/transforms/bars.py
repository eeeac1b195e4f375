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
    events = EX_FACTORS.align(ex_factors).sort("ex_date")
    with_factor = bars.sort("date").join_asof(
        events,
        left_on="date",
        right_on="ex_date",
        by="order_book_id",
        strategy="backward",
        check_sortedness=False,
    )
    return with_factor.with_columns(adj_factor=pl.col("ex_cum_factor").fill_null(1.0)).select(
        RAW_OHLCV.names
    )


# An exchange reference price differs from the previous close by at least one 0.01 tick on an
# ex-rights day; less than half a tick is how vendors' 3-4 decimal closes round, not an event.
EX_EVENT_MIN_GAP = 0.005
LOTS = 100  # shares per lot (手)


def infer_ex_factors(bars: pl.DataFrame) -> pl.DataFrame:
    """EX_FACTORS inferred from `prev_close` when a vendor delivers no ex-factor table.

    On an ex-rights day the exchange's reference price `prev_close[t]` is the previous close
    adjusted for the dividend, so `close[t-1] / prev_close[t]` is that day's factor. The
    cumulative product per stock is back-adjusted from the stock's first bar (factor 1), so
    `price * adj_factor` stays stable for the past as later events arrive. Bars without a
    close (suspended days delivered empty) are skipped: the resumption day's `prev_close`
    is compared with the last close delivered before it.
    """
    ordered = bars.filter(pl.col("close").is_not_null() & pl.col("close").is_not_nan()).sort(
        "order_book_id", "date"
    )
    previous = pl.col("close").shift(1).over("order_book_id")
    is_event = (previous - pl.col("prev_close")).abs() > EX_EVENT_MIN_GAP
    ratio = pl.when(is_event & (pl.col("prev_close") > 0)).then(previous / pl.col("prev_close"))
    with_ratio = ordered.with_columns(_ratio=ratio)
    return EX_FACTORS.conform(
        with_ratio.with_columns(
            ex_cum_factor=pl.col("_ratio").fill_null(1.0).cum_prod().over("order_book_id")
        )
        .filter(pl.col("_ratio").is_not_null())
        .select("order_book_id", pl.col("date").alias("ex_date"), "ex_cum_factor")
    )


def volume_in_shares(volume: pl.Expr, unit: pl.Expr) -> pl.Expr:
    """Volume in shares from a per-row unit: `shares` (股, the default when empty) or
    `lots` (手, 100 shares)."""
    return (
        pl.when(unit.str.to_lowercase().is_in(["lots", "lot", "手"]))
        .then(volume * LOTS)
        .otherwise(volume)
    )


VOLUME_UNITS = ("shares", "share", "股", "lots", "lot", "手")
