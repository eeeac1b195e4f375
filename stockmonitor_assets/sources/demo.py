"""The demo source: an embedded, offline, deterministic synthetic A-share market.

`DemoMarket(seed, universe_size)` serves the `MarketDataSource` interface from a simulated
market starting at DEMO_EPOCH (2005-01-04): RQDatac codes on four boards, listings and
delistings, ST spells, short and very long suspensions, yearly cash dividends, limit
bands by board, occasional lost rows and NaN/null price fields, and quarterly reports
announced with a lag. Same (seed, universe_size, date) -> the same frames, whatever was
asked before: the world is drawn from keyed generators (`demo_universe`, `demo_reports`)
and the price path is simulated a year at a time from the epoch (`demo_simulation`),
cached on disk per year.

A day is served only once it is a trading day of the project calendar and its session has
closed: from 15:00 Asia/Shanghai on the day itself (per `clock`;
`trading_calendar.SESSION_CLOSE`, the one home of that rule). Its partition key appears
later, at the end of the day, so a run of a listed key always finds the day published.
"""

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from stockmonitor_assets.schemas import (
    BOARDS,
    EX_FACTORS,
    FUNDAMENTALS,
    INSTRUMENTS,
    SOURCE_BARS,
)
from stockmonitor_assets.sources.base import DataNotAvailableError
from stockmonitor_assets.sources.demo_reports import build_reports
from stockmonitor_assets.sources.demo_simulation import (
    AS_NULL,
    MISSING_ROW,
    NAN_SHIFT,
    NO_ROW,
    YearBars,
    end_state,
    limit_price,
    simulate_year,
    year_events,
)
from stockmonitor_assets.sources.demo_universe import (
    DEMO_EPOCH,
    MAX_UNIVERSE_SIZE,
    NEVER,
    Universe,
    build_universe,
    year_sessions,
)

