"""Numpy kernel of the technical indicators: many series at once in a series x bars block.

A block holds one series per row, every series starting in column 0 (its seed bar) and
NaN-padded after its last bar. Column k is therefore the (k+1)-th bar of every series, so
warm-up rules are columns. Window statistics slide along the rows; the EMA recursions run
on a bars x series copy and step down its rows with one vector operation per bar across all
series (a Python loop of bars iterations, not of stocks).

Every value is computed by the same sequence of IEEE operations on the same bars whatever
the block's shape or its other columns: SMAs are sums of the last N bars added in a fixed
order (never differences of running sums, whose error grows with the series), EMAs depend
on their seed row only. A range run and day-by-day runs therefore agree bit for bit.
"""

import numpy as np

SMA_LENGTHS = (5, 10, 20, 60)
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
MACD_MIN_BARS = 34
RSI_LENGTH = 14
RETURN_LENGTH = 20
COLUMNS = (
    *(f"sma_{n}" for n in SMA_LENGTHS),
    "rsi_14",
    "macd_dif",
    "macd_dea",
    "macd_hist",
    "return_20d",
    "volatility_20d",
)


class Arena:
    """Scratch arrays reused from one block to the next.

    Fresh pages cost more than the arithmetic here (page faults on a loaded machine; the
    allocator returns big freed arrays to the system), so a run of blocks recycles the
    same buffers: `reset()` before each block, then `empty(shape)` hands out the next one.
    Arrays from before a `reset()` are overwritten by later blocks.
    """

    def __init__(self) -> None:
        self._buffers: list[np.ndarray] = []
        self._used = 0

    def reset(self) -> None:
        self._used = 0

    def empty(self, shape: tuple[int, ...]) -> np.ndarray:
        size = int(np.prod(shape))
        if self._used == len(self._buffers):
            self._buffers.append(np.empty(size))
        elif self._buffers[self._used].size < size:
            self._buffers[self._used] = np.empty(size)
        self._used += 1
        return self._buffers[self._used - 1][:size].reshape(shape)


def indicator_block(close: np.ndarray, arena: Arena | None = None) -> dict[str, np.ndarray]:
    """Every indicator of every series of a (series, bars) block, same shape; NaN if undefined.

    NaN marks warm-up bars (fewer bars than the indicator needs), padding, and an RSI
    without price movement; `close` itself must hold no NaN before a series' padding.
    Outputs may be non-contiguous views (copy them out rather than `ravel` them), and live
    in `arena` (until its next `reset`) when one is given.
    """
    arena = arena or Arena()
    out = _moving_averages(close, arena)
    out.update(_macd_and_rsi(close, arena))
    out["return_20d"] = _lagged_ratio(close, RETURN_LENGTH, arena)
    out["return_20d"] -= 1.0
    returns = _lagged_ratio(close, 1, arena)
    returns -= 1.0
    out["volatility_20d"] = _volatility(returns, RETURN_LENGTH, arena)
    return out


def _moving_averages(close: np.ndarray, arena: Arena) -> dict[str, np.ndarray]:
    """SMA 5/10/20/60 from window sums built by doubling: S10 = S5 + S5 lagged 5, etc."""
    sums = _window_sums(close, arena)
    return {f"sma_{n}": np.divide(sums[n], n, out=sums[n]) for n in SMA_LENGTHS}


def _window_sums(values: np.ndarray, arena: Arena, longest: int = 60) -> dict[int, np.ndarray]:
    """Sums of the last 5, 10, 20 (and 60) bars; NaN where a window reaches before bar 0."""
    bars = values.shape[1]
    s5 = _nan_head(values.shape, 4, arena)
    np.add(values[:, :-4], values[:, 1:-3], out=s5[:, 4:])
    for lag in (2, 1, 0):
        s5[:, 4:] += values[:, 4 - lag : bars - lag]
    s10 = _plus_lagged(s5, 5, arena)
    s20 = _plus_lagged(s10, 10, arena)
    if longest < 60:
        return {5: s5, 10: s10, 20: s20}
    s60 = _plus_lagged(s20, 20, arena)
    s60[:, 40:] += s20[:, :-40]
    s60[:, :59] = np.nan
    return {5: s5, 10: s10, 20: s20, 60: s60}


