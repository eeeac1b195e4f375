"""The demo market's price path, simulated one calendar year at a time.

Each trading day's shocks come from a generator keyed by (seed, day ordinal), and a year
starts from the end state of the previous one, so a day's bar never depends on how far
the simulation ran or on what was requested before. Prices are int32 cents (exact
rounding, exact limit hits, half the memory of float64); a 5,000-stock year takes ~30 MB.

Model per stock: return = beta x market + sigma x shock (4x on ~8% of days) + a pull
towards a drifting fair price; the close is clipped to the day's limit band. Limits are
round(prev_close x (1 +/- band), 2) with band 10% main board, 5% ST (main board, and
ChiNext before its 2020-08-24 reform), 20% ChiNext/STAR, 30% BSE, none on the first 5
trading days after listing. prev_close is the last traded close, minus the dividend on
an ex-dividend day (June/July, one per year for payers), and the path continues from it.
"""

import dataclasses
import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stockmonitor_assets.sources import demo_cache
from stockmonitor_assets.sources.demo_universe import (
    CHINEXT,
    DEMO_EPOCH,
    MAIN,
    Intervals,
    Universe,
    build_universe,
    year_sessions,
)

CHINEXT_REFORM = dt.date(2020, 8, 24).toordinal()
UNLIMITED_DAYS = 5
# status bits of a stock-day
NO_ROW = 1  # not listed, or suspended: the source has no bar
MISSING_ROW = 2  # traded, but the source lost the row
NAN_SHIFT = 2  # bits 2-5: open, high, low, close delivered as NaN
AS_NULL = 64  # damaged fields are null rather than NaN
_MISSING_RATE, _DAMAGED_RATE = 0.002, 0.002
_PULL = 0.004  # daily pull of the price towards its fair value
# Rows of the per-stock uniforms (see _Draws).
_SHOCK, _GAP, _JUMP, _HIGH, _LOW, _VOLUME = 0, 3, 4, 5, 6, 7
_WORDS = 2  # 64-bit words per stock and day
_BLOCK = 16  # days per block of vectorized work
_BOARD_BAND = np.array([10, 20, 20, 30])  # by board index: main, chinext, star, bse
_OLD_BOARD_BAND = np.array([10, 10, 20, 30])  # before the ChiNext reform


@dataclass(frozen=True, eq=False)
class State:
    """What a year hands to the next one."""

    last_close: np.ndarray  # int64 cents: last traded close (IPO price before listing)
    fair: np.ndarray  # log fair price
    age: np.ndarray  # trading days listed, the current one included
    market: float  # log level of the market factor


@dataclass(frozen=True, eq=False)
class YearBars:
    """One year of (days, stocks) matrices plus the year's ex-dividend events."""

    days: np.ndarray  # trading-day ordinals
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray  # carries the last traded close on untraded days
    prev_close: np.ndarray
    volume: np.ndarray  # shares / 100
    band: np.ndarray  # limit band in %, 0 = unlimited
    status: np.ndarray
    event_stock: np.ndarray
    event_day: np.ndarray
    event_factor: np.ndarray  # previous close / ex-rights reference price
    end: State


# A year of 5,000 stocks takes ~30 MB in memory; the process keeps the last three it used.
@functools.lru_cache(maxsize=3)
def simulate_year(seed: int, size: int, year: int, cache_dir: Path | None = None) -> YearBars:
    """Bars of every stock on the trading days of `year` (from DEMO_EPOCH.year on).

    Cached in the process and on disk in `cache_dir` (`demo_cache`; None: not on disk): a
    new process reads the year instead of simulating every year since the epoch; the
    result is the same bit for bit.
    """
    stored = demo_cache.load_arrays(_cache_path(seed, size, year, cache_dir))
    if stored is not None:
        return _from_arrays(stored)
    state = start_state(seed, size, year, cache_dir)
    return _simulate_and_store(seed, size, year, state, cache_dir)


def start_state(seed: int, size: int, year: int, cache_dir: Path | None = None) -> State:
    """The state `year` starts from: the end of the previous year."""
    if year == DEMO_EPOCH.year:
        return _initial_state(build_universe(seed, size))
    return end_state(seed, size, year - 1, cache_dir)


@functools.lru_cache(maxsize=64)
def end_state(seed: int, size: int, year: int, cache_dir: Path | None = None) -> State:
    """The state at the end of `year`: read from its cache file's small end-state arrays
    (not its matrices), else simulated from the previous year's end. A cold first request
    for a 2026 day thus walks the years one after the other, holding a few years of
    matrices (simulate_year's cache), not twenty."""
    stored = _stored_end_state(seed, size, year, cache_dir)
    return stored if stored is not None else simulate_year(seed, size, year, cache_dir).end


