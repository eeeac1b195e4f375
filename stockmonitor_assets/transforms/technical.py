"""Technical indicators over a trailing window of traded bars, 通达信/同花顺 convention.

Conventions (DESIGN §2):

- Only traded bars count: filled rows (`is_filled`) are left out of every series; a stock
  that did not trade on D gets null indicators on D (and its `traded_bars` still).
- Prices are forward-adjusted to D (`close * adj_factor / adj_factor[D]`).
- SMA(N) is the plain mean of the last N traded closes, null below N bars.
- EMA(N) = `ewm_mean(span=N, adjust=False)`, seeded with the first close of the window;
  MACD: dif = EMA12 - EMA26, dea = EMA9(dif), hist = 2 * (dif - dea), null below 34 bars
  (TA-Lib's lookback of 33).
- RSI(14) = SMA(max(Δ,0),14,1) / SMA(|Δ|,14,1) * 100 with SMA(X,N,1) =
  `ewm_mean(alpha=1/N, adjust=False)` seeded with the first Δ (the first bar has no Δ, as
  MyTT's REF gives NaN there); null below 15 bars and null when the window has no price
  movement (TA-Lib returns 0 there).
- return_20d = close / close 20 traded bars earlier - 1; volatility_20d = std (ddof=1) of
  the last 20 simple daily returns; both need 21 bars.

Exactness across runs: EMAs depend on their seed bar, so the window of D does not slide by
one day: it starts on a fixed grid of the calendar, `a = ((i - window + 1) // anchor_step) *
anchor_step` (clipped at 0) for D = sessions[i]. The value at D therefore depends only on the
bars of sessions[a..i], never on which partition range was run, and all target dates sharing
an anchor are computed in one pass. Forward adjustment divides by a factor that differs per
target date, so a pass works on back-adjusted prices (`close * adj_factor`) once: SMA, EMA and
MACD are linear in price, so they are divided by `adj_factor[D]` afterwards; RSI, return and
volatility are scale-invariant and kept as computed (equal to the forward-adjusted values up
to rounding, ~1e-15 relative).

The arithmetic is `indicator_kernel`'s: the stocks' traded bars lie end to end in one
column, and a compiled loop walks each stock's series once.
"""

from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl

from stockmonitor_assets.schemas import BUILTIN_TECHNICAL
from stockmonitor_assets.transforms import indicator_kernel as kernel
from stockmonitor_assets.transforms.indicator_kernel import (
    MACD_FAST,
    MACD_MIN_BARS,
    MACD_SIGNAL,
    MACD_SLOW,
    RETURN_LENGTH,
    RSI_LENGTH,
    SMA_LENGTHS,
)

__all__ = [
    "ANCHOR_STEP_DEFAULT",
    "INDICATOR_COLUMNS",
    "MACD_FAST",
    "MACD_MIN_BARS",
    "MACD_SIGNAL",
    "MACD_SLOW",
    "PRICE_LEVEL_COLUMNS",
    "RETURN_LENGTH",
    "RSI_LENGTH",
    "SMA_LENGTHS",
    "WINDOW_DEFAULT",
    "back_adjusted_traded_bars",
    "compute_technical_indicators",
    "indicator_series",
    "window_partitions_needed",
    "window_start",
]

WINDOW_DEFAULT = 250
ANCHOR_STEP_DEFAULT = 20

PRICE_LEVEL_COLUMNS = (*(f"sma_{n}" for n in SMA_LENGTHS), "macd_dif", "macd_dea", "macd_hist")
INDICATOR_COLUMNS = BUILTIN_TECHNICAL.names[2:]


def window_partitions_needed(window: int, anchor_step: int) -> int:
    """Daily partitions (D included) a single day needs: its anchored window's longest length."""
    return window + anchor_step - 1


