"""Market data assets: the day's universe, raw bars, completed bars and fundamentals."""

import datetime as dt

import dagster as dg
import polars as pl
from pydantic import field_validator

from stockmonitor_assets.assets.metadata import add_partition_metadata
from stockmonitor_assets.assets.partitions import (
    PartitionFrames,
    partition_days,
    split_by_day,
    trading_day_asset,
)
from stockmonitor_assets.resources import MarketDataResource
from stockmonitor_assets.schemas import COMPLETED_OHLCV, FUNDAMENTALS, INSTRUMENTS
from stockmonitor_assets.sources.base import MarketDataSource
from stockmonitor_assets.trading_calendar import (
    nearest_trading_days,
    partition_date,
    partition_key,
)
from stockmonitor_assets.transforms import bars, completion
from stockmonitor_assets.transforms.codes import normalize_order_book_ids

# How far back completion looks in the source when no previous day is stored yet.
BOOTSTRAP_LOOKBACK = dt.timedelta(days=5 * 366)

COMMON = trading_day_asset("market_data")


class UniverseConfig(dg.Config):
    """Which stocks to sync; empty means the source's whole A-share universe."""

    target_stocks: list[str] = []

    @field_validator("target_stocks")
    @classmethod
    def _normalize(cls, codes: list[str]) -> list[str]:
        return normalize_order_book_ids(codes)


@dg.asset(**COMMON)
def instruments(
    context: dg.AssetExecutionContext, config: UniverseConfig, market_data: MarketDataResource
) -> dict[str, pl.DataFrame]:
    """Every A-share stock listed on the day, with board, ST and suspension status."""
    source, days = market_data.client(), partition_days(context)
    _require_trading_days(source, days)
    frames = {partition_key(d): _universe(source, d, config.target_stocks) for d in days}
    _require_known_targets(source, days, config.target_stocks, frames)
    _report(context, frames)
    return frames


@dg.asset(**COMMON)
def raw_ohlcv(
    context: dg.AssetExecutionContext,
    market_data: MarketDataResource,
    instruments: PartitionFrames,
) -> dict[str, pl.DataFrame]:
    """Unadjusted daily bars exactly as the source returned them, with the ex-dividend factor."""
    source, days = market_data.client(), partition_days(context)
    universe = pl.concat(instruments.values())
    ids = universe["order_book_id"].unique().sort().to_list()
    fetched = bars.validate_source_bars(
        source.daily_bars(ids, days[0], days[-1]), days, source.name
    )
    listed = fetched.join(universe.select("order_book_id", "date"), on=["order_book_id", "date"])
    with_factor = bars.attach_adj_factor(listed, source.ex_factors(ids, days[0], days[-1]))
    frames = split_by_day(with_factor, days)
    _report(context, frames)
    return frames


@dg.asset(
    **COMMON,
    ins={
        "previous": dg.AssetIn(
            "completed_ohlcv",
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1),
            metadata={"allow_missing_partitions": True},
        )
    },
)
def completed_ohlcv(
    context: dg.AssetExecutionContext,
    market_data: MarketDataResource,
    instruments: PartitionFrames,
    raw_ohlcv: PartitionFrames,
    previous: PartitionFrames,
) -> dict[str, pl.DataFrame]:
    """One row per listed stock and day: suspended and missing bars carry the last close."""
    days = partition_days(context)
    last_known = _carry_state(previous, days[0])
    frames = {}
    for day in days:
        key = partition_key(day)
        universe, raw = instruments[key], raw_ohlcv[key]
        extra = _bootstrap(market_data.client(), day, universe, raw, last_known)
        frames[key] = completion.complete_day(day, universe, raw, pl.concat([last_known, extra]))
        last_known = completion.last_known_from(frames[key])
    _report(context, frames)
    return frames


@dg.asset(**COMMON)
def fundamentals(
    context: dg.AssetExecutionContext,
    market_data: MarketDataResource,
    instruments: PartitionFrames,
) -> dict[str, pl.DataFrame]:
    """Point-in-time fundamentals: only reports announced on or before the day."""
    source = market_data.client()
    frames = {}
    for key, universe in sorted(instruments.items()):
        day = partition_date(key)
        ids = universe["order_book_id"].to_list()
        reported = source.fundamentals_pit(ids, day) if ids else FUNDAMENTALS.empty()
        frames[key] = _point_in_time(reported.with_columns(date=pl.lit(day)), day, source.name)
    _report(context, frames)
    return frames


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
    source: MarketDataSource, days: list[dt.date], targets: list[str], frames: dict
) -> None:
    """A target stock listed on none of the run's days is a typo, not an empty day."""
    listed = set().union(*(set(f["order_book_id"]) for f in frames.values()))
    unknown = sorted(set(targets) - listed)
    if unknown:
        raise dg.Failure(
            description=(
                f"target stock(s) {unknown} are not listed at source {source.name!r} on any day "
                f"of {days[0]}..{days[-1]}; nothing was written"
            ),
            metadata={"unknown_stocks": unknown},
        )


def _universe(source: MarketDataSource, day: dt.date, targets: list[str]) -> pl.DataFrame:
    frame = source.instruments(day).with_columns(date=pl.lit(day))
    if targets:
        frame = frame.filter(pl.col("order_book_id").is_in(targets))
    return INSTRUMENTS.conform(frame)


def _carry_state(previous: dict[str, pl.DataFrame], first_day: dt.date) -> pl.DataFrame:
    key = partition_key(first_day)
    earlier = [k for k in sorted(previous) if k < key]
    state = previous[earlier[-1]] if earlier else COMPLETED_OHLCV.empty()
    return completion.last_known_from(state)


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
    return FUNDAMENTALS.conform(frame)


def _report(context: dg.AssetExecutionContext, frames: dict) -> None:
    add_partition_metadata(context, frames)
