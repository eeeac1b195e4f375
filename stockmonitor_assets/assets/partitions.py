"""Partition plumbing shared by the assets: keys <-> dates, per-partition dicts."""

import datetime as dt
from collections.abc import Mapping

import dagster as dg
import polars as pl

from stockmonitor_assets.trading_calendar import partition_date, partition_key

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


def concat_frames(frames: Mapping[str, pl.DataFrame], empty: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([empty, *frames.values()], how="vertical_relaxed") if frames else empty


def split_by_day(frame: pl.DataFrame, days: list[dt.date]) -> dict[str, pl.DataFrame]:
    """One frame per partition key; a day with no rows still gets an (empty) frame."""
    parts = {d: g for (d,), g in frame.partition_by("date", as_dict=True).items()}
    return {partition_key(d): parts.get(d, frame.clear()) for d in days}