def year_events(
    seed: int, size: int, year: int, cache_dir: Path | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The year's ex-dividend events (stock, day ordinal, factor), without its matrices."""
    names = ("event_stock", "event_day", "event_factor")
    stored = demo_cache.load_arrays(_cache_path(seed, size, year, cache_dir), names)
    if stored is None:
        bars = simulate_year(seed, size, year, cache_dir)
        return bars.event_stock, bars.event_day, bars.event_factor
    return stored["event_stock"], stored["event_day"], stored["event_factor"]


def _cache_path(seed: int, size: int, year: int, cache_dir: Path | None) -> Path | None:
    if year < DEMO_EPOCH.year:
        raise ValueError(f"the demo market starts in {DEMO_EPOCH.year}, not {year}")
    if cache_dir is None:
        return None
    calendar = [year_sessions(y) for y in range(DEMO_EPOCH.year, year + 1)]
    return demo_cache.cache_path(cache_dir, seed, size, year, calendar)


def _stored_end_state(seed: int, size: int, year: int, cache_dir: Path | None) -> State | None:
    names = [_END + f.name for f in dataclasses.fields(State)]
    stored = demo_cache.load_arrays(_cache_path(seed, size, year, cache_dir), names)
    return None if stored is None else _state(stored)


def _simulate_and_store(
    seed: int, size: int, year: int, state: State, cache_dir: Path | None
) -> YearBars:
    bars = _simulate(seed, build_universe(seed, size), year_sessions(year), state)
    demo_cache.store_arrays(_cache_path(seed, size, year, cache_dir), _to_arrays(bars))
    return bars


_END = "end_"  # prefix of the State fields among a stored year's arrays


def _to_arrays(bars: YearBars) -> dict[str, np.ndarray]:
    arrays = {f.name: getattr(bars, f.name) for f in dataclasses.fields(YearBars)}
    end = arrays.pop("end")
    return arrays | {
        _END + f.name: np.asarray(getattr(end, f.name)) for f in dataclasses.fields(State)
    }


def _from_arrays(arrays: dict[str, np.ndarray]) -> YearBars:
    arrays = dict(arrays)
    end = _state({n: arrays.pop(n) for n in list(arrays) if n.startswith(_END)})
    return YearBars(**arrays, end=end)


def _state(arrays: dict[str, np.ndarray]) -> State:
    end = {f.name: arrays[_END + f.name] for f in dataclasses.fields(State)}
    return State(**end | {"market": float(end["market"])})


def limit_price(prev_close: np.ndarray, percent: np.ndarray) -> np.ndarray:
    """round(prev_close x percent / 100) half up, in cents: exact, since the numerator is an
    integer-valued float far below 2**53 (and floor division is slow)."""
    return np.floor((prev_close * percent + 50) / 100)


def _between(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, low), high)


def _initial_state(universe: Universe) -> State:
    cents = np.rint(universe.first_price * 100).astype(np.int64)
    listed_before = universe.listed < DEMO_EPOCH.toordinal()
    return State(
        last_close=cents,
        fair=cents.astype(np.float64),
        age=np.where(listed_before, 10**6, 0).astype(np.int64),
        market=0.0,
    )


def _ex_days(seed: int, year: int, days: np.ndarray, size: int) -> np.ndarray:
    """Each stock's ex-dividend day of `year`: a trading day in June or July."""
    offsets = np.random.default_rng([seed, 7_200, year]).integers(0, 55, size)
    nominal = dt.date(year, 6, 1).toordinal() + offsets
    return days[np.minimum(np.searchsorted(days, nominal), len(days) - 1)]


def _simulate(seed: int, u: Universe, days: np.ndarray, state: State) -> YearBars:
    """The year's bars: day-by-day only for the close (the path), the rest vectorized."""
    draws = _Draws(seed, days, u.size)
    market_return, market_end = _market_path(draws.market(), state.market)
    listed = Intervals(np.arange(u.size), u.listed, u.delisted).covering_matrix(days, u.size)
    traded = listed & ~u.suspensions.covering_matrix(days, u.size)
    age = state.age + np.cumsum(listed, axis=0)
    band = _band(u, u.st.covering_matrix(days, u.size), days, age)
    payer = (u.dividend_yield > 0) & (age > 250)
    ex_day = _ex_days(seed, dt.date.fromordinal(int(days[0])).year, days, u.size)
    path = _Path(
        traded=traded,
        debut=listed & (age == 1),
        ex=traded & payer & (ex_day == days[:, None]),
        up_factor=np.where(band > 0, 100.0 + band, 1e9),
        down_factor=np.where(band > 0, 100.0 - band, 0.0),
        sigma=u.sigma * np.where(band == 0, 2.0, 1.0),
        market_return=market_return,
    )
    closes, prevs, events, last, fair = path.walk(u, draws, state)
    bars = _intraday(u, draws, prevs, closes, path)
    bars["status"] = _status(draws, traded)
    bars["band"] = band
    bars["close"], bars["prev_close"] = closes, prevs
    end = State(last, fair, age[-1].copy(), market_end)
    return _year_bars(days, bars, events, end)


