"""The merged daily picture and the scores derived from it."""

import datetime as dt

import dagster as dg
import polars as pl
from pydantic import field_validator

from stockmonitor_assets.assets.partitions import (
    DayStream,
    partition_days,
    trading_day_asset,
    upstream,
)
from stockmonitor_assets.assets.rules import WITHHELD_CHECK, check_spec, record_thresholds
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.quality import check_withheld
from stockmonitor_assets.thresholds import QualityThresholds
from stockmonitor_assets.trading_calendar import sessions_through
from stockmonitor_assets.transforms import scoring
from stockmonitor_assets.transforms.merge import merge_daily

COMMON = trading_day_asset("scoring")
ATTENTION_TAG = "stockmonitor/needs_attention"


class ScoringConfig(dg.Config):
    """Factor weights of the composite score; unnamed factors keep their default weight."""

    weights: dict[str, float] = {}

    @field_validator("weights")
    @classmethod
    def _validate(cls, weights: dict[str, float]) -> dict[str, float]:
        scoring.validate_weights(weights)
        return weights


MERGED_FROM = (
    "completed_ohlcv",
    "instruments",
    "fundamentals",
    "technical_indicators",
    "fundamental_indicators",
)


@dg.asset(**COMMON, deps=list(MERGED_FROM), check_specs=[check_spec("merged", WITHHELD_CHECK)])
def merged(
    context: dg.AssetExecutionContext,
    quality: QualityThresholds,
    io_manager: dg.ResourceParam[PartitionedParquetIOManager],
):
    """The day's universe with bars, attributes, fundamentals and every indicator.

    A stock-day failing a row rule (or on a day with too few bars) is kept with its
    `withheld_reason` and not scored; the rest of the range goes on (docs/data-rules.md).
    """
    days = partition_days(context)
    calendar = sessions_through(days[-1])
    completed_ohlcv, instruments, fundamentals, technical_indicators, fundamental_indicators = (
        upstream(context, io_manager, asset) for asset in MERGED_FROM
    )

    def compute(chunk: list[dt.date]) -> pl.DataFrame:
        return merge_daily(
            completed_ohlcv.stack(chunk),
            instruments.stack(chunk),
            fundamentals.stack(chunk),
            technical_indicators.stack(chunk),
            fundamental_indicators.stack(chunk),
            calendar,
            min_bar_coverage=quality.min_bar_coverage,
            float_tolerance=quality.float_tolerance,
        )

    record_thresholds(context, quality)
    stream = DayStream(
        context, days, compute, judges={WITHHELD_CHECK.name: lambda k, f: check_withheld(f)}
    )
    yield dg.Output(stream)
    results = list(stream.check_results([WITHHELD_CHECK], quality))
    if not all(r.passed for r in results):
        _mark_for_attention(context, results[0].description)
    yield from results


@dg.asset(**COMMON, deps=["merged"])
def scores(
    context: dg.AssetExecutionContext,
    config: ScoringConfig,
    io_manager: dg.ResourceParam[PartitionedParquetIOManager],
):
    """Per stock and day: eligibility, factor z-scores, composite score, rank and level."""
    days, merged = partition_days(context), upstream(context, io_manager, "merged")
    weights = scoring.validate_weights(config.weights)

    def compute(chunk: list[dt.date]) -> pl.DataFrame:
        return scoring.score_stocks(merged.stack(chunk), weights)

    context.add_asset_metadata({"weights": weights})
    yield dg.Output(DayStream(context, days, compute))


def _mark_for_attention(context: dg.AssetExecutionContext, why: str) -> None:
    """Tag the run, so the runs list shows which runs withheld data (and why)."""
    context.instance.add_run_tags(context.run.run_id, {ATTENTION_TAG: why[:200]})
