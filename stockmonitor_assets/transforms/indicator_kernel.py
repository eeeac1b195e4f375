"""Compiled kernel of the technical indicators: one pass per series over its bars.

The series lie end to end in one column (series i is `close[bounds[i]:bounds[i + 1]]`,
seeded at its first bar), and numba compiles the loops that walk each series: a series of
2,500 bars (20 KB) stays in cache while every indicator is computed on it, which numpy's
whole-block passes (memory-bound) and TA-Lib's per-call overhead (per stock) cannot match.

Every value is computed by the same sequence of IEEE operations on the same bars of its own
series, whatever the other series in the call: SMAs are sums of the last N bars added in a
fixed order (never differences of running sums, whose error grows with the series), EMAs
depend on their seed bar only, and numba compiles without fast-math, so no reassociation or
fused multiply-add. A range run and day-by-day runs therefore agree bit for bit.
"""

import functools
import threading
from collections.abc import Callable

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
_SMA, _RSI, _MACD = COLUMNS.index("sma_5"), COLUMNS.index("rsi_14"), COLUMNS.index("macd_dif")
_RETURN, _VOLATILITY = COLUMNS.index("return_20d"), COLUMNS.index("volatility_20d")
_FAST, _SLOW, _SIGNAL = 2 / (MACD_FAST + 1), 2 / (MACD_SLOW + 1), 2 / (MACD_SIGNAL + 1)
_WILDER = 1 / RSI_LENGTH
_SCRATCH_ROWS = 6  # per-bar work arrays a helper needs at most (_return_and_volatility)


def indicators(close: np.ndarray, bounds: np.ndarray) -> dict[str, np.ndarray]:
    """Every indicator on every bar of the series in `close`; NaN where undefined.

    Series i is `close[bounds[i]:bounds[i + 1]]` (`bounds` ascending, ending at len(close)).
    NaN marks warm-up bars (fewer bars than the indicator needs) and an RSI without price
    movement; `close` must hold no NaN. The arrays returned are rows of one 2-D array.
    """
    close = np.require(close, np.float64, "C").view()
    close.flags.writeable = False  # one compiled signature whatever the caller passes
    bounds = np.require(bounds, np.int64, "C")
    longest = int(np.diff(bounds).max(initial=0))
    out = np.empty((len(COLUMNS), len(close)))
    with _COMPILING:
        kernel = _compiled()
    kernel(close, bounds, out, np.empty(_SCRATCH_ROWS * longest))
    return dict(zip(COLUMNS, out, strict=True))


_COMPILING = threading.Lock()
_JITTED = (
    "_divide",
    "_rsi",
    "_window_sums",
    "_recursions",
    "_sma",
    "_macd_and_rsi",
    "_return_and_volatility",
    "_all_series",
)


@functools.cache
def _compiled() -> Callable[..., None]:
    """`_all_series` compiled, with the helpers it calls (each name rebound to its compiled
    version, which numba needs to call it from compiled code).

    Done on first use, so that importing the pipeline does not import numba. `cache=True`
    keeps the machine code in __pycache__ for the next processes (compiling takes seconds).
    error_model="numpy": a division by zero gives inf/NaN as in numpy instead of raising, and
    without that check per division LLVM can vectorize the loops.
    """
    import numba

    for name in _JITTED:
        globals()[name] = numba.njit(cache=True, error_model="numpy")(globals()[name])
    return globals()["_all_series"]


# The helpers take contiguous 1-D arrays (rows of `out`, slices of a flat scratch buffer) and
# index them as `a[k + lag]` with k counting from 0: a negative-looking index `a[k - lag]`
# makes numba emit a wrap-around check per access, which stops LLVM vectorizing (6x slower
# on the window sums).


def _all_series(close: np.ndarray, bounds: np.ndarray, out: np.ndarray, scratch: np.ndarray):
    """Each series into the same columns of `out` (rows ordered as COLUMNS)."""
    for i in range(len(bounds) - 1):
        lo, hi = bounds[i], bounds[i + 1]
        if lo == hi:
            continue
        x, rows = close[lo:hi], [out[j, lo:hi] for j in range(len(COLUMNS))]
        _sma(x, rows[_SMA], rows[_SMA + 1], rows[_SMA + 2], rows[_SMA + 3], scratch)
        _macd_and_rsi(x, rows[_MACD], rows[_MACD + 1], rows[_MACD + 2], rows[_RSI], scratch)
        _return_and_volatility(x, rows[_RETURN], rows[_VOLATILITY], scratch)


def _sma(x, sma5, sma10, sma20, sma60, scratch) -> None:
    """SMA 5/10/20/60 from window sums built by doubling: S10 = S5 + S5 lagged 5, etc."""
    n = len(x)
    rows = scratch[: 3 * n].reshape(3, n)
    s5, s10, s20 = rows[0], rows[1], rows[2]
    _window_sums(x, s5, s10, s20)
    _divide(s5, 5, sma5)
    _divide(s10, 10, sma10)
    _divide(s20, 20, sma20)
    sma60[:59] = np.nan
    for k in range(n - 59):  # bar k + 59: S20 + S20 lagged 20 + S20 lagged 40
        sma60[k + 59] = (s20[k + 59] + s20[k + 39] + s20[k + 19]) / 60