class _Draws:
    """The year's random words: one PCG64 segment per trading day, keyed by its ordinal.

    Raw PCG64 words are a stream NumPy keeps stable across versions; each word splits into
    four 16-bit uniforms, 8 per stock and day (drawn stock by stock, so a stock's draws do
    not depend on the universe size): plenty for a toy market, and far cheaper than
    Generator distributions.
    """

    def __init__(self, seed: int, days: np.ndarray, size: int):
        bit_generator = np.random.PCG64([seed, 7_300])
        base = bit_generator.state
        words = np.empty((len(days), _WORDS * size + 1), dtype=np.uint64)
        for t, day in enumerate(days):
            bit_generator.state = base
            bit_generator.advance(int(day) << 40)
            words[t] = bit_generator.random_raw(_WORDS * size + 1)
        halves = words.astype("<u8", copy=False).view("<u2")
        self._market = halves[:, :4]
        stocks = halves[:, 4:].reshape(len(days), size, 4 * _WORDS)
        self.raw = np.ascontiguousarray(np.moveaxis(stocks, 2, 0))  # (8, days, stocks)

    def market(self) -> np.ndarray:
        return (self._market + 0.5) / 65536

    def below(self, k: int, probability: float) -> np.ndarray:
        """Row k's uniforms < probability, compared without converting them."""
        return self.raw[k] < probability * 65536

    def uniform(self, k: int, rows: slice = slice(None)) -> np.ndarray:
        return (self.raw[k, rows] + 0.5) * (1 / 65536)

    def normal(self, first: int, count: int, rows: slice = slice(None)) -> np.ndarray:
        """Irwin-Hall: a standardized sum of uniforms (fat tails come from jumps)."""
        total = self.raw[first, rows].astype(np.float64)
        for k in range(first + 1, first + count):
            total += self.raw[k, rows]
        return (total * (1 / 65536) - (count / 2 - count / 131072)) * np.sqrt(12 / count)


def _market_path(x: np.ndarray, level: float) -> tuple[np.ndarray, float]:
    """Daily market factor returns, mean-reverting in level, with occasional stress days."""
    returns = np.empty(len(x))
    for t, (a, b, c, jump) in enumerate(x):
        shock = (a + b + c - 1.5) * 2.0
        returns[t] = 0.0003 + 0.011 * shock * (2.5 if jump < 0.05 else 1.0) - 0.002 * level
        level += returns[t]
    return returns, level


@dataclass(frozen=True, eq=False)
class _Path:
    """(days, stocks) inputs of the close-price walk."""

    traded: np.ndarray
    debut: np.ndarray
    ex: np.ndarray
    up_factor: np.ndarray  # 100 + band, or huge when unlimited
    down_factor: np.ndarray
    sigma: np.ndarray
    market_return: np.ndarray

    def walk(self, u: Universe, draws: _Draws, state: State) -> tuple:
        """Closes in cents (carrying the last close when untraded), reference prices, events.

        Only this loop is sequential: a close is clipped by limits set by the previous one.
        """
        jump = np.where(draws.below(_JUMP, 0.08), 4.0, 1.0)
        drive = u.beta * self.market_return[:, None] + self.sigma * draws.normal(_SHOCK, 3) * jump
        growth = 1 + u.drift + u.beta * self.market_return[:, None]
        ipo = np.rint(u.first_price * 100)
        last, fair = state.last_close.astype(np.float64), state.fair.copy()
        closes, prevs = np.empty_like(drive), np.empty_like(drive)
        events = []
        any_debut, any_ex = self.debut.any(axis=1), self.ex.any(axis=1)
        for t in range(len(drive)):
            debut = self.debut[t] if any_debut[t] else None
            if debut is not None:
                last = np.where(debut, ipo, last)
                fair = np.where(debut, ipo * (1 + u.listing_pop), fair)
            prev = last
            if any_ex[t]:
                prev, fair = _ex_dividend(u, self.ex[t], last, fair, t, events)
            ret = drive[t] + _PULL * (fair / prev - 1)
            if debut is not None:
                ret = np.where(debut, u.listing_pop + drive[t], ret)
            up = limit_price(prev, self.up_factor[t])
            down = np.maximum(limit_price(prev, self.down_factor[t]), 1)
            close = _between(np.rint(prev * (1 + np.maximum(ret, -0.6))), down, up)
            prevs[t] = prev
            last = np.where(self.traded[t], close, last)
            closes[t] = last
            fair *= growth[t]
        return closes, prevs, events, last.astype(np.int64), fair


