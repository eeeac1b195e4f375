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
"""

from collections.abc import Sequence
from datetime import date

import polars as pl

from stockmonitor_assets.schemas import TECHNICAL_INDICATORS

WINDOW_DEFAULT = 250
ANCHOR_STEP_DEFAULT = 20

SMA_LENGTHS = (5, 10, 20, 60)
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
MACD_MIN_BARS = 34
RSI_LENGTH = 14
RETURN_LENGTH = 20
PRICE_LEVEL_COLUMNS = (*(f"sma_{n}" for n in SMA_LENGTHS), "macd_dif", "macd_dea", "macd_hist")
INDICATOR_COLUMNS = TECHNICAL_INDICATORS.names[2:]

_RAW = ("macd_dif", "macd_dea", "rsi_up", "rsi_move", "return_20d", "volatility_20d")


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
    """TECHNICAL_INDICATORS rows for every stock present in `bars` on each target date.

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
    return TECHNICAL_INDICATORS.conform(_forward_adjust(joined))


def back_adjusted_traded_bars(bars: pl.DataFrame) -> pl.DataFrame:
    """`order_book_id, date, close` of traded bars, close back-adjusted, sorted by stock, date."""
    return (
        bars.filter(~pl.col("is_filled") & pl.col("close").is_not_null())
        .select("order_book_id", "date", close=pl.col("close") * pl.col("adj_factor"))
        .sort("order_book_id", "date")
    )


def indicator_series(frame: pl.DataFrame, by: Sequence[str] = ("order_book_id",)) -> pl.DataFrame:
    """Every indicator on every row of `frame`, in the price unit of its `close`.

    `frame` holds traded bars only (`*by, date, close`), sorted by `by` then date; each group
    is one series, seeded at its first row. The kernel of `compute_technical_indicators`,
    exposed for benchmarks and tests.
    """
    series = _with_deltas(frame, by).group_by(by, maintain_order=True).agg("date", **_raw_exprs())
    return _finish(series.explode(pl.exclude(by), empty_as_null=True))


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

    Each stock's series is computed in full, then gathered at its last traded bar on or
    before each day: `traded_bars` is that bar's count, the values count only if it is D.
    """
    by = ["order_book_id"]
    day_list = pl.lit(pl.Series("date", days, dtype=pl.Date))
    count = pl.col("date").search_sorted(day_list, side="right").cast(pl.Int64)
    last = (count - 1).clip(lower_bound=0)
    picked = (
        _with_deltas(traded, by)
        .group_by(by, maintain_order=True)
        .agg(
            date=day_list,
            traded_bars=count,
            on_day=pl.col("date").gather(last) == day_list,
            **{k: e.gather(last) for k, e in _raw_exprs().items() if k != "traded_bars"},
        )
        .explode(pl.exclude(by), empty_as_null=True)
    )
    indicators = [c for c in picked.columns if c not in {*by, "date", "traded_bars", "on_day"}]
    return _finish(
        picked.with_columns(pl.when("on_day").then(pl.col(c)).alias(c) for c in indicators)
    ).select(_empty_values().columns)


def _with_deltas(frame: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """Shared intermediates, once, without `.over`: Δ, its up/move parts, simple return."""
    starts = pl.any_horizontal(pl.col(k) != pl.col(k).shift(1) for k in by).fill_null(True)
    previous = pl.when(starts).then(None).otherwise(pl.col("close").shift(1))
    delta = pl.col("close") - previous
    return frame.with_columns(
        rsi_up=delta.clip(lower_bound=0.0),
        rsi_move=delta.abs(),
        daily_return=pl.col("close") / previous - 1.0,
    )


def _ema(expr: pl.Expr, span: int) -> pl.Expr:
    return expr.ewm_mean(span=span, adjust=False)


def _raw_exprs() -> dict[str, pl.Expr]:
    """Per-series expressions (group context); masks and ratios are applied by `_finish`."""
    close = pl.col("close")
    dif = _ema(close, MACD_FAST) - _ema(close, MACD_SLOW)
    wilder = 1.0 / RSI_LENGTH
    return {
        "traded_bars": pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        **{f"sma_{n}": close.rolling_mean(n) for n in SMA_LENGTHS},
        "macd_dif": dif,
        "macd_dea": _ema(dif, MACD_SIGNAL),
        "rsi_up": pl.col("rsi_up").ewm_mean(alpha=wilder, adjust=False),
        "rsi_move": pl.col("rsi_move").ewm_mean(alpha=wilder, adjust=False),
        "return_20d": close / close.shift(RETURN_LENGTH) - 1.0,
        "volatility_20d": pl.col("daily_return").rolling_std(RETURN_LENGTH),
    }


def _finish(frame: pl.DataFrame) -> pl.DataFrame:
    """Warm-up nulls by bar count, MACD hist, RSI ratio (null without movement)."""
    n = pl.col("traded_bars")
    has_macd = n >= MACD_MIN_BARS
    has_rsi = (n > RSI_LENGTH) & (pl.col("rsi_move") > 0.0)
    return frame.with_columns(
        macd_dif=pl.when(has_macd).then("macd_dif"),
        macd_dea=pl.when(has_macd).then("macd_dea"),
        macd_hist=pl.when(has_macd).then(2.0 * (pl.col("macd_dif") - pl.col("macd_dea"))),
        rsi_14=pl.when(has_rsi).then(100.0 * pl.col("rsi_up") / pl.col("rsi_move")),
    ).drop("rsi_up", "rsi_move")


def _forward_adjust(frame: pl.DataFrame) -> pl.DataFrame:
    """Price-level values from back-adjusted to forward-adjusted-to-D; no pass -> 0 bars."""
    return frame.with_columns(
        *(pl.col(c) / pl.col("adj_factor") for c in PRICE_LEVEL_COLUMNS),
        traded_bars=pl.col("traded_bars").fill_null(0),
    )


def _empty_values() -> pl.DataFrame:
    schema = {"order_book_id": pl.String, "date": pl.Date, "traded_bars": pl.Int64}
    return pl.DataFrame(schema={**schema, **dict.fromkeys(INDICATOR_COLUMNS[:-1], pl.Float64)})
