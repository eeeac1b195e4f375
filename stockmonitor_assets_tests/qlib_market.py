"""A crafted market for the qlib provider tests: a listing, a delisting, a long suspension
and an ex-dividend day inside the range, materialized through the whole graph once."""

import datetime as dt
import functools
import tempfile
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl

from stockmonitor_assets import trading_calendar as tc
from stockmonitor_assets.assets import indicators, market, qlib_export, scoring
from stockmonitor_assets_tests.conftest import Pipeline
from stockmonitor_assets_tests.crafted_market import CraftedMarket, bars_frame, instruments_frame

HISTORY = tc.sessions(dt.date(2023, 11, 1), dt.date(2024, 4, 30))
RANGE = [d for d in HISTORY if d >= dt.date(2024, 2, 1)]
FIRST, LAST = RANGE[0], RANGE[-1]
APPENDED = 3  # the last days are materialized one run each, after the range run

# Enough traded stocks that one suspension keeps a day's bar coverage above 90%.
NORMAL = (
    "600000.XSHG", "000001.XSHE", "300001.XSHE", "600003.XSHG", "000004.XSHE", "600004.XSHG",
    "600005.XSHG", "000005.XSHE", "000006.XSHE", "300002.XSHE", "600006.XSHG", "430047.BJSE",
)  # fmt: skip
LISTED = "600001.XSHG"  # listed inside the range
DELISTED = "600002.XSHG"  # delisted inside the range
SUSPENDED = "000002.XSHE"  # no bars for 15 sessions inside the range
DIVIDEND = "600000.XSHG"  # ex-dividend inside the range: adj_factor 1 -> 1.25
LISTING_DAY, DELISTING_DAY = RANGE[10], RANGE[25]
SUSPENSION = RANGE[5:20]
EX_DAY = RANGE[15]

ASSETS = [
    market.instruments,
    market.raw_ohlcv,
    market.completed_ohlcv,
    market.fundamentals,
    indicators.technical_indicators,
    indicators.fundamental_indicators,
    scoring.merged,
    scoring.scores,
    qlib_export.qlib_provider,
]


def crafted_market() -> CraftedMarket:
    rng = np.random.default_rng(23)
    stocks = [*NORMAL, LISTED, DELISTED, SUSPENDED]
    listed = {s: dt.date(2010, 1, 4) for s in stocks} | {LISTED: LISTING_DAY}
    rows = []
    for stock in stocks:
        close = 10.0 + 5 * rng.random()
        for day in HISTORY:
            if day < listed[stock] or (stock == DELISTED and day >= DELISTING_DAY):
                continue
            if stock == SUSPENDED and day in SUSPENSION:
                continue
            prev = close / 1.25 if (stock == DIVIDEND and day == EX_DAY) else close
            close = round(prev * (1 + rng.normal(0, 0.02)), 2)
            rows.append(_bar(stock, day, prev, close, rng))
    instruments = [{"order_book_id": s, "listed_date": listed[s], "symbol": s[:6]} for s in stocks]
    instruments[stocks.index(DELISTED)]["de_listed_date"] = DELISTING_DAY
    ex = pl.DataFrame({"order_book_id": [DIVIDEND], "ex_date": [EX_DAY], "ex_cum_factor": [1.25]})
    return CraftedMarket(
        instruments_frame=instruments_frame(instruments), bars=bars_frame(rows), ex_factor_frame=ex
    )


def _bar(stock, day, prev, close, rng) -> dict:
    high, low = max(prev, close) * 1.01, min(prev, close) * 0.99
    volume = float(rng.integers(1, 100) * 1000)
    return dict(
        order_book_id=stock, date=day, open=prev, high=high, low=low, close=close,
        prev_close=prev, volume=volume, total_turnover=volume * (high + low) / 2,
        limit_up=None, limit_down=None,
    )  # fmt: skip


@functools.cache
def qlib_run() -> tuple[Pipeline, Path]:
    """Every asset over the range in one run, then the last days one run each (appends)."""
    data_dir = Path(tempfile.mkdtemp(prefix="stockmonitor-qlib-"))
    pipeline = Pipeline(data_dir, crafted_market(), dg.DagsterInstance.ephemeral())
    with pipeline.settings_set(STOCKMONITOR_QLIB_DIR=str(data_dir / "qlib")):
        keys = [tc.partition_key(d) for d in RANGE]
        pipeline.materialize(ASSETS, keys[0], keys[-APPENDED - 1])
        for key in keys[-APPENDED:]:
            pipeline.materialize(ASSETS, key)
    return pipeline, data_dir / "qlib"


def stored(pipeline: Pipeline, asset: str) -> pl.DataFrame:
    return pl.concat([pipeline.read(asset, k) for k in pipeline.keys(asset)])