def _ex_dividend(
    u: Universe, ex: np.ndarray, last: np.ndarray, fair: np.ndarray, t: int, events: list
) -> tuple[np.ndarray, np.ndarray]:
    """Reference price = last close - dividend; the fair price drops alike."""
    dividend = np.maximum(np.rint(u.dividend_yield * last), 1)
    prev = np.where(ex, np.maximum(last - dividend, 1), last)
    stocks = np.flatnonzero(ex)
    events.append((stocks, np.full(len(stocks), t), last[stocks] / prev[stocks]))
    return prev, fair * (prev / last)


def _intraday(
    u: Universe, draws: _Draws, prev: np.ndarray, close: np.ndarray, path: _Path
) -> dict[str, np.ndarray]:
    """Open, high, low and volume around each close, inside the day's limits.

    Computed in blocks of days so the temporaries stay in cache.
    """
    out = {k: np.empty(close.shape, np.int32) for k in ("open", "high", "low", "volume")}
    float_lots = u.total_shares * u.float_ratio / 100
    for first in range(0, len(close), _BLOCK):
        b = slice(first, first + _BLOCK)
        p, c, sigma = prev[b], close[b], path.sigma[b]
        up = limit_price(p, path.up_factor[b])
        down = np.maximum(limit_price(p, path.down_factor[b]), 1)
        ret = c / p - 1
        open_ = _between(
            np.rint(p * (1 + 0.4 * ret + 0.5 * sigma * draws.normal(_GAP, 1, b))), down, up
        )
        top, bottom = np.maximum(open_, c), np.minimum(open_, c)
        out["open"][b] = open_
        out["high"][b] = _between(
            np.ceil(top * (1 + 1.2 * sigma * draws.uniform(_HIGH, b))), top, up
        )
        out["low"][b] = _between(
            np.floor(bottom * (1 - 1.2 * sigma * draws.uniform(_LOW, b))), down, bottom
        )
        rate = u.turnover_rate * (0.5 + draws.uniform(_VOLUME, b)) * (1 + 10 * np.abs(ret))
        out["volume"][b] = np.rint(float_lots * np.minimum(rate, 0.6))
    return out


def _band(u: Universe, st: np.ndarray, days: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Limit band in %: ST rules apply on the main board (and ChiNext before its reform)."""
    reformed = (days >= CHINEXT_REFORM)[:, None]
    base = np.where(reformed, _BOARD_BAND[u.board], _OLD_BOARD_BAND[u.board])
    st_rules = (u.board == MAIN) | ((u.board == CHINEXT) & ~reformed)
    band = np.where(st & st_rules, 5, base)
    return np.where(age <= UNLIMITED_DAYS, 0, band)


def _status(draws: _Draws, traded: np.ndarray) -> np.ndarray:
    """Status of each stock-day: no row unless traded; of traded ones ~0.2% rows lost and
    ~0.2% with NaN/null price fields (which fields: a draw in 1..15, one bit per field)."""
    status = np.where(traded, 0, NO_ROW).astype(np.uint8)
    kind = 65535 - draws.raw[_JUMP]  # the top of the jump draw: disjoint from jumps
    hit = np.nonzero(traded & (kind < (_MISSING_RATE + _DAMAGED_RATE) * 65536))
    kind = kind[hit]
    fields = (1 + (draws.raw[_HIGH][hit] ^ draws.raw[_LOW][hit]) % 15).astype(np.uint8) << NAN_SHIFT
    as_null = np.where(kind < (_MISSING_RATE + _DAMAGED_RATE / 2) * 65536, AS_NULL, 0)
    status[hit] = np.where(kind < _MISSING_RATE * 65536, MISSING_ROW, fields | as_null)
    return status


def _year_bars(days: np.ndarray, bars: dict, events: list, end: State) -> YearBars:
    dtypes = {"band": np.int8, "status": np.uint8}
    matrices = {k: v.astype(dtypes.get(k, np.int32), copy=False) for k, v in bars.items()}
    for v in matrices.values():
        v.flags.writeable = False
    stock, t, factor = (
        [np.concatenate(parts) for parts in zip(*events, strict=True)]
        if events
        else [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)]
    )
    return YearBars(
        days=days,
        **matrices,
        event_stock=stock,
        event_day=days[t],
        event_factor=factor,
        end=end,
    )
