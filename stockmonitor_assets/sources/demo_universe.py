"""The demo market's static world: which stocks exist, and their boards, codes and life events.

Every attribute is drawn once per (seed, universe_size) from `numpy.random.default_rng`
streams keyed by (seed, purpose), so nothing depends on what was asked before. Dates are
calendar-day ordinals (`date.toordinal()`); listing and delisting days are snapped to
trading days of the project calendar (listings before the epoch to weekdays, since the
calendar starts at the epoch). Intervals (ST, suspensions) are [start, end) in calendar
days, so a user holiday added later shifts nothing but the days it closes.

A few real, well-known codes (WELL_KNOWN: 600000.XSHG 浦发银行, 000001.XSHE 平安银行, ...)
are the first codes of their group, with their real listing day and never delisted, so the
README's examples (`target_stocks=600000.SH,000001.SZ`) work on any universe of a few dozen
stocks or more. Their prices are as synthetic as everyone else's.
"""

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np

from stockmonitor_assets.settings import DEFAULT_HISTORY_START

# The demo market starts where the default history does (RQDatac's daily bars: 2005),
# whatever STOCKMONITOR_HISTORY_START says, so a day's numbers never depend on it.
DEMO_EPOCH = DEFAULT_HISTORY_START
MAX_UNIVERSE_SIZE = 8000
# Boards, as indexes into schemas.BOARDS.
MAIN, CHINEXT, STAR, BSE = range(4)
# (board, share of the market, code pools): roughly today's A-share mix.
_GROUPS = (
    (MAIN, 0.32, ((600000, 602000), (603000, 604000), (605000, 606000)), "XSHG"),
    (MAIN, 0.28, ((1, 4000),), "XSHE"),
    (CHINEXT, 0.25, ((300000, 302000),), "XSHE"),
    (STAR, 0.11, ((688000, 689000),), "XSHG"),
    (BSE, 0.04, ((430000, 431000), (830000, 840000), (870000, 874000)), "BJSE"),
)
# (code, name, listing day): real stocks, the first members of their group (by _GROUPS order).
WELL_KNOWN = (
    ("600000.XSHG", "浦发银行", dt.date(1999, 11, 10)),
    ("600519.XSHG", "贵州茅台", dt.date(2001, 8, 27)),
    ("601318.XSHG", "中国平安", dt.date(2007, 3, 1)),
    ("000001.XSHE", "平安银行", dt.date(1991, 4, 3)),
    ("000002.XSHE", "万科A", dt.date(1991, 1, 29)),
    ("300750.XSHE", "宁德时代", dt.date(2018, 6, 11)),
    ("688981.XSHG", "中芯国际", dt.date(2020, 7, 16)),
)
# First trading day of each board's market (the main board predates the epoch).
_BOARD_OPENED = {
    MAIN: dt.date(1991, 1, 2),
    CHINEXT: dt.date(2009, 10, 30),
    STAR: dt.date(2019, 7, 22),
    BSE: dt.date(2021, 11, 15),
}
LAST_LISTING = dt.date(2027, 12, 31)
CALENDAR_END = dt.date(2028, 12, 31)
NEVER = dt.date.max.toordinal()
DELISTING_PERIOD = 15  # trading days of 退市整理期, during which the delisting day is known
_NAME_HEADS = "华中国东南西北金新长天海兴永恒宏大远联通光明科信达汇盛康泰安鼎瑞丰嘉鑫"
_NAME_TAILS = (
    "科技 电子 医药 银行 证券 股份 能源 材料 化工 电气 食品 传媒 重工 环保 生物 软件 汽车 "
    "地产 物流 机械 农业 纺织 建设 智能"
).split()


@dataclass(frozen=True, eq=False)
class Intervals:
    """Per-stock [start, end) calendar-day intervals (a stock may have several)."""

    owner: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def covering(self, day: int, n: int) -> np.ndarray:
        """Which of the n stocks have an interval covering `day`."""
        hit = (self.start <= day) & (day < self.end)
        return np.bincount(self.owner[hit], minlength=n) > 0

    def covering_matrix(self, days: np.ndarray, n: int) -> np.ndarray:
        """(len(days), n) booleans: the same rule for many sorted days at once."""
        first = np.searchsorted(days, self.start)
        stop = np.searchsorted(days, self.end)
        diff = np.zeros((len(days) + 1, n), dtype=np.int32)
        np.add.at(diff, (first, self.owner), 1)
        np.add.at(diff, (stop, self.owner), -1)
        return np.cumsum(diff[:-1], axis=0) > 0


