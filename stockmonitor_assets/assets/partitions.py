"""Partition plumbing shared by the assets: the days of a run, and how a range streams.

A step covers one day or a whole single-run range (a 20-year backfill included). Its
upstream partitions arrive as `StoredPartitions` (read from the store on lookup), and its
own partitions leave as a `DayStream`: computed chunk by chunk while the IO manager writes
them, so a step holds at most one chunk (plus what the chunk's computation needs, e.g. the
indicator window) at a time. Per-day metadata, progress lines and the inputs of the step's
checks are gathered on the way.
"""

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence

import dagster as dg
import polars as pl

from stockmonitor_assets import settings
from stockmonitor_assets.assets.metadata import partition_metadata
from stockmonitor_assets.assets.rules import CheckRule, check_result
from stockmonitor_assets.quality import Outcome, combine
from stockmonitor_assets.schemas import TABLES
from stockmonitor_assets.storage import StoredPartitions
from stockmonitor_assets.thresholds import QualityThresholds
from stockmonitor_assets.trading_calendar import (
    partition_date,
    partition_key,
    trading_day_partitions,
)

# What a step receives for an upstream asset (annotation of every partitioned input).
Partitions = StoredPartitions
# A day's frame -> a verdict of one rule on that day.
Judge = Callable[[str, pl.DataFrame], Outcome]
# A project logger: progress reaches the run's event log and $LOG_DIR/stockmonitor.log.
log = logging.getLogger(__name__)


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


# The Dagster concurrency pool of every asset that calls the market-data source: the
# instance's `concurrency: pools: default_limit: 1` (dagster.yaml) lets one such step run at
# a time across all runs, whatever launched them (vendors rate-limit; two syncs of the same
# days would only race). Not a run tag, which a launcher could omit or change.
SOURCE_POOL = "market_data_source"


def trading_day_asset(
    group: str, kinds: frozenset = frozenset({"polars", "parquet"}), calls_source: bool = False
) -> dict:
    """`dg.asset` arguments every asset shares: trading-day partitions, a range in one run,
    and the source's pool for those that call it."""
    return dict(
        partitions_def=trading_day_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=group,
        kinds=set(kinds),
        pool=SOURCE_POOL if calls_source else None,
    )


def upstream(context: dg.AssetExecutionContext, io_manager, asset: str) -> StoredPartitions:
    """The partitions of `asset` (a dep) on this run's days, read on lookup.

    Upstream assets are deps, not inputs: the step reads them from the store itself, so an
    input would only add two events per step and run (loaded input, got input); the
    lineage, the graph and the order of steps are the same."""
    return io_manager.stored(asset, context.partition_keys)


def chunks(days: Sequence[dt.date], size: int | None = None) -> Iterator[list[dt.date]]:
    """`days` in consecutive runs of at most `size` (STOCKMONITOR_CHUNK_DAYS) days."""
    size = size or settings.chunk_days()
    for start in range(0, len(days), size):
        yield list(days[start : start + size])


class DayStream:
    """A step's partitions, computed chunk by chunk as the IO manager writes them.

    `compute(chunk_days)` returns `{partition_key: frame}` for one chunk. While the stream
    is consumed, each day's frame is conformed to its contract (so metadata and judges see
    exactly what is written), its metadata is attached to its own partition, `judges` give
    each day a verdict (turned into the step's check results by `check_results`), and a
    progress line is logged per chunk.
    """

    conformed = True  # the IO manager need not conform its frames again

    def __init__(
        self,
        context: dg.AssetExecutionContext,
        days: Sequence[dt.date],
        compute: Callable[[list[dt.date]], Mapping[str, pl.DataFrame]],
        judges: Mapping[str, Judge] | None = None,
        summary: Callable[[], Mapping[str, object]] | None = None,
    ):
        self.context, self.days, self.compute = context, list(days), compute
        self.summary = summary
        self.asset = context.asset_key.to_user_string()
        self.judges = dict(judges or {})
        self.verdicts: dict[str, dict[str, Outcome]] = {name: {} for name in self.judges}
        self.written = 0

    def items(self) -> Iterator[tuple[str, pl.DataFrame]]:
        table = TABLES[self.asset]
        for chunk in chunks(self.days):
            frames = self.compute(chunk)
            for key in map(partition_key, chunk):
                frame = table.conform(frames[key])
                self.context.add_asset_metadata(partition_metadata(frame, table), partition_key=key)
                for name, judge in self.judges.items():
                    self.verdicts[name][key] = judge(key, frame)
                self.written += 1
                yield key, frame
            if len(self.days) > len(chunk):
                log.info(
                    f"{self.asset}: {self.written}/{len(self.days)} days written "
                    f"(through {chunk[-1]})"
                )
        if self.summary:  # still inside the write, so it reaches the materializations
            self.context.add_asset_metadata(dict(self.summary()))

    def check_results(
        self, rules: Sequence[CheckRule], quality: QualityThresholds
    ) -> Iterator[dg.AssetCheckResult]:
        """One result per check over every day the stream wrote (failing days named), with
        the thresholds it was judged by."""
        for rule in rules:
            yield check_result(rule, combine(self.verdicts[rule.name]), quality)


def split_by_day(frame: pl.DataFrame, days: Sequence[dt.date]) -> dict[str, pl.DataFrame]:
    """One frame per partition key; a day with no rows still gets an (empty) frame."""
    parts = {d: g for (d,), g in frame.partition_by("date", as_dict=True).items()}
    return {partition_key(d): parts.get(d, frame.clear()) for d in days}


def stack_days(partitions: StoredPartitions, days: Sequence[dt.date], empty: pl.DataFrame):
    """The stored partitions of `days` as one frame (typed even when there are none)."""
    return pl.concat([empty, *partitions.frames([partition_key(d) for d in days])])
