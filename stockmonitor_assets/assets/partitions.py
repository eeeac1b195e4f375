"""Partition plumbing shared by the assets: keys <-> dates, per-partition dicts."""

import datetime as dt
from collections.abc import Mapping

import dagster as dg
import polars as pl

from stockmonitor_assets.schemas import TableSchema
from stockmonitor_assets.trading_calendar import (
    partition_date,
    partition_key,
    trading_day_partitions,
)

# Annotation of partitioned inputs; the IO manager always hands over a dict of partitions.
PartitionFrames = dict[str, pl.DataFrame]


def partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The trading days this run materializes (one, or a whole single-run range)."""
    keys = context.partition_keys
    if not keys:
        tags = context.run.tags
        first, last = (tags.get(f"dagster/asset_partition_range_{e}") for e in ("start", "end"))
        raise dg.Failure(
            description=f"the partition range {first}...{last} is empty (start after end?)"
        )
    return [partition_date(k) for k in keys]


def trading_day_asset(group: str, kinds: frozenset = frozenset({"polars", "parquet"})) -> dict:
    """`dg.asset` arguments every asset shares: trading-day partitions, a range in one run."""
    return dict(
        partitions_def=trading_day_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=group,
        kinds=set(kinds),
    )


def stack(frames: Mapping[str, pl.DataFrame], schema: TableSchema) -> pl.DataFrame:
    """All loaded partitions as one frame (typed even when none were loaded)."""
    return pl.concat([schema.empty(), *frames.values()])


def split_by_day(frame: pl.DataFrame, days: list[dt.date]) -> dict[str, pl.DataFrame]:
    """One frame per partition key; a day with no rows still gets an (empty) frame."""
    parts = {d: g for (d,), g in frame.partition_by("date", as_dict=True).items()}
    return {partition_key(d): parts.get(d, frame.clear()) for d in days}
