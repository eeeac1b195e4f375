"""The fields of a qlib provider directory, in qlib's CN convention, from merged and scores.

qlib's documentation (docs/component/data.rst, "Converting CSV Format into Qlib Format")
defines its daily fields: `open, close, high, low` are *adjusted* prices, `volume` the
adjusted volume, `factor` the restoration factor, "normally factor = adjusted_price /
original_price", so `$close / $factor` is the original close; and "open, close, high, low,
volume, money and factor will be set to NaN if the stock is suspended". Its Yahoo collector
(scripts/data_collector/yahoo/collector.py, `YahooNormalize1d.adjusted_price`) does exactly
that: `factor = adjclose / close`, prices `* factor`, `volume / factor`.

Ours: `factor` = our back-adjusted `adj_factor` (DESIGN §2: `price * adj_factor` never changes
for past days, so a day once written never needs rewriting when a later dividend happens).
qlib's own CN data additionally divides each stock's series by its first adjusted close
(so the first close is 1); we do not: that constant would tie every value to the stock's first
day, and it cancels in every return, ratio and in `$close / $factor`.

Suspended or filled rows (`is_filled`) get NaN in the bar fields, as qlib expects; the other
fields (indicators, fundamentals, scores) carry what our partitions hold (null -> NaN).
"""

import polars as pl

from stockmonitor_assets.schemas import CUSTOM_FACTORS, FACTORS

EXCHANGE_PREFIX = {"XSHG": "SH", "XSHE": "SZ", "BJSE": "BJ"}

_ADJ = pl.col("adj_factor")
# qlib field -> value on a traded row (NaN on filled rows).
BAR_FIELDS: dict[str, pl.Expr] = {
    "open": pl.col("open") * _ADJ,
    "high": pl.col("high") * _ADJ,
    "low": pl.col("low") * _ADJ,
    "close": pl.col("close") * _ADJ,
    "volume": pl.col("volume") / _ADJ,
    "factor": _ADJ,
    # The exchange's reference price is ex-rights adjusted, so this is the true daily change.
    "change": pl.col("close") / pl.col("prev_close") - 1,
    "amount": pl.col("total_turnover"),
    "vwap": pl.col("total_turnover") / pl.col("volume") * _ADJ,
}
# Columns of merged exported under their own name.
MERGED_FIELDS = (
    "is_st",
    "total_market_cap",
    "float_market_cap",
    "sma_5",
    "sma_10",
    "sma_20",
    "sma_60",
    "rsi_14",
    "macd_dif",
    "macd_dea",
    "macd_hist",
    "return_20d",
    "volatility_20d",
    "pe_ttm",
    "pb",
    "roe_ttm",
    "ep",
    "bp",
    *(f.name for f in CUSTOM_FACTORS),  # users' factors (plugins.py)
)
# Columns of scores exported under their own name.
SCORE_FIELDS = ("is_eligible", "composite", "rank", "percentile", "score") + tuple(
    f"z_{f}" for f in FACTORS
)


# The columns each input must provide (an asset reads only these from its partitions).
MERGED_INPUTS = (
    "order_book_id", "date", "is_filled", "adj_factor", "open", "high", "low", "close",
    "prev_close", "volume", "total_turnover", *MERGED_FIELDS,
)  # fmt: skip
SCORE_INPUTS = ("order_book_id", "date", *SCORE_FIELDS)


class QlibFieldError(ValueError):
    """An input lacks a column the provider exports; the message names it."""


def qlib_code(order_book_id: pl.Expr) -> pl.Expr:
    """`600000.XSHG` -> `SH600000` (qlib's instrument name; its feature folder is lowercase)."""
    exchange = order_book_id.str.split(".").list.last()
    prefix = exchange.replace_strict(EXCHANGE_PREFIX, default=None)
    return pl.concat_str(prefix, order_book_id.str.split(".").list.first())


def field_names(extra_merged: tuple[str, ...] = (), extra_scores: tuple[str, ...] = ()):
    """Every field the provider holds, in file-writing order."""
    return [*BAR_FIELDS, *MERGED_FIELDS, *extra_merged, *SCORE_FIELDS, *extra_scores]


def provider_fields(
    merged: pl.DataFrame,
    scores: pl.DataFrame,
    extra_merged: tuple[str, ...] = (),
    extra_scores: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Per stock and day: `code`, `date` and every field as Float32 (null -> NaN).

    `merged` and `scores` cover the same days; a stock of merged missing from scores keeps
    NaN score fields.
    """
    _require(merged, "merged", ["adj_factor", "is_filled", *MERGED_FIELDS, *extra_merged])
    _require(scores, "scores", [*SCORE_FIELDS, *extra_scores])
    traded = ~pl.col("is_filled")
    score_part = scores.select("order_book_id", "date", *SCORE_FIELDS, *extra_scores)
    frame = merged.join(score_part, on=["order_book_id", "date"], how="left")
    values = [
        *(pl.when(traded).then(e).alias(n) for n, e in BAR_FIELDS.items()),
        *(pl.col(n) for n in (*MERGED_FIELDS, *extra_merged, *SCORE_FIELDS, *extra_scores)),
    ]
    return frame.select(
        qlib_code(pl.col("order_book_id")).alias("code"),
        "date",
        *(v.cast(pl.Float32).fill_null(float("nan")) for v in values),
    ).sort("code", "date")


def _require(frame: pl.DataFrame, name: str, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise QlibFieldError(f"qlib provider: {name} lacks column(s) {missing}")