def window_start(index: int, window: int, anchor_step: int) -> int:
    """Index in the calendar of the first session of the window of sessions[index]."""
    return max(0, ((index - window + 1) // anchor_step) * anchor_step)


def compute_technical_indicators(
    bars: pl.DataFrame,
    target_dates: Sequence[date],
    sessions: Sequence[date],
    window: int = WINDOW_DEFAULT,
    anchor_step: int = ANCHOR_STEP_DEFAULT,
) -> pl.DataFrame:
    """BUILTIN_TECHNICAL rows for every stock present in `bars` on each target date (users'
    factors, plugins.py, are joined on by the asset).

    Args:
        bars: COMPLETED_OHLCV rows of every loaded day and stock, in any order; must cover
            the anchored window of every target date (`window_partitions_needed` days).
        target_dates: the days to produce rows for.
        sessions: the trading calendar from the first partition through max(target_dates),
            sorted; it fixes the window anchors, so pass the same calendar on every run.
        window: minimum window length L in sessions.
        anchor_step: grid step B of the window starts (windows are L..L+B-1 sessions).
    """
    targets = sorted(set(target_dates))
    rows = bars.filter(pl.col("date").is_in(targets)).select("order_book_id", "date", "adj_factor")
    traded = back_adjusted_traded_bars(bars)
    values = [
        _values_at(traded.filter(pl.col("date").is_between(start, days[-1])), days)
        for start, days in _group_by_anchor(targets, sessions, window, anchor_step).items()
    ]
    joined = rows.join(
        pl.concat([_empty_values(), *values]), on=["order_book_id", "date"], how="left"
    )
    return _forward_adjust(joined).select(BUILTIN_TECHNICAL.names)


def back_adjusted_traded_bars(bars: pl.DataFrame) -> pl.DataFrame:
    """`order_book_id, date, close` of traded bars, close back-adjusted, sorted by stock, date.

    Completion turns NaN prices into nulls, so the closes kept here hold no NaN (the kernel
    uses NaN to mark warm-up and padding).
    """
    return (
        bars.filter(~pl.col("is_filled") & pl.col("close").is_not_null())
        .select("order_book_id", "date", close=pl.col("close") * pl.col("adj_factor"))
        .sort("order_book_id", "date")
    )


def indicator_series(frame: pl.DataFrame, by: Sequence[str] = ("order_book_id",)) -> pl.DataFrame:
    """Every indicator on every row of `frame`, in the price unit of its `close`.

    `frame` holds traded bars only (`*by, date, close`, no NaN close), sorted by `by` then
    date; each group is one series, seeded at its first row. The kernel of
    `compute_technical_indicators`, exposed for benchmarks and tests.
    """
    bounds = _series_bounds(frame, by)
    values = kernel.indicators(frame["close"].to_numpy(), bounds)
    # Bar numbers 1, 2, ... restarting at each series, in one array (fresh memory is slow).
    count = np.ones(frame.height, dtype=np.int64)
    count[bounds[1:-1]] -= np.diff(bounds)[:-1]
    np.cumsum(count, out=count)
    return frame.select(*by, "date").with_columns(
        traded_bars=pl.Series(count),
        **{name: pl.Series(array, nan_to_null=True) for name, array in values.items()},
    )


def _group_by_anchor(
    targets: Sequence[date], sessions: Sequence[date], window: int, anchor_step: int
) -> dict[date, list[date]]:
    """Target dates keyed by the first session of their window."""
    index = {day: i for i, day in enumerate(sessions)}
    missing = [day for day in targets if day not in index]
    if missing:
        shown = ", ".join(day.isoformat() for day in missing[:5])
        raise ValueError(f"target date(s) {shown} not in the trading calendar given")
    groups: dict[date, list[date]] = {}
    for day in targets:
        groups.setdefault(sessions[window_start(index[day], window, anchor_step)], []).append(day)
    return groups


def _values_at(traded: pl.DataFrame, days: list[date]) -> pl.DataFrame:
    """Indicators of one pass (one window start), picked on `days` per stock.

    Each stock's series is computed in full, then read at its last traded bar on or before
    each day: `traded_bars` is that bar's count, the values count only if it is D.
    """
    bounds = _series_bounds(traded, ["order_book_id"])
    stocks, n_days = len(bounds) - 1, len(days)
    dates = traded["date"].to_physical().to_numpy().astype(np.int64)
    wanted = pl.Series(days, dtype=pl.Date).to_physical().to_numpy().astype(np.int64)
    # One sorted key per bar (stock-major, then date) answers every (stock, day) count at once.
    base = min(dates.min(initial=wanted[0]), wanted[0])
    span = max(dates.max(initial=wanted[-1]), wanted[-1]) - base + 1
    stock_of_bar = np.repeat(np.arange(stocks), np.diff(bounds))
    query_stock, query_day = np.repeat(np.arange(stocks), n_days), np.tile(wanted, stocks)
    keys = stock_of_bar * span + (dates - base)
    count = np.searchsorted(keys, query_stock * span + (query_day - base), side="right")
    count -= bounds[query_stock]
    at = bounds[query_stock] + np.maximum(count - 1, 0)  # in range: every stock has a bar
    on_day = (count > 0) & (dates[at] == query_day)
    values = {k: v[at] for k, v in kernel.indicators(traded["close"].to_numpy(), bounds).items()}
    return pl.DataFrame(
        {
            "order_book_id": traded["order_book_id"].gather(bounds[query_stock]),
            "date": pl.Series(query_day.astype(np.int32)).cast(pl.Date),
            "traded_bars": pl.Series(count, dtype=pl.Int64),
            **{
                name: pl.Series(np.where(on_day, array, np.nan), nan_to_null=True)
                for name, array in values.items()
            },
        }
    ).select(_empty_values().columns)


def _series_bounds(frame: pl.DataFrame, by: Sequence[str]) -> np.ndarray:
    """Row offsets where each series of a frame sorted by `by` starts, then the row count."""
    if frame.height == 0:
        return np.zeros(1, dtype=np.int64)
    runs = frame.select(pl.struct(*by).rle().struct.field("len")).to_series().to_numpy()
    return np.concatenate([[0], np.cumsum(runs, dtype=np.int64)])


def _forward_adjust(frame: pl.DataFrame) -> pl.DataFrame:
    """Price-level values from back-adjusted to forward-adjusted-to-D; no pass -> 0 bars."""
    return frame.with_columns(
        *(pl.col(c) / pl.col("adj_factor") for c in PRICE_LEVEL_COLUMNS),
        traded_bars=pl.col("traded_bars").fill_null(0),
    )


def _empty_values() -> pl.DataFrame:
    schema = {"order_book_id": pl.String, "date": pl.Date, "traded_bars": pl.Int64}
    return pl.DataFrame(schema={**schema, **dict.fromkeys(INDICATOR_COLUMNS[:-1], pl.Float64)})
