"""The clean reference run shared by the metadata, freshness and contract tests: the full
graph on the demo market (3 weeks of bars, then 3 days), materialized once per session, and
copies of its files for tests that rebuild part of it."""

import functools
import shutil
import tempfile
from pathlib import Path

import dagster as dg

from stockmonitor_assets.assets import indicators, market, scoring
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets_tests.conftest import DEMO_CACHE, Pipeline

MARKET = [market.instruments, market.raw_ohlcv, market.completed_ohlcv, market.fundamentals]
DERIVED = [
    indicators.technical_indicators,
    indicators.fundamental_indicators,
    scoring.merged,
    scoring.scores,
]
ASSETS = [*MARKET, *DERIVED]
HISTORY_FROM, FIRST, LAST = "2024-05-20", "2024-06-05", "2024-06-07"
DAY = "2024-06-07"


@functools.cache
def clean_run() -> tuple[Pipeline, list]:
    """The market assets from HISTORY_FROM, then every asset and check over FIRST..LAST.

    Cached for the session (on an in-memory instance): several modules read the same run.
    """
    demo = DemoMarket(cache_dir=DEMO_CACHE, seed=7, universe_size=120)
    data_dir = Path(tempfile.mkdtemp(prefix="stockmonitor-clean-"))
    pipeline = Pipeline(data_dir, demo, dg.DagsterInstance.ephemeral())
    history = pipeline.materialize(MARKET, HISTORY_FROM, FIRST)
    return pipeline, [history, pipeline.materialize(ASSETS, FIRST, LAST)]


def copy_without(rebuilt: list[str], data_dir: Path) -> Pipeline:
    """The clean run's files in `data_dir`, minus FIRST..LAST of the `rebuilt` assets.

    A test re-running those assets (say, with a defect) reads the rest from the copy, on
    its own in-memory instance.
    """
    clean, _ = clean_run()
    shutil.copytree(clean.data_dir, data_dir)
    for asset in rebuilt:
        for path in (data_dir / asset).glob("*.parquet"):
            if path.stem >= FIRST:
                path.unlink()
    return Pipeline(data_dir, clean.resources["market_data"], dg.DagsterInstance.ephemeral())
