"""Indicator kernel: the project's implementation vs TA-Lib per stock vs pandas groupby.

Usage: python bench/bench_kernel.py [--quick] [--stocks N] [--days D ...] [--reps R]

Input: N stocks x D days of synthetic random-walk closes, one long frame sorted by stock
and date (the shape `indicator_series` takes). Every variant computes the same set: SMA
5/10/20/60, MACD 12/26/9 (dif, dea, hist = 2*(dif-dea)), RSI 14, 20-day return and
20-day volatility of daily returns (std, ddof=1).

- project: `technical.indicator_series` (the kernel of `compute_technical_indicators`:
  polars in and out, `indicator_kernel`'s numba-compiled loop over each stock's bars inside).
- talib: a Python loop over stocks calling TA-Lib on each stock's slice of the same
  numpy column (SMA, MACD, RSI, ROCR, STDDEV), results written into preallocated arrays.
- pandas: `groupby(...).rolling` / `groupby(...).ewm(adjust=False)` on a pandas frame
  built beforehand (conversion not timed).

Agreement is checked after timing: vs pandas on every bar (same convention), vs TA-Lib
past bar 300 of each stock (TA-Lib seeds EMAs and RSI differently; the difference decays).
Timing interleaves the variants (rotating order) and reports medians, after one warm-up
call of the project (numba import and compiled-code load). The one-off costs of a fresh
process (numba import, first call with an empty and with a filled numba cache) are measured
in child processes and printed first.
"""

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import polars as pl
import talib
from benchlib import interleaved, median, print_machine, table

from stockmonitor_assets.transforms.technical import indicator_series

COLUMNS = (
    "sma_5",
    "sma_10",
    "sma_20",
    "sma_60",
    "macd_dif",
    "macd_dea",
    "macd_hist",
    "rsi_14",
    "return_20d",
    "volatility_20d",
)
TALIB_FROM_BAR = 300


def synthetic_frame(stocks: int, days: int, seed: int = 7) -> pl.DataFrame:
    """`order_book_id, date, close`: geometric random walks, sorted by stock then date."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.02, (stocks, days))
    start = rng.uniform(3.0, 80.0, (stocks, 1))
    closes = np.round(start * np.exp(np.cumsum(steps, axis=1)), 2)
    calendar = pl.date_range(dt.date(2010, 1, 4), dt.date(2040, 1, 1), "1d", eager=True)
    calendar = calendar.filter(calendar.dt.weekday() <= 5)[:days]
    ids = [f"{600000 + i:06d}.XSHG" for i in range(stocks)]
    return pl.DataFrame(
        {
            "order_book_id": np.repeat(ids, days),
            "date": np.tile(calendar.to_numpy(), stocks),
            "close": closes.ravel(),
        }
    ).with_columns(pl.col("date").cast(pl.Date))


FIRST_CALL = """
import time
import numpy as np
from stockmonitor_assets.transforms import indicator_kernel
start = time.perf_counter()
indicator_kernel.indicators(np.linspace(1.0, 2.0, 100), np.array([0, 100]))
print(time.perf_counter() - start)
"""
NUMBA_IMPORT = """
import time
import numpy
start = time.perf_counter()
import numba
print(time.perf_counter() - start)
"""
PIPELINE_IMPORT = "import sys, stockmonitor_assets.definitions; print('numba' in sys.modules)"


def child(code: str, env: dict[str, str] | None = None) -> list[str]:
    """stdout words of `python -c code` in a fresh interpreter."""
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return run.stdout.split()


def report_first_call() -> None:
    """One-off costs a fresh process pays before its first kernel call."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cold, warm = (float(child(FIRST_CALL, env)[0]) for _ in range(2))
    numba_import = float(child(NUMBA_IMPORT)[0])
    print(
        f"fresh process: import numba {numba_import:.2f} s; first kernel call (numba import "
        f"included) {cold:.2f} s with an empty numba cache (compiles), {warm:.2f} s with "
        f"it filled; `import stockmonitor_assets.definitions` imports numba: "
        f"{child(PIPELINE_IMPORT)[0]}"
    )


def run_project(frame: pl.DataFrame) -> pl.DataFrame:
    return indicator_series(frame)


def run_talib(closes: np.ndarray, bounds: np.ndarray) -> dict[str, np.ndarray]:
    """TA-Lib per stock on contiguous slices of one column; outputs aligned to the input."""
    out = {c: np.full(len(closes), np.nan) for c in COLUMNS}
    scale = np.sqrt(20 / 19)  # TA-Lib's STDDEV is the population std (ddof=0)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        close = closes[lo:hi]
        for n in (5, 10, 20, 60):
            out[f"sma_{n}"][lo:hi] = talib.SMA(close, n)
        dif, dea, hist = talib.MACD(close, 12, 26, 9)
        out["macd_dif"][lo:hi], out["macd_dea"][lo:hi] = dif, dea
        out["macd_hist"][lo:hi] = 2.0 * hist
        out["rsi_14"][lo:hi] = talib.RSI(close, 14)
        out["return_20d"][lo:hi] = talib.ROCR(close, 20) - 1.0
        returns = close[1:] / close[:-1] - 1.0
        out["volatility_20d"][lo + 1 : hi] = talib.STDDEV(returns, 20, 1.0) * scale
    return out


