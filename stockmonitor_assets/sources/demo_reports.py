"""The demo market's quarterly reports, and when each became public.

Periods end 03-31, 06-30, 09-30 and 12-31; each stock announces at its own lag within the
legal deadlines (Q1 by 04-30, half-year by 08-31, Q3 by 10-31, annual by next 04-30). One
lag fraction per stock keeps announcements in period order (an annual report always comes
before the next Q1), so "the latest announced report" is also the latest period.
"""

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np

from stockmonitor_assets.sources.demo_universe import DEMO_EPOCH, build_universe

# Two years before the epoch, so trailing-twelve-month figures exist from its first day.
FIRST_YEAR, LAST_YEAR = DEMO_EPOCH.year - 2, 2029
# Per quarter of the year: (period end month/day, minimum lag, lag span) in calendar days.
_QUARTERS = (((3, 31), 15, 15), ((6, 30), 30, 32), ((9, 30), 15, 16), ((12, 31), 60, 59))
_SEASON = np.array([0.85, 1.05, 0.95, 1.15])


@dataclass(frozen=True, eq=False)
class Reports:
    """(stocks, quarters) arrays; TTM figures are NaN for the first three quarters."""

    period_end: np.ndarray  # (quarters,) ordinals
    announced: np.ndarray  # ordinals, increasing along quarters
    net_profit_ttm: np.ndarray
    revenue_ttm: np.ndarray
    equity: np.ndarray

    def latest(self, stocks: np.ndarray, day: int) -> np.ndarray:
        """Index of the latest quarter announced on or before `day` (-1: none yet)."""
        return (self.announced[stocks] <= day).sum(axis=1) - 1


@functools.lru_cache(maxsize=8)
def build_reports(seed: int, size: int) -> Reports:
    universe = build_universe(seed, size)
    years = np.arange(FIRST_YEAR, LAST_YEAR + 1)
    period_end = np.array(
        [dt.date(int(y), *md).toordinal() for y in years for md, _, _ in _QUARTERS]
    )
    lag_min = np.tile([q[1] for q in _QUARTERS], len(years))
    lag_span = np.tile([q[2] for q in _QUARTERS], len(years))
    lag = lag_min + np.rint(universe.report_lag[:, None] * lag_span).astype(np.int64)
    quarterly_revenue, quarterly_profit, first_equity = _quarterly_figures(
        seed, universe.first_price * universe.total_shares, len(period_end)
    )
    return Reports(
        period_end=period_end,
        announced=period_end + lag,
        net_profit_ttm=_trailing_year(quarterly_profit),
        revenue_ttm=_trailing_year(quarterly_revenue),
        equity=_recapitalized(first_equity[:, None] + 0.5 * np.cumsum(quarterly_profit, axis=1)),
    )


def _recapitalized(equity: np.ndarray, floor_share: float = 0.2) -> np.ndarray:
    """Equity that never falls below a fifth of the company's first: over twenty simulated
    years a chronic loss maker would otherwise end deep in negative equity, which real
    listed companies escape by new capital or delisting (a few per cent of A-shares at most),
    leaving ROE undefined for a tenth of the demo market."""
    return np.maximum(equity, floor_share * equity[:, :1])


def _quarterly_figures(
    seed: int, market_cap: np.ndarray, quarters: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Revenue growing with noise and seasonality, margins around 7% (some loss makers)."""
    n = len(market_cap)
    z = np.random.default_rng([seed, 7_100]).standard_normal((n, 2, quarters)).transpose(1, 0, 2)
    u, g, m, b = np.random.default_rng([seed, 7_101]).random((n, 4)).T
    g, m = 2 * g - 1, 2 * m - 1  # uniform in [-1, 1]
    level = market_cap * (0.05 + 0.15 * u)
    growth = (0.08 + 0.2 * g)[:, None] / 4 + 0.05 * z[0]
    revenue = level[:, None] * np.exp(np.cumsum(growth, axis=1)) * np.resize(_SEASON, quarters)
    margin = (0.07 + 0.12 * m)[:, None] + 0.04 * z[1]
    first_equity = market_cap / np.exp(np.log(2.2) + 0.5 * (2 * b - 1))
    return np.round(revenue, -2), np.round(margin * revenue, -2), np.round(first_equity, -2)


def _trailing_year(quarterly: np.ndarray) -> np.ndarray:
    total = np.cumsum(quarterly, axis=1)
    ttm = np.full_like(quarterly, np.nan)
    ttm[:, 3:] = total[:, 3:] - np.pad(total, ((0, 0), (1, 0)))[:, :-4]
    return ttm
