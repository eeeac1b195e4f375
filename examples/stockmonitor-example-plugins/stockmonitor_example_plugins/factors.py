"""Two factors over the indicator window: one as a polars expression, one as a function."""

import polars as pl

from stockmonitor_assets.plugins import Factor

# Close against its highest close of the last 20 traded bars (<= 0); near 0 = near the high.
DRAWDOWN_20 = Factor(
    name="drawdown_20",
    window=20,
    expr=pl.col("close").last() / pl.col("close").max() - 1,
    description="close / max close of the last 20 traded bars - 1 (forward-adjusted)",
    score_weight=0.10,
    higher_is_better=True,
)


def volume_trend(window: pl.DataFrame) -> pl.DataFrame:
    """Mean volume of the last 5 bars over the mean of all 10 (>1: rising activity)."""
    return window.group_by("order_book_id").agg(
        (pl.col("volume").tail(5).mean() / pl.col("volume").mean()).alias("volume_trend")
    )


# Not scored (weight 0): a column of technical_indicators, merged and the qlib directory.
VOLUME_TREND = Factor(
    name="volume_trend",
    window=10,
    function=volume_trend,
    description="mean volume of the last 5 traded bars / mean of the last 10",
)
