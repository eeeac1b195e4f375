"""Indicator assets: technical (trailing window of completed bars) and fundamental ratios."""

import datetime as dt
from collections.abc import Sequence

import dagster as dg
import polars as pl

from stockmonitor_assets.assets.partitions import (
    DayStream,
    by_day,
    partition_days,
    trading_day_asset,
    upstream,
)
from stockmonitor_assets.assets.rules import SOURCE_RATIOS_CHECK, check_spec, record_thresholds
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.plugins import PluginError
from stockmonitor_assets.quality import Outcome, check_source_ratios
from stockmonitor_assets.resources import MarketDataResource
from stockmonitor_assets.schemas import CUSTOM_FACTORS
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.sources.base import MarketDataSource
from stockmonitor_assets.storage import PartitionStore
from stockmonitor_assets.thresholds import QualityThresholds
from stockmonitor_assets.trading_calendar import partition_key, sessions_through
from stockmonitor_assets.transforms import bars, custom_factors, fundamental, technical

# Columns of completed_ohlcv the indicators read: the window buffer keeps only these.
HISTORY_COLUMNS = ("order_book_id", "date", "close", "volume", "adj_factor", "is_filled")

COMMON = trading_day_asset("indicators")


# Window days never stored come from the source: in its pool. `completed_ohlcv` is a dep,
# not an input: the window (this run's days included) is read from the store below, so an
# input would only add a "loaded input" event per run (the lineage and the graph are the same).
@dg.asset(**trading_day_asset("indicators", calls_source=True), deps=["completed_ohlcv"])
def technical_indicators(
    context: dg.AssetExecutionContext,
    market_data: MarketDataResource,
    io_manager: dg.ResourceParam[PartitionedParquetIOManager],
    settings: Settings,
):
    """SMA, RSI, MACD, 20-day return and volatility on forward-adjusted traded bars.

    Depends on `completed_ohlcv` of the same day; the earlier days of the window are read
    from the store (a window partition mapping makes Dagster's backfill daemon target every
    day whose window touches a range, and split it into several runs). Window days never
    stored (a fresh install) are taken from the source's bars, so the first day computed
    already has full indicators; new listings still get null until they have the bars.
    """
    days = partition_days(context)
    calendar = sessions_through(days[-1])
    window_sessions = settings.lookback_days  # STOCKMONITOR_LOOKBACK_DAYS
    history = WindowHistory(io_manager.store, market_data.client(), calendar, window_sessions)

    def compute(chunk: list[dt.date]) -> pl.DataFrame:
        window = history.covering(chunk, context.partition_keys)
        values = technical.compute_technical_indicators(
            window, chunk, calendar, window=window_sessions
        )
        return _with_custom_factors(values, window, chunk)

    def summary() -> dict[str, int]:
        return {
            "window_sessions": window_sessions,
            "window_days_from_store": history.days_from_store,
            "window_days_from_source": history.days_from_source,
        }

    yield dg.Output(DayStream(context, days, compute, summary=summary))


@dg.asset(
    **COMMON,
    deps=["fundamentals"],
    check_specs=[check_spec("fundamental_indicators", SOURCE_RATIOS_CHECK)],
)
def fundamental_indicators(
    context: dg.AssetExecutionContext,
    quality: QualityThresholds,
    io_manager: dg.ResourceParam[PartitionedParquetIOManager],
):
    """PE TTM, PB, ROE TTM and their inverses EP, BP, point in time."""
    days, fundamentals = partition_days(context), upstream(context, io_manager, "fundamentals")

    def compute(chunk: list[dt.date]) -> pl.DataFrame:
        return fundamental.compute_fundamental_indicators(fundamentals.stack(chunk))

    def judge(key: str, frame: pl.DataFrame) -> Outcome:
        return check_source_ratios(frame, fundamentals[key], quality.ratio_tolerance)

    record_thresholds(context, quality)
    stream = DayStream(context, days, compute, judges={SOURCE_RATIOS_CHECK.name: judge})
    yield dg.Output(stream)
    yield from stream.check_results([SOURCE_RATIOS_CHECK], quality)


def _with_custom_factors(values: pl.DataFrame, window: pl.DataFrame, chunk) -> pl.DataFrame:
    """The users' factors (plugins.py) joined on; a failing one fails the step, naming it,
    before the chunk is written (built-in columns are never written without them)."""
    if not CUSTOM_FACTORS:
        return values
    try:
        custom = custom_factors.compute_custom_factors(window, chunk, CUSTOM_FACTORS)
    except PluginError as error:
        raise dg.Failure(description=str(error)) from None
    return values.join(custom, on=["order_book_id", "date"], how="left")


class WindowHistory:
    """The completed bars of the indicator window, as a buffer that slides with the chunks.

    Each stored day is read once per run however many chunks need it, and dropped once no
    later chunk can: memory follows the window (~270 days), not the range.
    """

    def __init__(self, store: PartitionStore, source: MarketDataSource, calendar, window: int):
        self.store, self.source, self.calendar = store, source, list(calendar)
        self.window = window  # sessions of the indicator window
        self.index = {d: i for i, d in enumerate(self.calendar)}
        self.buffer: dict[dt.date, pl.DataFrame] = {}
        self.days_from_store = self.days_from_source = 0

    def covering(self, chunk: list[dt.date], run_keys: Sequence[str]) -> pl.DataFrame:
        """HISTORY_COLUMNS of every window day of `chunk` (the chunk's days included; this
        run's `run_keys` of completed_ohlcv are written before this step)."""
        first = technical.window_start(
            self.index[chunk[0]], self.window, technical.ANCHOR_STEP_DEFAULT
        )
        needed = self.calendar[first : self.index[chunk[-1]] + 1]
        self.buffer = {d: f for d, f in self.buffer.items() if d >= needed[0]}
        unread = [d for d in needed if d not in self.buffer]
        keys = [partition_key(d) for d in unread]
        stored = set(self.store.stored_keys("completed_ohlcv", keys)) | set(run_keys)
        on_disk = [(day, key) for day, key in zip(unread, keys, strict=True) if key in stored]
        if on_disk:
            days, stored_keys = zip(*on_disk, strict=True)
            frame = self.store.read_many("completed_ohlcv", stored_keys, HISTORY_COLUMNS)
            self.buffer.update(by_day("completed_ohlcv", frame, days))
            self.days_from_store += len(days)
        never_stored = [d for d in unread if d not in self.buffer]
        if never_stored:
            self.buffer.update(self._from_source(never_stored, self.buffer[chunk[0]]))
        return pl.concat([self.buffer[d] for d in needed if d in self.buffer])

    def _from_source(self, days: list[dt.date], universe: pl.DataFrame) -> dict:
        """Traded bars of `days` from the source, for the stocks of `universe`."""
        ids = universe["order_book_id"].to_list()
        fetched = self.source.daily_bars(ids, days[0], days[-1])
        factors = self.source.ex_factors(ids, days[0], days[-1])
        traded = (
            bars.attach_adj_factor(fetched, factors)
            .filter(pl.col("date").is_in(days))
            .with_columns(
                close=pl.col("close").fill_nan(None),
                is_filled=pl.col("volume").fill_null(0) <= 0,
            )
            .select(HISTORY_COLUMNS)
        )
        self.days_from_source += len(days)
        return dict(by_day("completed_ohlcv", traded, days))