@dataclass(frozen=True, eq=False)
class Universe:
    """Static attributes of every stock, as arrays indexed by stock."""

    codes: np.ndarray
    names: np.ndarray
    board: np.ndarray
    listed: np.ndarray  # ordinal of the first trading day
    delisted: np.ndarray  # ordinal of the first day no longer listed, NEVER if listed
    delisting_known: np.ndarray  # ordinal from which the delisting day is public
    st: Intervals
    star_st: Intervals  # *ST (delisting risk) periods, a subset of `st`
    suspensions: Intervals
    first_price: np.ndarray  # CNY: price at the epoch, or the IPO price
    listing_pop: np.ndarray  # log return of the (unlimited) first trading day
    sigma: np.ndarray  # daily idiosyncratic volatility
    beta: np.ndarray
    drift: np.ndarray  # daily drift of the fair log price
    turnover_rate: np.ndarray  # typical daily volume / float shares
    total_shares: np.ndarray
    float_ratio: np.ndarray
    dividend_yield: np.ndarray  # 0 for stocks that never pay
    report_lag: np.ndarray  # in [0, 1]: early (0) to late (1) announcer

    @property
    def size(self) -> int:
        return len(self.codes)


@functools.lru_cache(maxsize=64)
def year_sessions(year: int) -> np.ndarray:
    """Trading-day ordinals of `year` from the project calendar (imported lazily: it loads
    Dagster, which this package does not otherwise need)."""
    from stockmonitor_assets import trading_calendar

    days = trading_calendar.calendar_sessions(dt.date(year, 1, 1), dt.date(year, 12, 31))
    ordinals = np.array([d.toordinal() for d in days], dtype=np.int64)
    ordinals.flags.writeable = False
    return ordinals


@functools.lru_cache(maxsize=8)
def build_universe(seed: int, size: int) -> Universe:
    """The universe of `size` stocks for `seed`."""
    if not 1 <= size <= MAX_UNIVERSE_SIZE:
        raise ValueError(f"universe_size must be in [1, {MAX_UNIVERSE_SIZE}], got {size}")
    years = range(DEMO_EPOCH.year, CALENDAR_END.year + 1)
    days = np.concatenate([year_sessions(y) for y in years])
    shares = np.cumsum([g[1] for g in _GROUPS])
    groups = np.searchsorted(shares / shares[-1], _stream(seed, 1).random(size), side="right")
    board = np.array([g[0] for g in _GROUPS], dtype=np.int8)[groups]
    codes = _codes(seed, groups)
    famous = {code: (name, listed) for code, name, listed in WELL_KNOWN}
    is_famous = np.array([c in famous for c in codes], dtype=bool)
    listed = _listing_days(seed, board, days)
    listed[is_famous] = [_real_listing(days, famous[c][1]) for c in codes[is_famous]]
    delisted, delisting_known = _delistings(seed, listed, days)
    delisted[is_famous], delisting_known[is_famous] = NEVER, NEVER
    st, star_st = _st_periods(seed, listed, delisted)
    names = _names(seed, size).astype("<U8")
    names[is_famous] = [famous[c][0] for c in codes[is_famous]]
    return Universe(
        codes=codes,
        names=names,
        board=board,
        listed=listed,
        delisted=delisted,
        delisting_known=delisting_known,
        st=st,
        star_st=star_st,
        suspensions=_suspensions(seed, listed, delisted),
        **_dynamics(seed, board),
    )


