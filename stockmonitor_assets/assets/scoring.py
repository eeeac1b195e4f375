"""The merged daily picture and the scores derived from it."""

import dagster as dg
import polars as pl
from pydantic import field_validator

from stockmonitor_assets.assets.metadata import add_partition_metadata
from stockmonitor_assets.assets.partitions import (
    PartitionFrames,
    partition_days,
    split_by_day,
    stack,
    trading_day_asset,
)
from stockmonitor_assets.schemas import (
    COMPLETED_OHLCV,
    FUNDAMENTAL_INDICATORS,
    FUNDAMENTALS,
    INSTRUMENTS,
    MERGED,
    TECHNICAL_INDICATORS,
)
from stockmonitor_assets.trading_calendar import sessions_through
from stockmonitor_assets.transforms import scoring
from stockmonitor_assets.transforms.merge import merge_daily

COMMON = trading_day_asset("scoring")


class ScoringConfig(dg.Config):
    """Factor weights of the composite score; unnamed factors keep their default weight."""

    weights: dict[str, float] = {}

    @field_validator("weights")
    @classmethod
    def _validate(cls, weights: dict[str, float]) -> dict[str, float]:
        scoring.validate_weights(weights)
        return weights


@dg.asset(**COMMON)
def merged(
    context: dg.AssetExecutionContext,
    completed_ohlcv: PartitionFrames,
    instruments: PartitionFrames,
    fundamentals: PartitionFrames,
    technical_indicators: PartitionFrames,
    fundamental_indicators: PartitionFrames,
) -> dict[str, pl.DataFrame]:
    """The day's universe with bars, attributes, fundamentals and every indicator."""
    days = partition_days(context)
    frame = merge_daily(
        stack(completed_ohlcv, COMPLETED_OHLCV),
        stack(instruments, INSTRUMENTS),
        stack(fundamentals, FUNDAMENTALS),
        stack(technical_indicators, TECHNICAL_INDICATORS),
        stack(fundamental_indicators, FUNDAMENTAL_INDICATORS),
        sessions_through(days[-1]),
    )
    frames = split_by_day(frame, days)
    add_partition_metadata(context, frames)
    return frames


@dg.asset(**COMMON)
def scores(
    context: dg.AssetExecutionContext, config: ScoringConfig, merged: PartitionFrames
) -> dict[str, pl.DataFrame]:
    """Per stock and day: eligibility, factor z-scores, composite score, rank and level."""
    days = partition_days(context)
    weights = scoring.validate_weights(config.weights)
    frame = scoring.score_stocks(stack(merged, MERGED), weights)
    frames = split_by_day(frame, days)
    add_partition_metadata(context, frames, {"weights": weights})
    return frames
