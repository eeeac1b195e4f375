"""Users' factors (plugins.py) over the indicator window, one target day at a time.

Each day D is computed from its own window only (the stock's last `window` traded bars up
to D, closes forward-adjusted to D), so a range gives what the same days run one by one
give. A plug-in that raises, or returns anything but one numeric value per stock, fails
with a PluginError naming it, before anything of the day is written.
"""

from collections.abc import Sequence
from datetime import date

import polars as pl

from stockmonitor_assets.plugins import Factor, PluginError

KEY = ["order_book_id", "date"]


def compute_custom_factors(
    bars: pl.DataFrame, targets: Sequence[date], factors: Sequence[Factor]
) -> pl.DataFrame:
    """`order_book_id, date, <factor>...` for every stock traded on each target day.

    `bars`: `order_book_id, date, close, volume, adj_factor, is_filled` of every window day.
    """
    traded = (
        bars.filter(~pl.col("is_filled") & pl.col("close").is_not_null())
        .with_columns(close=pl.col("close") * pl.col("adj_factor"))  # back-adjusted
        .sort(KEY)
    )
    longest = max(f.window for f in factors)
    days = []
    for day in sorted(set(targets)):
        upto = traded.filter(pl.col("date") <= day)
        on_day = upto.filter(pl.col("date") == day).select("order_book_id", "adj_factor")
        window = (
            upto.join(on_day, on="order_book_id", suffix="_d")  # only stocks traded on D
            .group_by("order_book_id", maintain_order=True)
            .tail(longest)
            .with_columns(close=pl.col("close") / pl.col("adj_factor_d"))  # forward to D
            .select("order_book_id", "date", "close", "volume")
        )
        values = on_day.select("order_book_id")
        for factor in factors:
            values = values.join(_one_factor(factor, window), on="order_book_id", how="left")
        days.append(values.with_columns(date=pl.lit(day)))
    names = [f.name for f in factors]
    empty = pl.DataFrame(schema={"order_book_id": pl.String, "date": pl.Date})
    return pl.concat([empty, *days], how="diagonal_relaxed").select(*KEY, *names)


def _one_factor(factor: Factor, window: pl.DataFrame) -> pl.DataFrame:
    """The factor on the stocks with its full window of bars (others: null)."""
    full = window.group_by("order_book_id", maintain_order=True).tail(factor.window)
    enough = full.group_by("order_book_id").len().filter(pl.col("len") == factor.window)
    full = full.join(enough.select("order_book_id"), on="order_book_id", how="semi")
    try:
        if factor.expr is not None:
            out = full.group_by("order_book_id").agg(factor.expr.alias(factor.name))
        else:
            out = factor.function(full)
    except Exception as error:  # the user's code: any failure is reported with its name
        raise PluginError(f"{factor.label} raised {type(error).__name__}: {error}") from error
    return _checked(factor, out, full)


def _checked(factor: Factor, out: object, window: pl.DataFrame) -> pl.DataFrame:
    """`out` as `order_book_id, <name>` (one row per stock of `window`), or PluginError."""
    expected = ["order_book_id", factor.name]
    if not isinstance(out, pl.DataFrame) or sorted(out.columns) != sorted(expected):
        got = out.columns if isinstance(out, pl.DataFrame) else type(out).__name__
        raise PluginError(f"{factor.label} returned {got}; expected a frame with {expected}")
    stocks = set(window["order_book_id"].unique())
    if out["order_book_id"].is_duplicated().any() or not set(out["order_book_id"]) <= stocks:
        raise PluginError(
            f"{factor.label} returned {out.height} rows for {len(stocks)} stocks; expected "
            "at most one row per stock of the window, and no other stock"
        )
    try:
        value = out[factor.name].cast(factor.dtype, strict=True)
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):
        raise PluginError(
            f"{factor.label} returned {out.schema[factor.name]} values; expected one "
            f"{factor.dtype.__name__} per stock"
        ) from None
    if factor.dtype in (pl.Float64, pl.Float32):
        value = value.fill_nan(None)
    return out.select("order_book_id").with_columns(value)