def _nan_head(shape: tuple[int, ...], bars: int, arena: Arena) -> np.ndarray:
    """An uninitialised (series, bars) array, NaN in its first `bars` columns."""
    out = arena.empty(shape)
    out[:, :bars] = np.nan
    return out


def _plus_lagged(values: np.ndarray, lag: int, arena: Arena) -> np.ndarray:
    out = _nan_head(values.shape, lag, arena)
    np.add(values[:, lag:], values[:, :-lag], out=out[:, lag:])
    return out


def _lagged_ratio(values: np.ndarray, lag: int, arena: Arena) -> np.ndarray:
    """values[:, k] / values[:, k - lag], NaN in the first `lag` columns."""
    out = _nan_head(values.shape, lag, arena)
    np.divide(values[:, lag:], values[:, :-lag], out=out[:, lag:])
    return out


def _volatility(returns: np.ndarray, length: int, arena: Arena) -> np.ndarray:
    """Sample std (ddof=1) of the last `length` returns, from window sums of r and r²."""
    sums = _window_sums(returns, arena, length)[length]
    squares = np.multiply(returns, returns, out=returns)
    squares = _window_sums(squares, arena, length)[length]
    sums *= sums
    sums /= length
    variance = np.subtract(squares, sums, out=squares)
    variance /= length - 1
    variance[variance < 0.0] = 0.0  # rounding of a (near-)constant window
    return np.sqrt(variance, out=variance)


def _macd_and_rsi(close: np.ndarray, arena: Arena) -> dict[str, np.ndarray]:
    """MACD 12/26/9 and RSI 14 (通达信: EMA seeded with the first bar, RSI with the first Δ).

    Computed bars x series, so each step of the recursions is one row across all series.
    """
    series, bars = close.shape
    stacked = arena.empty((bars, 4, series))  # close, close, up move, absolute move
    stacked[:, 0] = close.T
    stacked[:, 1] = stacked[:, 0]
    delta = np.subtract(stacked[1:, 0], stacked[:-1, 0], out=stacked[1:, 3])
    np.maximum(delta, 0.0, out=stacked[1:, 2])
    np.abs(delta, out=delta)
    # The RSI averages start on the first Δ (row 1): seed row 0 with it, so that row 1
    # (e + α·(x − e) with x = e) keeps it exactly.
    stacked[0, 2:] = stacked[1, 2:] if bars > 1 else np.nan
    alphas = np.array([2 / (MACD_FAST + 1), 2 / (MACD_SLOW + 1), 1 / RSI_LENGTH, 1 / RSI_LENGTH])
    _ema_in_place(stacked, alphas[:, None])
    dif = np.subtract(stacked[:, 0], stacked[:, 1], out=arena.empty((bars, series)))
    dea = arena.empty((bars, series))
    np.copyto(dea, dif)
    _ema_in_place(dea, 2 / (MACD_SIGNAL + 1))
    up, move = stacked[:, 2], stacked[:, 3]
    rsi = np.multiply(up, 100.0, out=up)
    with np.errstate(invalid="ignore", divide="ignore"):
        rsi /= move
    rsi[~(move > 0.0)] = np.nan
    rsi[:RSI_LENGTH] = np.nan
    hist = np.subtract(dif, dea, out=arena.empty((bars, series)))
    hist *= 2.0
    for values in (dif, dea, hist):
        values[: MACD_MIN_BARS - 1] = np.nan
    return {"rsi_14": rsi.T, "macd_dif": dif.T, "macd_dea": dea.T, "macd_hist": hist.T}


def _ema_in_place(values: np.ndarray, alpha: float | np.ndarray) -> None:
    """e[k] = e[k-1] + α·(x[k] − e[k-1]) down the rows, seeded with row 0 (adjust=False)."""
    for k in range(1, len(values)):
        row = values[k]
        row -= values[k - 1]
        row *= alpha
        row += values[k - 1]