def run_pandas(frame: pd.DataFrame) -> pd.DataFrame:
    """The same convention in pandas: ewm(adjust=False) seeded with the first value."""
    by = frame.groupby("order_book_id", sort=False)
    close = by["close"]
    delta = close.diff()
    out = pd.DataFrame(index=frame.index)
    for n in (5, 10, 20, 60):
        out[f"sma_{n}"] = close.rolling(n).mean().reset_index(level=0, drop=True)

    def ema(series: pd.Series, **kw) -> pd.Series:
        grouped = series.groupby(frame["order_book_id"], sort=False)
        return grouped.ewm(adjust=False, **kw).mean().reset_index(level=0, drop=True)

    out["macd_dif"] = ema(frame["close"], span=12) - ema(frame["close"], span=26)
    out["macd_dea"] = ema(out["macd_dif"], span=9)
    out["macd_hist"] = 2.0 * (out["macd_dif"] - out["macd_dea"])
    up = ema(delta.clip(lower=0.0), alpha=1 / 14)
    move = ema(delta.abs(), alpha=1 / 14)
    out["rsi_14"] = (100.0 * up / move).where(move > 0)
    out["return_20d"] = frame["close"] / close.shift(20) - 1.0
    returns = frame["close"] / close.shift(1) - 1.0
    vol = returns.groupby(frame["order_book_id"], sort=False).rolling(20).std()
    out["volatility_20d"] = vol.reset_index(level=0, drop=True)
    count = by.cumcount() + 1
    out.loc[count < 34, ["macd_dif", "macd_dea", "macd_hist"]] = np.nan
    out.loc[count < 15, "rsi_14"] = np.nan
    return out


def max_abs_diffs(
    ours: pl.DataFrame, theirs: dict[str, np.ndarray], mask: np.ndarray
) -> dict[str, float]:
    """Largest |ours - theirs| per column on masked rows where both have a value."""
    diffs = {}
    for column in COLUMNS:
        a = ours[column].to_numpy().astype(float)[mask]
        b = np.asarray(theirs[column], dtype=float)[mask]
        both = ~np.isnan(a) & ~np.isnan(b)
        diffs[column] = float(np.max(np.abs(a[both] - b[both]))) if both.any() else float("nan")
    return diffs


def bench_size(stocks: int, days: int, reps: int) -> dict:
    frame = synthetic_frame(stocks, days)
    closes = frame["close"].to_numpy()
    bounds = np.arange(0, stocks * days + 1, days)
    pandas_frame = frame.to_pandas()
    results: dict = {}
    times = interleaved(
        {
            "project": lambda: results.__setitem__("project", run_project(frame)),
            "talib": lambda: results.__setitem__("talib", run_talib(closes, bounds)),
            "pandas": lambda: results.__setitem__("pandas", run_pandas(pandas_frame)),
        },
        reps,
    )
    bar = np.tile(np.arange(days), stocks)
    vs_pandas = max_abs_diffs(results["project"], results["pandas"], np.ones(len(bar), bool))
    vs_talib = (
        max_abs_diffs(results["project"], results["talib"], bar >= TALIB_FROM_BAR)
        if days > TALIB_FROM_BAR
        else None
    )
    return {"stocks": stocks, "days": days, "times": times, "pandas": vs_pandas, "talib": vs_talib}


def report(runs: list[dict]) -> None:
    rows = []
    for run in runs:
        m = {k: median(v) for k, v in run["times"].items()}
        rows.append(
            (
                f"{run['stocks']:,} x {run['days']:,}",
                len(run["times"]["project"]),
                f"{m['project']:.3f}",
                f"{m['talib']:.3f}",
                f"{m['pandas']:.3f}",
                f"{m['talib'] / m['project']:.2f}x",
                f"{m['pandas'] / m['project']:.2f}x",
            )
        )
    header = ("stocks x days", "reps", "project s", "TA-Lib loop s", "pandas s")
    print(table((*header, "TA-Lib/project", "pandas/project"), rows))
    print()
    for run in runs:
        label = f"{run['stocks']:,} x {run['days']:,}"
        pandas_max = max(run["pandas"].values())
        print(f"{label}: max |project - pandas| over all bars = {pandas_max:.2e}")
        if run["talib"] is None:
            print(f"{label}: no bar past {TALIB_FROM_BAR}, TA-Lib agreement not applicable")
        else:
            worst = max(run["talib"], key=run["talib"].get)
            print(
                f"{label}: max |project - TA-Lib| past bar {TALIB_FROM_BAR} = "
                f"{run['talib'][worst]:.2e} ({worst})"
            )
        detail = ", ".join(f"{k} {v:.1e}" for k, v in (run["talib"] or run["pandas"]).items())
        print(f"  per column: {detail}")
    print()
    for run in runs:
        raw = {k: [round(t, 3) for t in v] for k, v in run["times"].items()}
        print(f"raw seconds {run['stocks']} x {run['days']}: {raw}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 stocks, 250/400 days, 2 reps")
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--days", type=int, nargs="+", default=[250, 2500])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    if args.quick:
        args.stocks, args.days, args.reps = 500, [250, 400], 2
    print_machine()
    print(f"polars threads: {pl.thread_pool_size()}; kernel, TA-Lib and pandas single-threaded")
    report_first_call()
    run_project(synthetic_frame(10, 100))  # warm-up: numba import and compiled-code load
    report([bench_size(args.stocks, days, args.reps) for days in args.days])


if __name__ == "__main__":
    main()
