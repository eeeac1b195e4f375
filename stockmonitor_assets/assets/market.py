"""Market data assets: the day's universe, raw bars, completed bars and fundamentals."""

import datetime as dt
from dataclasses import dataclass

import dagster as dg
import polars as pl
from pydantic import field_validator

from stockmonitor_assets.assets.partitions import (
    DayStream,
    by_day,
    partition_days,
    trading_day_asset,
    upstream,
)
from stockmonitor_assets.assets.rules import COMPLETION_CHECK, check_spec, record_thresholds
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.quality import Outcome, check_completion
from stockmonitor_assets.resources import MarketDataResource
from stockmonitor_assets.run_request import RunRequestError, listed_codes, require_listed
from stockmonitor_assets.schemas import COMPLETED_OHLCV, FUNDAMENTALS, TABLES
from stockmonitor_assets.sources.base import MarketDataSource
from stockmonitor_assets.storage import PartitionStore
from stockmonitor_assets.thresholds import QualityThresholds
from stockmonitor_assets.trading_calendar import (
    nearest_trading_days,
    partition_key,
    sessions_through,
)
from stockmonitor_assets.transforms import bars, completion
from stockmonitor_assets.transforms.codes import normalize_order_book_ids
from stockmonitor_assets.transforms.subset import merge_subset

# How far back completion looks in the source when no previous day is stored yet.
BOOTSTRAP_LOOKBACK = dt.timedelta(days=5 * 366)

# Every market asset may call the source (completion: the last bar of a stock with no history).
COMMON = trading_day_asset("market_data", calls_source=True)


class UniverseConfig(dg.Config):
    """Which stocks to sync; empty means the source's whole A-share universe."""

    target_stocks: list[str] = []

    @field_validator("target_stocks")
    @classmethod
    def _normalize(cls, codes: list[str]) -> list[str]:
        return normalize_order_book_ids(codes)


@dg.asset(**COMMON)
def instruments(
    context: dg.AssetExecutionContext,
    config: UniverseConfig,
    market_data: MarketDataResource,
    io_manager: dg.ResourceParam[PartitionedParquetIOManager],
):
    """Every A-share stock listed on the day, with board, ST and suspension status."""
    source, days = market_data.client(), partition_days(context)
    _require_trading_days(source, days)
    _require_known_targets(source, days, config.target_stocks)
    subset = Subset.of(context, config, io_manager.store, days)

    def compute(chunk: list[dt.date]) -> pl.DataFrame:
        return subset.into_days(chunk, _stacked(_universe(source, d, subset) for d in chunk))

    yield dg.Output(DayStream(context, days, compute))


@dg.asset(**COMMON, deps=["instruments"])
def raw_ohlcv(
    context: dg.AssetExecutionContext,
    config: UniverseConfig,
    market_data: MarketDataResource,
    io_manager: dg.ResourceParam[PartitionedParquetIOManager],
):
    """Unadjusted daily bars exactly as the source returned them, with the ex-dividend factor."""
    source, days = market_data.client(), partition_days(context)
    instruments = upstream(context, io_manager, "instruments")
    subset = Subset.of(context, config, io_manager.store, days)

    def compute(chunk: list[dt.date]) -> pl.DataFrame:
        universe = subset.rows(instruments.stack(chunk))
        ids = universe["order_book_id"].unique().sort().to_list()
        fetched = bars.validate_source_bars(
            source.daily_bars(ids, chunk[0], chunk[-1]), chunk, source.name
        )
        listed = fetched.join(
            universe.select("order_book_id", "date"), on=["order_book_id", "date"]
        )
        factors = source.ex_factors(ids, chunk[0], chunk[-1])
        return subset.into_days(chunk, bars.attach_adj_factor(listed, factors))

    yield dg.Output(DayStream(context, days, compute))


