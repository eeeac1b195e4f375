"""Complete a day's bars: exactly one row per listed stock, OHLC ordered.

Rules (DESIGN §2):
- a stock without a traded bar gets open=high=low=close=its last traded close, however
  long ago, carried from the previous day's completed row (`last_known`), with volume and
  turnover 0, `is_filled=True` and `fill_reason`:
  `suspended` when the source says so or reports a bar with no volume, else `missing_row`;
- a traded bar with missing price fields is repaired (`missing_fields`): a missing close or
  open takes the reference price (prev_close, else the last traded close), missing high/low
  take the max/min of open and close;
- every row then satisfies low <= min(open, close) <= max(open, close) <= high.
"""

import datetime as dt
from collections.abc import Iterable

import polars as pl

from stockmonitor_assets.schemas import COMPLETED_OHLCV, RAW_OHLCV

LAST_KNOWN_COLUMNS = ("order_book_id", "close", "adj_factor", "last_traded_date")
_PRICES = ("open", "high", "low", "close")


def complete_day(
    day: dt.date,
    universe: pl.DataFrame,
    raw: pl.DataFrame,
    last_known: pl.DataFrame,
) -> pl.DataFrame:
    """COMPLETED_OHLCV rows of `day`.

    Args:
        universe: the day's instruments (`order_book_id`, `listed_date`, `de_listed_date`,
            `is_suspended`); stocks not listed on `day` are dropped.
        raw: the day's RAW_OHLCV rows (rows of other stocks are ignored).
        last_known: per stock, the last traded close and its `adj_factor` and
            `last_traded_date` (see `last_known_from`); may be empty.
    """
    listed = universe.filter(
        (pl.col("listed_date") <= day)
        & (pl.col("de_listed_date").is_null() | (pl.col("de_listed_date") > day))
    ).select("order_book_id", pl.col("is_suspended").fill_null(False))
    known = last_known.select(
        "order_book_id",
        pl.col("close").alias("_last_close"),
        pl.col("adj_factor").alias("_last_adj"),
        pl.col("last_traded_date").alias("_last_date"),
    )
    frame = (
        listed.join(raw.select(RAW_OHLCV.names), on="order_book_id", how="left")
        .join(known, on="order_book_id", how="left")
        .with_columns(pl.lit(day).alias("date"), *_nan_to_null(RAW_OHLCV.names[2:]))
    )
    return _fill(frame).select(COMPLETED_OHLCV.names)


def last_known_from(completed: pl.DataFrame) -> pl.DataFrame:
    """The carry state for the next day: last traded close, its factor and date."""
    return completed.select(LAST_KNOWN_COLUMNS)


def last_traded_bars(bars: pl.DataFrame) -> pl.DataFrame:
    """Carry state built from a source's history (bootstrap when no previous day is stored)."""
    traded = bars.filter((pl.col("volume") > 0) & pl.col("close").is_not_nan())
    return (
        traded.sort("date")
        .group_by("order_book_id")
        .last()
        .select("order_book_id", "close", "adj_factor", pl.col("date").alias("last_traded_date"))
    )


def stocks_needing_history(
    day: dt.date, universe: pl.DataFrame, raw: pl.DataFrame, last_known: pl.DataFrame
) -> list[str]:
    """Stocks that cannot be completed from `raw` or `last_known` alone."""
    traded = raw.filter((pl.col("volume") > 0) & pl.col("close").is_not_null())
    known = last_known.filter(pl.col("close").is_not_null())
    missing = set(universe["order_book_id"]) - set(traded["order_book_id"])
    return sorted(missing - set(known["order_book_id"]))


def _nan_to_null(columns: Iterable[str]) -> list[pl.Expr]:
    return [pl.col(c).fill_nan(None) for c in columns]


def _fill(frame: pl.DataFrame) -> pl.DataFrame:
    has_row = pl.col("close").is_not_null() | pl.col("open").is_not_null()
    traded = has_row & (pl.col("volume").fill_null(1) > 0)
    damaged = traded & pl.any_horizontal(pl.col(c).is_null() for c in _PRICES)
    reason = (
        pl.when(~traded & (pl.col("is_suspended") | has_row))
        .then(pl.lit("suspended"))
        .when(~traded)
        .then(pl.lit("missing_row"))
        .when(damaged | pl.col("volume").is_null())
        .then(pl.lit("missing_fields"))
    )
    frame = frame.with_columns(_traded=traded, fill_reason=reason)
    return _repair_prices(_carry_untraded(frame)).with_columns(
        is_filled=pl.col("fill_reason").is_not_null(),
    )


def _carry_untraded(frame: pl.DataFrame) -> pl.DataFrame:
    """Untraded rows: every price is the last traded close; nothing traded."""
    untraded = ~pl.col("_traded")
    carried = [
        pl.when(untraded).then(pl.col("_last_close")).otherwise(pl.col(c)).alias(c) for c in _PRICES
    ]
    return frame.with_columns(
        *carried,
        prev_close=pl.when(untraded).then(pl.col("_last_close")).otherwise(pl.col("prev_close")),
        volume=pl.when(untraded).then(0.0).otherwise(pl.col("volume").fill_null(0.0)),
        total_turnover=pl.when(untraded)
        .then(0.0)
        .otherwise(pl.col("total_turnover").fill_null(0.0)),
        limit_up=pl.when(untraded).then(None).otherwise(pl.col("limit_up")),
        limit_down=pl.when(untraded).then(None).otherwise(pl.col("limit_down")),
        adj_factor=pl.when(untraded)
        .then(pl.col("_last_adj"))
        .otherwise(pl.col("adj_factor"))
        .fill_null(1.0),
        last_traded_date=pl.when(untraded).then(pl.col("_last_date")).otherwise(pl.col("date")),
    )


def _repair_prices(frame: pl.DataFrame) -> pl.DataFrame:
    """Fill missing fields of traded bars, then force the OHLC ordering on every row."""
    reference = pl.coalesce("prev_close", "_last_close")
    frame = frame.with_columns(
        close=pl.coalesce("close", reference, "open"),
        open=pl.coalesce("open", reference, "close"),
    )
    body_high = pl.max_horizontal("open", "close")
    body_low = pl.min_horizontal("open", "close")
    return frame.with_columns(
        high=pl.max_horizontal(pl.coalesce("high", body_high), body_high),
        low=pl.min_horizontal(pl.coalesce("low", body_low), body_low),
    )