def _divide(values, divisor, out) -> None:
    """out = values / divisor, in a loop of its own (simple enough for LLVM to vectorize)."""
    for k in range(len(values)):
        out[k] = values[k] / divisor


def _window_sums(v, s5, s10, s20) -> None:
    """Sums of the last 5, 10 and 20 values; NaN where a window reaches before bar 0."""
    s5[:4], s10[:9], s20[:19] = np.nan, np.nan, np.nan
    for k in range(len(v) - 4):
        s5[k + 4] = v[k] + v[k + 1] + v[k + 2] + v[k + 3] + v[k + 4]
    for k in range(len(v) - 9):
        s10[k + 9] = s5[k + 9] + s5[k + 4]
    for k in range(len(v) - 19):
        s20[k + 19] = s10[k + 19] + s10[k + 9]


def _macd_and_rsi(x, dif, dea, hist, rsi, scratch) -> None:
    """MACD 12/26/9 (hist = 2 × (dif − dea)) and RSI 14 = SMA(max(Δ,0),14,1) / SMA(|Δ|,14,1)
    × 100 (通达信)."""
    n = len(x)
    rows = scratch[: 2 * n].reshape(2, n)
    up, move = rows[0], rows[1]
    _recursions(x, dif, dea, up, move)
    for k in range(n):
        hist[k] = (dif[k] - dea[k]) * 2.0
    for k in range(n):
        rsi[k] = _rsi(up[k], move[k])
    dif[: MACD_MIN_BARS - 1], dea[: MACD_MIN_BARS - 1] = np.nan, np.nan
    hist[: MACD_MIN_BARS - 1], rsi[:RSI_LENGTH] = np.nan, np.nan


def _rsi(up: float, move: float) -> float:
    """100 × up / move, exact at the edges: the share up / move is taken first (1.0 exactly
    when nothing fell, since then the two recursions are identical; 0.0 when nothing rose),
    and clipped to [0, 1] against the rounding of the two recursions; NaN when flat.
    (`up * 100 / move` gave 100.00000000000001 after 25 one-price limit-ups.)"""
    if not move > 0.0:
        return np.nan
    share = up / move
    return 100.0 * (1.0 if share > 1.0 else (0.0 if share < 0.0 else share))


def _recursions(x, dif, dea, up, move) -> None:
    """The EMAs e += α·(v − e) (adjust=False): 12 and 26 of the close seeded with bar 0, 9 of
    their difference, and 1/14 of the gains and of |Δ| seeded with the Δ of bar 1. One loop,
    so that the five dependency chains (the cost here) overlap."""
    fast = slow = previous = x[0]
    signal = 0.0  # dif of bar 0
    gain = change = np.nan
    for k in range(len(x)):
        fast = (x[k] - fast) * _FAST + fast
        slow = (x[k] - slow) * _SLOW + slow
        signal = (fast - slow - signal) * _SIGNAL + signal
        delta, previous = x[k] - previous, x[k]
        rise = 0.0 if delta < 0.0 else delta
        if k == 1:  # seed; this bar's step keeps it exactly: (v − v)·α + v = v
            gain, change = rise, abs(delta)
        gain = (rise - gain) * _WILDER + gain
        change = (abs(delta) - change) * _WILDER + change
        dif[k], dea[k], up[k], move[k] = fast - slow, signal, gain, change


def _return_and_volatility(x, ret, volatility, scratch) -> None:
    """20-bar return, and sample std (ddof=1) of the last 20 daily returns from window sums
    of r and r² (TA-Lib's method); the variance is clipped at 0 against the rounding of a
    (near-)constant window."""
    n = len(x)
    rows = scratch[: 6 * n].reshape(6, n)
    r, squares, r_sum, squares_sum = rows[0], rows[1], rows[2], rows[3]
    r[0] = np.nan
    for k in range(n - 1):
        r[k + 1] = x[k + 1] / x[k] - 1.0
    for k in range(n):
        squares[k] = r[k] * r[k]
    ret[:RETURN_LENGTH] = np.nan
    for k in range(n - RETURN_LENGTH):
        ret[k + RETURN_LENGTH] = x[k + RETURN_LENGTH] / x[k] - 1.0
    _window_sums(r, rows[4], rows[5], r_sum)
    _window_sums(squares, rows[4], rows[5], squares_sum)
    volatility[:RETURN_LENGTH] = np.nan
    for k in range(RETURN_LENGTH, n):
        mean_square = r_sum[k] * r_sum[k] / RETURN_LENGTH
        variance = (squares_sum[k] - mean_square) / (RETURN_LENGTH - 1)
        volatility[k] = np.sqrt(0.0 if variance < 0.0 else variance)