@dg.asset(
    **COMMON,
    deps=["instruments", "raw_ohlcv"],
    check_specs=[check_spec("completed_ohlcv", COMPLETION_CHECK)],
)
def completed_ohlcv(
    context: dg.AssetExecutionContext,
    config: UniverseConfig,
    market_data: MarketDataResource,
    io_manager: dg.ResourceParam[PartitionedParquetIOManager],
    quality: QualityThresholds,
):
    """One row per listed stock and day: suspended and missing bars carry the last close.

    The state carried into the first day is the stored partition of the trading day before
    it (read from the store, not declared as a self-dependency: a self-dependency makes
    Dagster's backfill daemon split a UI backfill into one run per wave).
    """
    source, days = market_data.client(), partition_days(context)
    instruments = upstream(context, io_manager, "instruments")
    raw_ohlcv = upstream(context, io_manager, "raw_ohlcv")
    subset = Subset.of(context, config, io_manager.store, days)
    state = {"last_known": _carry_state(io_manager.store, days[0])}

    def compute(chunk: list[dt.date]) -> pl.DataFrame:
        frames = []
        for day in chunk:
            key, last_known = partition_key(day), state["last_known"]
            universe, raw = subset.rows(instruments[key]), subset.rows(raw_ohlcv[key])
            extra = _bootstrap(source, day, universe, raw, last_known)
            fresh = completion.complete_day(day, universe, raw, pl.concat([last_known, extra]))
            frames.append(subset.into_days([day], fresh))
            state["last_known"] = completion.last_known_from(frames[-1])
        return _stacked(frames)

    calendar = sessions_through(days[-1])

    def judge(key: str, frame: pl.DataFrame) -> Outcome:
        return check_completion(frame, calendar, quality.max_filled_share, quality.max_gap_days)

    record_thresholds(context, quality)
    stream = DayStream(context, days, compute, judges={COMPLETION_CHECK.name: judge})
    yield dg.Output(stream)
    yield from stream.check_results([COMPLETION_CHECK], quality)


@dg.asset(**COMMON, deps=["instruments"])
def fundamentals(
    context: dg.AssetExecutionContext,
    config: UniverseConfig,
    market_data: MarketDataResource,
    io_manager: dg.ResourceParam[PartitionedParquetIOManager],
):
    """Point-in-time fundamentals: only reports announced on or before the day."""
    source, days = market_data.client(), partition_days(context)
    instruments = upstream(context, io_manager, "instruments")
    subset = Subset.of(context, config, io_manager.store, days)

    def compute(chunk: list[dt.date]) -> pl.DataFrame:
        frames = []
        for day in chunk:
            ids = subset.rows(instruments[partition_key(day)])["order_book_id"].to_list()
            reported = source.fundamentals_pit(ids, day) if ids else FUNDAMENTALS.empty()
            frames.append(_point_in_time(reported.with_columns(date=pl.lit(day)), day, source.name))
        return subset.into_days(chunk, _stacked(frames))

    yield dg.Output(DayStream(context, days, compute))


