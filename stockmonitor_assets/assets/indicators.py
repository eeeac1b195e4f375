"""Indicator assets: technical (trailing window of completed bars) and fundamental ratios."""

import dagster as dg
import polars as pl

from stockmonitor_assets import settings
from stockmonitor_assets.assets.metadata import add_partition_metadata
from stockmonitor_assets.assets.partitions import (
    PartitionFrames,
    partition_days,
    split_by_day,
    stack,
    trading_day_asset,
)
from stockmonitor_assets.schemas import COMPLETED_OHLCV, FUNDAMENTALS
from stockmonitor_assets.trading_calendar import sessions_through
from stockmonitor_assets.transforms import fundamental, technical

WINDOW = settings.int_setting(settings.LOOKBACK_DAYS, settings.DEFAULT_LOOKBACK_DAYS, 60)
WINDOW_PARTITIONS = technical.window_partitions_needed(WINDOW, technical.ANCHOR_STEP_DEFAULT)

COMMON = trading_day_asset("indicators")


@dg.asset(
    **COMMON,
    ins={
        "completed_ohlcv": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-(WINDOW_PARTITIONS - 1), end_offset=0
            ),
            # A fresh install has no history yet: compute on what exists, never fail for it.
            metadata={"allow_missing_partitions": True},
        )
    },
)
def technical_indicators(
    context: dg.AssetExecutionContext, completed_ohlcv: PartitionFrames
) -> dict[str, pl.DataFrame]:
    """SMA, RSI, MACD, 20-day return and volatility on forward-adjusted traded bars."""
    days = partition_days(context)
    expected = len(context.asset_partition_keys_for_input("completed_ohlcv"))
    history = stack(completed_ohlcv, COMPLETED_OHLCV)
    values = technical.compute_technical_indicators(
        history, days, sessions_through(days[-1]), window=WINDOW
    )
    frames = split_by_day(values, days)
    window = {"window_days_available": len(completed_ohlcv), "window_days_expected": expected}
    add_partition_metadata(context, frames, window)
    return frames


@dg.asset(**COMMON)
def fundamental_indicators(
    context: dg.AssetExecutionContext, fundamentals: PartitionFrames
) -> dict[str, pl.DataFrame]:
    """PE TTM, PB, ROE TTM and their inverses EP, BP, point in time."""
    days = partition_days(context)
    inputs = stack(fundamentals, FUNDAMENTALS)
    values = fundamental.compute_fundamental_indicators(inputs)
    frames = split_by_day(values, days)
    add_partition_metadata(context, frames)
    return frames
