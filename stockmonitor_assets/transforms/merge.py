"""The merged daily picture: the day's universe with every input left-joined onto it.

The universe of a day is the rows of `completed_ohlcv` (exactly one per listed stock). Every
other input is left-joined on (order_book_id, date), so a stock missing from an input keeps its
row with nulls there, and a row of an input outside the universe is dropped. A duplicated key in
an input would multiply universe rows, so it raises instead. Works on any number of dates at
once (range runs).

`listed_trading_days` = number of sessions in [listed_date, date], this day included (1 on the
listing day). Listing dates before `sessions[0]` count from `sessions[0]`: the calendar does not
go further back, and the only use of the count (the 60-day new-listing rule) is long settled for
such stocks.

`withheld_reason` names the first rule (`quality.row_rules`, or a day with too few bars) a
stock-day fails; `scores` does not rank such rows (docs/data-rules.md).
"""

from collections.abc import Sequence
from datetime import date

import polars as pl

from stockmonitor_assets import quality
from stockmonitor_assets.schemas import (
    COMPLETED_OHLCV,
    FUNDAMENTAL_INDICATORS,
    FUNDAMENTALS,
    INSTRUMENTS,
    MERGED,
    TECHNICAL_INDICATORS,
)

KEY = ["order_book_id", "date"]


def merge_daily(
    completed: pl.DataFrame,
    instruments: pl.DataFrame,
    fundamentals: pl.DataFrame,
    technical: pl.DataFrame,
    fundamental_indicators: pl.DataFrame,
    sessions: Sequence[date],
    min_bar_coverage: float = 0.0,
    float_tolerance: float = quality.FLOAT_TOLERANCE,
) -> pl.DataFrame:
    """MERGED rows: one per row of `completed` (COMPLETED_OHLCV), for every date it holds.

    Args:
        sessions: sorted trading days covering every date of `completed` (and ideally the
            listing dates); used only for `listed_trading_days`.
        min_bar_coverage: a day with a smaller share of delivered bars is withheld whole.
        float_tolerance: relative slack of the row rules.

    Raises:
        ValueError: a date of `completed` is after the last session, or an input repeats a key.
    """
    frame = completed.select(COMPLETED_OHLCV.names)
    inputs = (
        (INSTRUMENTS, instruments),
        (FUNDAMENTALS, fundamentals),
        (TECHNICAL_INDICATORS, technical),
        (FUNDAMENTAL_INDICATORS, fundamental_indicators),
    )
    for schema, right in inputs:
        frame = _left_join(frame, right.select(schema.names), schema.name)
    frame = frame.with_columns(
        listed_trading_days=listed_trading_days(frame, sessions),
        withheld_reason=quality.withheld_reason(float_tolerance),
    )
    return quality.withhold_thin_days(frame, min_bar_coverage).select(MERGED.names)


def listed_trading_days(frame: pl.DataFrame, sessions: Sequence[date]) -> pl.Series:
    """Sessions in [listed_date, date] per row, by binary search (null without listed_date)."""
    calendar = pl.Series("sessions", sessions, dtype=pl.Date)
    if len(frame) and (not len(calendar) or frame["date"].max() > calendar[-1]):
        last = calendar[-1] if len(calendar) else None
        raise ValueError(
            f"listed_trading_days: date {frame['date'].max()} is after the last session {last}"
        )
    through_day = calendar.search_sorted(frame["date"], side="right").cast(pl.Int64)
    before_listing = calendar.search_sorted(frame["listed_date"], side="left").cast(pl.Int64)
    days = (through_day - before_listing).clip(lower_bound=0)
    return (
        pl.select(pl.when(frame["listed_date"].is_not_null()).then(days))
        .to_series()
        .cast(pl.UInt32)
        .alias("listed_trading_days")
    )


def _left_join(left: pl.DataFrame, right: pl.DataFrame, name: str) -> pl.DataFrame:
    try:
        return left.join(right, on=KEY, how="left", validate="m:1")
    except pl.exceptions.ComputeError as exc:
        raise ValueError(f"merge: input '{name}' has duplicate (order_book_id, date) rows") from exc
