"""Fundamental ratios from point-in-time inputs (DESIGN §2 `fundamental_indicators`).

- PE TTM = total_market_cap / net_profit_ttm, null when the profit is <= 0 or missing: a
  negative PE is not "cheap", it is undefined.
- PB = total_market_cap / total_equity and ROE TTM = net_profit_ttm / total_equity, null
  when the equity is <= 0 or missing.
- EP = net_profit_ttm / total_market_cap and BP = total_equity / total_market_cap are the
  inverses that stay defined (and ordered) for losses and negative equity, which is why the
  value factor uses them; null only when the market cap is <= 0 or missing.

NaN and infinite inputs are treated as missing, so no ratio is ever NaN or infinite.
"""

import polars as pl

_INPUTS = ("total_market_cap", "net_profit_ttm", "total_equity")


def compute_fundamental_indicators(fundamentals: pl.DataFrame) -> pl.DataFrame:
    """FUNDAMENTAL_INDICATORS of every (order_book_id, date) row of FUNDAMENTALS."""
    mcap, profit, equity = (pl.col(c) for c in _INPUTS)
    clean = fundamentals.with_columns(_finite_or_null(c) for c in _INPUTS)
    return clean.select(
        "order_book_id",
        "date",
        pe_ttm=ratio(mcap, profit),
        pb=ratio(mcap, equity),
        roe_ttm=ratio(profit, equity),
        ep=ratio(profit, mcap),
        bp=ratio(equity, mcap),
    )


def ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator, null when the denominator is <= 0 or missing."""
    return pl.when(denominator > 0).then(numerator / denominator)


def _finite_or_null(column: str) -> pl.Expr:
    value = pl.col(column).cast(pl.Float64)
    return pl.when(value.is_finite()).then(value).alias(column)