__all__ = ["DEMO_EPOCH", "DemoMarket", "clear_caches"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
_UNIX_EPOCH = dt.date(1970, 1, 1).toordinal()
_PRICES = ("open", "high", "low", "close")


class DemoMarket:
    """A synthetic A-share market, reproducible from (seed, universe_size) alone.

    Args:
        seed: chooses the market; every value follows from it.
        universe_size: number of stocks ever listed (1 to 8000; the real market has ~5,400).
        clock: returns "now" (naive = Asia/Shanghai); decides what is published. Default:
            the wall clock.
        cache_dir: where simulated years are kept across processes (`demo_cache`; the
            `Settings.demo_cache_dir` a run passes); None: simulated again in each.
    """

    name = "demo"

    def __init__(
        self,
        seed: int = 42,
        universe_size: int = 300,
        clock: Callable[[], dt.datetime] | None = None,
        cache_dir: Path | None = None,
    ):
        if not 1 <= universe_size <= MAX_UNIVERSE_SIZE:
            raise ValueError(
                f"universe_size must be in [1, {MAX_UNIVERSE_SIZE}], got {universe_size}"
            )
        self.seed, self.universe_size, self.cache_dir = seed, universe_size, cache_dir
        self._clock = clock or (lambda: dt.datetime.now(SHANGHAI))

    def __repr__(self) -> str:
        return f"DemoMarket(seed={self.seed}, universe_size={self.universe_size})"

    def trading_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """The project calendar's sessions in [start, end], none before DEMO_EPOCH."""
        from stockmonitor_assets import trading_calendar

        return trading_calendar.calendar_sessions(max(start, DEMO_EPOCH), end)

    def instruments(self, day: dt.date) -> pl.DataFrame:
        """Every stock listed on `day` (listed_date <= day < de_listed_date).

        `de_listed_date` is shown from the start of the 15-trading-day delisting period
        (退市整理期), null before: a past day never reveals a delisting not yet announced.
        """
        self._require_served(day)
        u, d = self._universe(), day.toordinal()
        stocks = np.flatnonzero((u.listed <= d) & (d < u.delisted))
        is_st = u.st.covering(d, u.size)[stocks]
        star = u.star_st.covering(d, u.size)[stocks]
        prefix = np.where(star, "*ST", np.where(is_st, "ST", ""))
        delisted = np.where(u.delisting_known[stocks] <= d, u.delisted[stocks], NEVER)
        frame = pl.DataFrame(
            {
                "order_book_id": u.codes[stocks].astype(str),
                "symbol": np.char.add(prefix, u.names[stocks]),
                "board": pl.Series(np.array(BOARDS)[u.board[stocks]], dtype=pl.Enum(BOARDS)),
                "listed_date": _dates(u.listed[stocks]),
                "de_listed_date": _dates(delisted, missing=NEVER),
                "is_st": is_st,
                "is_suspended": u.suspensions.covering(d, u.size)[stocks],
            }
        )
        return INSTRUMENTS.conform(frame.with_columns(date=pl.lit(day))).drop("date")

    def daily_bars(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Unadjusted bars of `ids` on the trading days in [start, end].

        Suspended days have no row; ~0.2% of traded days have no row either, and ~0.2% have
        NaN or null open/high/low/close. Raises DataNotAvailableError if `end` is not
        published yet. Unknown codes are ignored.
        """
        self._require_published(end)
        days = self.trading_days(start, end)
        stocks = self._stocks(ids)
        if not days or not len(stocks):
            return SOURCE_BARS.empty()
        years = [self._year(y) for y in range(days[0].year, days[-1].year + 1)]
        return _bars(self._universe(), years, stocks, days[0], days[-1])

    def ex_factors(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Every ex-dividend event of `ids` with ex_date <= end; `start` is ignored since the
        cumulative factor needs all history. Raises DataNotAvailableError past publication."""
        self._require_published(end)
        stocks = self._stocks(ids)
        if end < DEMO_EPOCH or not len(stocks):
            return EX_FACTORS.empty()
        events = [
            year_events(self.seed, self.universe_size, y, self.cache_dir)
            for y in range(DEMO_EPOCH.year, end.year + 1)
        ]
        stock, day, factor = (np.concatenate(column) for column in zip(*events, strict=True))
        wanted = np.zeros(self.universe_size, dtype=bool)
        wanted[stocks] = True
        keep = wanted[stock]
        events = pl.DataFrame(
            {
                "order_book_id": self._universe().codes[stock[keep]].astype(str),
                "ex_date": _dates(day[keep]),
                "factor": factor[keep],
            }
        )
        factors = events.sort("order_book_id", "ex_date").with_columns(
            ex_cum_factor=pl.col("factor").cum_prod().over("order_book_id")
        )
        return EX_FACTORS.conform(factors.filter(pl.col("ex_date") <= end))

    def fundamentals_pit(self, ids: Sequence[str], day: dt.date) -> pl.DataFrame:
        """As known on `day`: the latest report announced on or before it, and market caps
        at the day's close (the last traded close when suspended). The source's own PE/PB
        are null when profit/equity is not positive."""
        self._require_served(day)
        u, d = self._universe(), day.toordinal()
        stocks = self._stocks(ids)
        stocks = stocks[(u.listed[stocks] <= d) & (d < u.delisted[stocks])]
        reports = build_reports(self.seed, self.universe_size)
        quarter = reports.latest(stocks, d)
        stocks, quarter = stocks[quarter >= 3], quarter[quarter >= 3]
        year = self._year(day.year)
        close = year.close[np.searchsorted(year.days, d), stocks] / 100
        total_cap = close * u.total_shares[stocks]
        locked_up = d < u.listed[stocks] + 365
        float_ratio = np.where(locked_up, np.minimum(u.float_ratio[stocks], 0.25), 1.0)
        profit = reports.net_profit_ttm[stocks, quarter]
        equity = reports.equity[stocks, quarter]
        frame = pl.DataFrame(
            {
                "order_book_id": u.codes[stocks].astype(str),
                "date": pl.Series([day] * len(stocks), dtype=pl.Date),
                "total_market_cap": total_cap,
                "float_market_cap": total_cap * u.float_ratio[stocks] * float_ratio,
                "net_profit_ttm": profit,
                "total_equity": equity,
                "revenue_ttm": reports.revenue_ttm[stocks, quarter],
                "report_period": _dates(reports.period_end[quarter]),
                "announce_date": _dates(reports.announced[stocks, quarter]),
                "source_pe_ttm": _ratio(total_cap, profit),
                "source_pb": _ratio(total_cap, equity),
            }
        )
        return FUNDAMENTALS.conform(frame).drop("date")

    def latest_published_day(self) -> dt.date | None:
        """The last session of the project calendar published by now (its close, see above)."""
        from stockmonitor_assets import trading_calendar

        through = self._published_through()
        days = trading_calendar.sessions(through - dt.timedelta(days=40), through)
        return days[-1] if days and days[-1] >= DEMO_EPOCH else None

    def _universe(self) -> Universe:
        return build_universe(self.seed, self.universe_size)

    def _year(self, year: int) -> YearBars:
        return simulate_year(self.seed, self.universe_size, year, self.cache_dir)

    def _stocks(self, ids: Sequence[str]) -> np.ndarray:
        """Indexes of the known codes among `ids`, in code order; unknown codes are ignored."""
        index = _code_index(self.seed, self.universe_size)
        codes = sorted({c for c in ids if c in index})
        return np.array([index[c] for c in codes], dtype=np.int64)

    def _published_through(self) -> dt.date:
        from stockmonitor_assets.trading_calendar import latest_closed_session

        return latest_closed_session(self._now())

    def _now(self) -> dt.datetime:
        now = self._clock()
        return now.astimezone(SHANGHAI) if now.tzinfo else now

    def _require_published(self, day: dt.date) -> None:
        from stockmonitor_assets.trading_calendar import SESSION_CLOSE

        if day > self._published_through():
            raise DataNotAvailableError(
                f"demo market data for {day} is not published yet: a day is published when "
                f"its session closes, {SESSION_CLOSE:%H:%M} Asia/Shanghai "
                f"(now {self._now():%Y-%m-%d %H:%M})"
            )

    def _require_served(self, day: dt.date) -> None:
        """`day` must be a trading day of the market and published."""
        from stockmonitor_assets import trading_calendar

        if day < DEMO_EPOCH:
            raise DataNotAvailableError(
                f"{day} is before the demo market's first trading day {DEMO_EPOCH}"
            )
        if not trading_calendar.calendar_sessions(day, day):
            before, after = trading_calendar.nearest_sessions(day)
            raise DataNotAvailableError(
                f"{day} is not a trading day of the demo market; "
                f"nearest trading days: {before} and {after}"
            )
        self._require_published(day)


def clear_caches() -> None:
    """Forget every simulated market in this process (memory, and determinism tests)."""
    caches = (build_universe, build_reports, simulate_year, end_state, year_sessions, _code_index)
    for cached in caches:
        cached.cache_clear()


@functools.lru_cache(maxsize=8)
def _code_index(seed: int, size: int) -> dict[str, int]:
    """Code -> stock index."""
    return {code: i for i, code in enumerate(build_universe(seed, size).codes)}


def _ratio(value: np.ndarray, base: np.ndarray) -> pl.Series:
    """value / base where base > 0, else null."""
    positive = base > 0
    return pl.Series(np.where(positive, value / np.where(positive, base, 1.0), np.nan)).fill_nan(
        None
    )


def _dates(ordinals: np.ndarray, missing: int | None = None) -> pl.Series:
    """Ordinals as a polars Date series; `missing` ordinals become null."""
    days = pl.Series(np.asarray(ordinals, dtype=np.int64) - _UNIX_EPOCH).cast(pl.Int32)
    if missing is not None:
        days = days.set(pl.Series(np.asarray(ordinals) == missing), None)
    return days.cast(pl.Date)


def _bars(
    u: Universe, years: list[YearBars], stocks: np.ndarray, first: dt.date, last: dt.date
) -> pl.DataFrame:
    """SOURCE_BARS rows of `stocks` (sorted by code) on the trading days in [first, last].

    Matrices are sliced day-major and raveled stock-major, so rows come out already in
    (order_book_id, date) order.
    """
    windows = [
        (
            y,
            np.searchsorted(y.days, first.toordinal()),
            np.searchsorted(y.days, last.toordinal(), "right"),
        )
        for y in years
    ]

    def column(name: str) -> np.ndarray:
        parts = [getattr(y, name)[t0:t1, stocks] for y, t0, t1 in windows]
        return np.concatenate(parts).T.ravel()

    days = np.concatenate([y.days[t0:t1] for y, t0, t1 in windows])
    status = column("status")
    present = np.flatnonzero((status & (NO_ROW | MISSING_ROW)) == 0)
    cents = {k: column(k)[present].astype(np.float64) for k in (*_PRICES, "prev_close")}
    band = column("band")[present].astype(np.int64)
    volume = column("volume")[present] * 100.0
    frame = pl.DataFrame(
        {
            "order_book_id": pl.Series(u.codes[stocks].astype(str)).gather(present // len(days)),
            "date": _dates(days[present % len(days)]),
            **{k: cents[k] / 100 for k in (*_PRICES, "prev_close")},
            "volume": volume,
            "total_turnover": np.round(volume * sum(cents[k] for k in _PRICES) / 400, 2),
            "limit_up": _limit(cents["prev_close"], 100 + band),
            "limit_down": _limit(cents["prev_close"], 100 - band),
        }
    )
    return _damaged(frame, status[present])


def _limit(prev: np.ndarray, percent: np.ndarray) -> pl.Series:
    """round(prev_close x percent / 100, 2), half up, computed exactly in cents; null when
    the band is 0 (unlimited)."""
    cents = limit_price(prev, percent)
    return pl.Series(np.where(percent != 100, cents / 100, np.nan)).fill_nan(None)


def _damaged(frame: pl.DataFrame, status: np.ndarray) -> pl.DataFrame:
    """Blank the price fields the simulation marked as lost: NaN, or null for some rows."""
    as_null = pl.Series((status & AS_NULL) > 0)
    return frame.with_columns(
        pl.when(pl.Series((status >> (NAN_SHIFT + i)) & 1 == 1))
        .then(pl.when(as_null).then(None).otherwise(float("nan")))
        .otherwise(pl.col(name))
        .alias(name)
        for i, name in enumerate(_PRICES)
    )