@dataclass(frozen=True)
class Subset:
    """A sync of some stocks (`target_stocks`): their fresh rows replace theirs in the
    stored day, every other stock's rows stay as stored (transforms/subset.py). Without
    targets, a sync computes and writes the whole day."""

    store: PartitionStore
    asset: str
    targets: tuple[str, ...]

    @classmethod
    def of(cls, context, config: UniverseConfig, store: PartitionStore, days) -> "Subset":
        """The run's subset for this asset; refused before anything is written when a day
        of the range was never synced whole (there is nothing to merge into)."""
        subset = cls(store, context.asset_key.to_user_string(), tuple(config.target_stocks))
        if subset.targets:
            keys = [partition_key(d) for d in days]
            missing = sorted(set(keys) - set(store.stored_keys(subset.asset, keys)))
            if missing:
                raise dg.Failure(
                    description=(
                        f"{subset.asset}: a sync of target_stocks {list(subset.targets)} "
                        f"merges into the stored days, but {len(missing)} day(s) were never "
                        f"synced for the whole universe ({missing[0]}..{missing[-1]}); sync "
                        "them without target_stocks first. Nothing was written"
                    ),
                    metadata={"unsynced_days": missing},
                )
        return subset

    def rows(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of `frame` this sync refreshes."""
        if not self.targets:
            return frame
        return frame.filter(pl.col("order_book_id").is_in(list(self.targets)))

    def into_days(self, days: list[dt.date], fresh: pl.DataFrame) -> pl.DataFrame:
        """The rows to write for `days`: `fresh` itself, or merged into each stored day."""
        if not self.targets:
            return fresh
        return pl.concat(
            merge_subset(
                self.store.read(self.asset, partition_key(day)),
                part,
                self.targets,
                TABLES[self.asset],
                partition_key(day),
            )
            for day, part in by_day(self.asset, fresh, days)
        )


def _require_trading_days(source: MarketDataSource, days: list[dt.date]) -> None:
    """Fail before anything is written when the source says a day was not traded."""
    open_days = set(source.trading_days(days[0], days[-1]))
    closed = [d for d in days if d not in open_days]
    if closed:
        before, after = nearest_trading_days(closed[0])
        raise dg.Failure(
            description=(
                f"{closed[0]} is not a trading day for source {source.name!r} "
                f"(nearest trading days: {before} and {after}); nothing was written"
            ),
            metadata={"closed_days": [d.isoformat() for d in closed]},
        )


def _require_known_targets(
    source: MarketDataSource, days: list[dt.date], targets: list[str]
) -> None:
    """The run guard's listing rule (run_request.require_listed), for runs executed without
    the code location's executor (`execute_in_process`, `dg.materialize`)."""
    try:
        require_listed(targets, days, listed_codes(source), source.name)
    except RunRequestError as exc:
        raise dg.Failure(description=str(exc)) from None


def _universe(source: MarketDataSource, day: dt.date, subset: Subset) -> pl.DataFrame:
    return subset.rows(source.instruments(day).with_columns(date=pl.lit(day)))


def _stacked(frames) -> pl.DataFrame:
    """The frames of a chunk's days as one (columns matched by name; the write checks them)."""
    return pl.concat(frames, how="diagonal_relaxed")


def _carry_state(store: PartitionStore, first_day: dt.date) -> pl.DataFrame:
    """Last traded closes as of the trading day before `first_day`, if it is stored."""
    before, _ = nearest_trading_days(first_day)
    stored = store.read_if_exists("completed_ohlcv", partition_key(before)) if before else None
    return completion.last_known_from(COMPLETED_OHLCV.empty() if stored is None else stored)


def _bootstrap(
    source: MarketDataSource,
    day: dt.date,
    universe: pl.DataFrame,
    raw: pl.DataFrame,
    last_known: pl.DataFrame,
) -> pl.DataFrame:
    """Last traded bars from the source for stocks with no stored history (first run)."""
    needed = completion.stocks_needing_history(day, universe, raw, last_known)
    empty = completion.last_known_from(COMPLETED_OHLCV.empty())
    if not needed:
        return empty
    end = day - dt.timedelta(days=1)
    history = source.daily_bars(needed, day - BOOTSTRAP_LOOKBACK, end)
    factors = source.ex_factors(needed, day - BOOTSTRAP_LOOKBACK, end)
    found = completion.last_traded_bars(bars.attach_adj_factor(history, factors))
    return pl.concat([empty, found], how="vertical_relaxed")


def _point_in_time(frame: pl.DataFrame, day: dt.date, source: str) -> pl.DataFrame:
    leaked = frame.filter(pl.col("announce_date") > day)
    if len(leaked):
        raise bars.BadSourceDataError(
            f"source {source!r} returned {len(leaked)} report(s) announced after {day} "
            f"(look-ahead), e.g. {leaked['order_book_id'][0]}"
        )
    return frame