def _stream(seed: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng([seed, 7_000 + purpose])


def _uniform_columns(seed: int, purpose: int, n: int, k: int) -> np.ndarray:
    """k uniform draws per stock, drawn stock by stock so a stock's draws ignore n."""
    return _stream(seed, purpose).random((n, k)).T


def _ordinal(day: dt.date) -> int:
    return day.toordinal()


def _codes(seed: int, groups: np.ndarray) -> np.ndarray:
    """The k-th stock of a group takes the k-th code of its well-known codes followed by a
    seeded shuffle of the rest of its pools."""
    codes = np.empty(len(groups), dtype=object)
    for g, (_, _, pools, exchange) in enumerate(_GROUPS):
        pool = np.concatenate([np.arange(lo, hi) for lo, hi in pools])
        first = [
            int(c[:6]) for c, _, _ in WELL_KNOWN if c.endswith(exchange) and int(c[:6]) in pool
        ]
        rest = _stream(seed, 10 + g).permutation(np.setdiff1d(pool, first))
        members = np.flatnonzero(groups == g)
        chosen = np.concatenate([np.array(first, dtype=np.int64), rest])[: len(members)]
        codes[members] = [f"{c:06d}.{exchange}" for c in chosen]
    return codes


def _names(seed: int, size: int) -> np.ndarray:
    pick = _stream(seed, 2).random((size, 3)) * [
        len(_NAME_HEADS),
        len(_NAME_HEADS),
        len(_NAME_TAILS),
    ]
    return np.array(
        [_NAME_HEADS[int(a)] + _NAME_HEADS[int(b)] + _NAME_TAILS[int(t)] for a, b, t in pick]
    )


def _listing_days(seed: int, board: np.ndarray, days: np.ndarray) -> np.ndarray:
    """About half the stocks listed before the epoch, the rest through 2027."""
    u, before_epoch = _uniform_columns(seed, 3, len(board), 2)
    before_epoch = before_epoch < 0.55
    opened = np.array([_ordinal(_BOARD_OPENED[b]) for b in board])
    pre_end = _ordinal(DEMO_EPOCH) - 30
    post_start = np.maximum(opened, _ordinal(DEMO_EPOCH) + 1)
    pre = opened + (u * (pre_end - opened)).astype(np.int64)
    post = post_start + (u * (_ordinal(LAST_LISTING) - post_start)).astype(np.int64)
    nominal = np.where(before_epoch & (opened < pre_end), pre, post)
    weekday = (nominal + 6) % 7  # ordinal 1 (0001-01-01) was a Monday
    to_weekday = np.where(weekday >= 5, nominal + 7 - weekday, nominal)
    return np.where(nominal < days[0], to_weekday, _snap(days, nominal))


def _real_listing(days: np.ndarray, day: dt.date) -> int:
    """A real listing day: kept before the epoch (a weekday already), else snapped."""
    if day < DEMO_EPOCH:
        return _ordinal(day)
    return int(_snap(days, np.array([_ordinal(day)]))[0])


def _snap(days: np.ndarray, nominal: np.ndarray) -> np.ndarray:
    """The first trading day on or after each nominal day."""
    return days[np.minimum(np.searchsorted(days, nominal), len(days) - 1)]


def _delistings(seed: int, listed: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, ...]:
    """A few % of stocks delist in 2006-2026, at least two years after listing."""
    u, chosen = _uniform_columns(seed, 4, len(listed), 2)
    chosen = chosen < 0.04
    earliest = np.maximum(listed + 730, _ordinal(dt.date(DEMO_EPOCH.year + 1, 1, 1)))
    latest = _ordinal(dt.date(2026, 12, 31))
    chosen &= earliest < latest
    nominal = earliest + (u * (latest - earliest)).astype(np.int64)
    index = np.searchsorted(days, nominal)
    delisted = np.where(chosen, days[np.minimum(index, len(days) - 1)], NEVER)
    known = np.where(chosen, days[np.maximum(index - DELISTING_PERIOD, 0)], NEVER)
    return delisted, known


def _st_periods(seed: int, listed: np.ndarray, delisted: np.ndarray) -> tuple[Intervals, Intervals]:
    """*ST for the year before a delisting, plus plain ST spells for ~30% of stocks
    (over 2005-2027: a few % of the market is ST on any day, as in the real one)."""
    u, length, spell = _uniform_columns(seed, 5, len(listed), 3)
    length, spell = 180 + (length * 720).astype(np.int64), spell < 0.3
    start = np.maximum(listed, _ordinal(DEMO_EPOCH)) + 60
    start = start + (u * np.maximum(_ordinal(LAST_LISTING) - start, 0)).astype(np.int64)
    doomed = np.flatnonzero(delisted < NEVER)
    star = Intervals(doomed, delisted[doomed] - 400, delisted[doomed])
    plain = np.flatnonzero(spell)
    return (
        Intervals(
            np.concatenate([plain, doomed]),
            np.concatenate([start[plain], star.start]),
            np.concatenate([start[plain] + length[plain], star.end]),
        ),
        star,
    )


def _suspensions(seed: int, listed: np.ndarray, delisted: np.ndarray) -> Intervals:
    """Many 1-10 trading-day halts, a few random long ones, and one > 300 days per year.

    Each stock has fixed slots (12 short, 1 long) that are active with a probability, so a
    stock's halts do not depend on the universe size. The yearly long suspension (2006-2026)
    goes to one of the first 100 stocks listed well before and staying listed well after,
    so every universe of >= 100 stocks has one to test against.
    """
    n, slots = len(listed), 13
    alive_from = np.maximum(listed + 10, _ordinal(DEMO_EPOCH))
    alive_to = np.minimum(delisted, _ordinal(CALENDAR_END)) - 1
    span = np.maximum(alive_to - alive_from, 0)
    draw = _stream(seed, 6).random((n, slots, 3))
    chance = np.concatenate(
        [
            np.repeat((0.4 * span / 365.25 / (slots - 1))[:, None], slots - 1, axis=1),
            np.full((n, 1), 0.006),
        ],
        axis=1,
    )
    days = np.concatenate(
        [
            1 + (draw[:, :-1, 2] * 14).astype(np.int64),
            450 + (draw[:, -1:, 2] * 250).astype(np.int64),
        ],
        axis=1,
    )
    owner, slot = np.nonzero(draw[:, :, 0] < chance)
    start = alive_from[owner] + (draw[owner, slot, 1] * span[owner]).astype(np.int64)
    yearly = _yearly_long_suspensions(_stream(seed, 7), listed[:100], delisted[:100])
    return Intervals(
        np.concatenate([owner, yearly.owner]),
        np.concatenate([start, yearly.start]),
        np.concatenate([start + days[owner, slot], yearly.end]),
    )


def _yearly_long_suspensions(
    rng: np.random.Generator, listed: np.ndarray, delisted: np.ndarray
) -> Intervals:
    owners, starts, ends = [], [], []
    for year in range(DEMO_EPOCH.year + 1, 2027):
        start = _ordinal(dt.date(year, 1, 1)) + int(rng.integers(0, 120))
        end = start + int(rng.integers(480, 620))
        eligible = (listed < start - 30) & (delisted > end + 30)
        eligible[np.array(owners, dtype=np.int64)] = False
        if eligible.any():
            owners.append(int(rng.choice(np.flatnonzero(eligible))))
            starts.append(start)
            ends.append(end)
    as_array = functools.partial(np.array, dtype=np.int64)
    return Intervals(as_array(owners), as_array(starts), as_array(ends))


def _dynamics(seed: int, board: np.ndarray) -> dict[str, np.ndarray]:
    """Price, volume, share and dividend parameters; growth boards are more volatile."""
    z = _stream(seed, 8).standard_normal((len(board), 6)).T
    u = _uniform_columns(seed, 9, len(board), 5)
    growth_board = np.isin(board, (CHINEXT, STAR, BSE))
    small_caps = np.where(growth_board, 0.4, 1.0)
    return {
        "first_price": np.round(np.clip(np.exp(np.log(10.0) + 0.6 * z[0]), 2.0, 300.0), 2),
        "listing_pop": 0.1 + 0.7 * u[0],
        "sigma": 0.017 * np.exp(0.25 * z[1]) * np.where(growth_board, 1.25, 1.0),
        "beta": np.clip(1.0 + 0.25 * z[2], 0.3, 1.8),
        "drift": (0.06 + 0.06 * z[3]) / 242,
        "turnover_rate": np.clip(np.exp(np.log(0.015) + 0.6 * z[4]), 0.002, 0.15),
        "total_shares": np.round(np.clip(np.exp(np.log(8e8) + z[5]), 5e7, 3e10) * small_caps, -4),
        "float_ratio": 0.35 + 0.65 * u[1],
        "dividend_yield": np.where(u[2] < 0.7, 0.004 + 0.036 * u[3], 0.0),
        "report_lag": u[4],
    }
