"""RQDatac responses (pandas, in the SDK's documented shapes) as long polars frames.

Each converter accepts `None`, which the SDK returns instead of an empty frame, and
tolerates absent columns (partial responses) by filling nulls: a missing stock is simply
absent, never a crash. These frames are what the adapter caches, one per SDK call.
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import polars as pl

PRICE_FIELDS = (
    "open",
    "high",
    "low",
    "close",
    "prev_close",
    "volume",
    "total_turnover",
    "limit_up",
    "limit_down",
)
_NOT_A_DATE = "0000-00-00"  # RQDatac's de_listed_date while listed


def dates(raw: Any) -> pl.DataFrame:
    """`get_trading_dates`: a list of dates."""
    values = [pd.Timestamp(d).date() for d in raw or []]
    return pl.DataFrame({"date": pl.Series(values, dtype=pl.Date)})


def instruments(raw: pd.DataFrame | None) -> pl.DataFrame:
    """`all_instruments(type='CS')`: one row per stock, dates as 'YYYY-MM-DD' strings."""
    schema = {
        "order_book_id": pl.String,
        "symbol": pl.String,
        "board_type": pl.String,
        "listed_date": pl.String,
        "de_listed_date": pl.String,
    }
    frame = _long(raw, schema, reset_index=False)
    return frame.with_columns(
        pl.when(pl.col(c) != _NOT_A_DATE).then(pl.col(c)).str.to_date("%Y-%m-%d")
        for c in ("listed_date", "de_listed_date")
    )


def flags(name: str) -> Callable[[pd.DataFrame | None], pl.DataFrame]:
    """`is_st_stock` / `is_suspended`: a bool frame, dates down, order_book_ids across."""

    def convert(raw: pd.DataFrame | None) -> pl.DataFrame:
        if raw is None or raw.empty:
            return flags_frame(name)
        wide = raw.copy()
        wide.index = pd.to_datetime(wide.index).rename("date")
        long = wide.reset_index().melt(id_vars="date", var_name="order_book_id", value_name=name)
        return _long(long, flags_frame(name).schema, reset_index=False)

    return convert


def flags_frame(name: str) -> pl.DataFrame:
    return pl.DataFrame(schema={"order_book_id": pl.String, "date": pl.Date, name: pl.Boolean})


def bars(raw: pd.DataFrame | None) -> pl.DataFrame:
    """`get_price(expect_df=True)`: MultiIndex (order_book_id, date), one column per field."""
    schema = {"order_book_id": pl.String, "date": pl.Date} | {f: pl.Float64 for f in PRICE_FIELDS}
    return _long(raw, schema)


def ex_factors(raw: pd.DataFrame | None) -> pl.DataFrame:
    """`get_ex_factor`: indexed by ex_date, with order_book_id and ex_cum_factor columns."""
    schema = {"order_book_id": pl.String, "ex_date": pl.Date, "ex_cum_factor": pl.Float64}
    return _long(raw, schema)


def reports(fields: dict[str, str]) -> Callable[[pd.DataFrame | None], pl.DataFrame]:
    """`get_pit_financials_ex`: MultiIndex (order_book_id, quarter 'YYYYqN'), info_date, fields."""

    def convert(raw: pd.DataFrame | None) -> pl.DataFrame:
        schema = {"order_book_id": pl.String, "quarter": pl.String, "info_date": pl.Date}
        frame = _long(raw, schema | {f: pl.Float64 for f in fields})
        return (
            frame.rename({"info_date": "announce_date", **fields})
            .with_columns(report_period=_quarter_end(pl.col("quarter")))
            .drop("quarter")
        )

    return convert


def factors(names: dict[str, str]) -> Callable[[pd.DataFrame | None], pl.DataFrame]:
    """`get_factor(expect_df=True)`: MultiIndex (order_book_id, date), one column per factor."""

    def convert(raw: pd.DataFrame | None) -> pl.DataFrame:
        schema = {"order_book_id": pl.String, "date": pl.Date} | {f: pl.Float64 for f in names}
        return _long(raw, schema).rename(names)

    return convert


def latest_reports(reports: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """Per stock, the latest report period announced on or before `day` (its latest version)."""
    known = reports.filter(pl.col("announce_date") <= day)
    return known.sort("order_book_id", "report_period", "announce_date").unique(
        "order_book_id", keep="last", maintain_order=True
    )


def _long(
    raw: pd.DataFrame | None, schema: dict[str, Any], reset_index: bool = True
) -> pl.DataFrame:
    """Index levels become columns; absent columns become nulls; dtypes are enforced."""
    if raw is None or len(raw) == 0:
        return pl.DataFrame(schema=schema)
    table = raw.reset_index() if reset_index else raw
    present = [c for c in schema if c in table.columns]
    frame = pl.from_pandas(table[present].reset_index(drop=True))
    return frame.select(
        (pl.col(c) if c in present else pl.lit(None)).cast(dtype).alias(c)
        for c, dtype in schema.items()
    )


def _quarter_end(quarter: pl.Expr) -> pl.Expr:
    year = quarter.str.slice(0, 4).cast(pl.Int32)
    month = quarter.str.slice(5, 1).cast(pl.Int8) * 3
    return pl.date(year, month, 1).dt.month_end()
