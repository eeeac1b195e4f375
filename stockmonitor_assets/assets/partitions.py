"""Partition plumbing shared by the assets: the days of a run, and how a range streams.

A step covers one day or a whole single-run range (a 20-year backfill included). Its
upstream assets are `deps`; `upstream()` gives their partitions as `StoredPartitions`
(read from the store on lookup, a chunk of days `stack`ed into one typed frame). Its own
partitions leave as a `DayStream`: one frame computed per chunk (the IO manager's
`chunk_days`), split by day and written while the stream is consumed, so a step holds at
most one chunk (plus what the chunk's computation needs, e.g. the indicator window) at a
time. Each day is conformed once, by the write; its metadata, the progress lines and the
inputs of the step's checks are taken from the frames written.
"""

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence

import dagster as dg
import polars as pl

from stockmonitor_assets.assets.metadata import partition_metadata
from stockmonitor_assets.assets.rules import CheckRule, check_result
from stockmonitor_assets.io_managers import PartitionStream, WriteDay
from stockmonitor_assets.quality import Outcome, combine
from stockmonitor_assets.schemas import TABLES
from stockmonitor_assets.storage import StoredPartitions
from stockmonitor_assets.thresholds import QualityThresholds
from stockmonitor_assets.trading_calendar import (
    partition_date,
    partition_key,
    trading_day_partitions,
)

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


def chunks(days: Sequence[dt.date], size: int) -> Iterator[list[dt.date]]:
    """`days` in consecutive runs of at most `size` days (the IO manager's `chunk_days`)."""
    for start in range(0, len(days), size):
        yield list(days[start : start + size])


class DayStream(PartitionStream):
    """A step's partitions, computed chunk by chunk as the IO manager writes them.

    `compute(chunk_days)` returns one frame for a chunk: the rows of all its days, with
    their `date`. The stream splits it by day (a day without rows gets an empty partition)
    and hands each day to the IO manager's write, which conforms it to its contract once;
    from the frame written, each day gets its metadata and a verdict of every judge
    (turned into the step's check results by `check_results`). A progress line is logged
    per chunk.
    """

    def __init__(
        self,
        context: dg.AssetExecutionContext,
        days: Sequence[dt.date],
        compute: Callable[[list[dt.date]], pl.DataFrame],
        judges: Mapping[str, Judge] | None = None,
        summary: Callable[[], Mapping[str, object]] | None = None,
    ):
        self.context, self.days, self.compute = context, list(days), compute
        self.summary = summary
        self.asset = context.asset_key.to_user_string()
        self.judges = dict(judges or {})
        self.verdicts: dict[str, dict[str, Outcome]] = {name: {} for name in self.judges}
        self.written = 0

    def write(self, write_day: WriteDay, chunk_days: int) -> None:
        table = TABLES[self.asset]
        for chunk in chunks(self.days, chunk_days):
            for day, frame in by_day(self.asset, self.compute(chunk), chunk):
                key = partition_key(day)
                frame = write_day(key, frame)
                self.context.add_asset_metadata(partition_metadata(frame, table), partition_key=key)
                for name, judge in self.judges.items():
                    self.verdicts[name][key] = judge(key, frame)
                self.written += 1
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


def by_day(
    asset: str, frame: pl.DataFrame, days: Sequence[dt.date]
) -> Iterator[tuple[dt.date, pl.DataFrame]]:
    """Each of `days` with its rows of `frame` (none: an empty frame of the same columns).
    Rows of any other day are a bug of the computation: refused before anything is written."""
    parts = {d: part for (d,), part in frame.partition_by("date", as_dict=True).items()}
    stray = sorted(map(str, set(parts) - set(days)))
    if stray:
        raise ValueError(
            f"{asset}: computed rows of days outside the chunk {days[0]}..{days[-1]}: {stray[:5]}"
        )
    for day in days:
        yield day, parts[day] if day in parts else frame.clear()
