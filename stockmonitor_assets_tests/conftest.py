"""Shared fixtures: materialize assets on a temp instance with a chosen source."""

import contextlib
import itertools
import os
import shutil
import tempfile
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg2
import pytest

from stockmonitor_assets.assets import market
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.resources import MarketDataResource
from stockmonitor_assets.settings import DEFAULT_CHUNK_DAYS
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.thresholds import QualityThresholds

# Tests (and the subprocesses they start) keep the demo market's year cache out of $HOME. One
# cache for the whole session: made here in the process `make test` starts (before its xdist
# workers, which inherit it: their writes are atomic, so they share it), deleted at its end.
_OWN_CACHE_DIR = None
if "CACHE_DIR" not in os.environ:
    _OWN_CACHE_DIR = os.environ["CACHE_DIR"] = tempfile.mkdtemp(prefix="stockmonitor-test-cache-")
# The demo source is given its cache directory (Settings.demo_cache_dir); tests that
# build one themselves pass this one.
DEMO_CACHE = Settings.from_env().demo_cache_dir
# Run health writes a Parquet record per run under DATA_DIR/_health; tests comparing every
# Parquet file of a data directory before and after a run would see it. Off unless a test
# (test_run_health, test_log_files, ui/test_ui_report_health) turns it on.
os.environ.setdefault("STOCKMONITOR_RUN_HEALTH", "off")

MARKET_ASSETS = [market.instruments, market.raw_ohlcv, market.completed_ohlcv, market.fundamentals]

_SOURCES: dict[str, object] = {}
_ids = itertools.count()


class InjectedMarketData(MarketDataResource):
    """The market-data resource serving a provider object a test built."""

    key: str = ""

    def client(self):
        return _SOURCES[self.key]


def inject(source) -> InjectedMarketData:
    key = f"source-{next(_ids)}"
    _SOURCES[key] = source
    return InjectedMarketData(key=key)


def settings_for(data_dir: Path, **variables: str) -> Settings:
    """The environment's settings (read now, as a code location load reads them), with
    DATA_DIR set to `data_dir` and `variables` set."""
    return Settings.from_env({**os.environ, "DATA_DIR": str(data_dir), **variables})


class Pipeline:
    """Materializes assets into `data_dir` with `source`, like the CLI would: the settings
    are the environment's when the pipeline is made (DATA_DIR: `data_dir`)."""

    def __init__(
        self,
        data_dir: Path,
        source,
        instance: dg.DagsterInstance,
        chunk_days: int = DEFAULT_CHUNK_DAYS,
    ):
        self.data_dir, self.instance = data_dir, instance
        settings = settings_for(data_dir)
        self.resources = {
            "io_manager": PartitionedParquetIOManager(
                base_dir=str(data_dir), chunk_days=chunk_days, run_health=settings.run_health
            ),
            "market_data": source if isinstance(source, MarketDataResource) else inject(source),
            "quality": QualityThresholds(),
            "settings": settings,
        }

    @contextlib.contextmanager
    def settings_set(self, **variables: str):
        """Runs in the block see the settings with `variables` set (as a code location loaded
        with them would)."""
        before = self.resources["settings"]
        self.resources["settings"] = settings_for(self.data_dir, **variables)
        try:
            yield
        finally:
            self.resources["settings"] = before

    def materialize(self, assets, first: str, last: str | None = None, **kwargs):
        tags = {}
        if last is not None and last != first:
            tags = {
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
            }
        return dg.materialize(
            assets,
            partition_key=None if tags else first,
            tags=tags,
            resources=self.resources,
            instance=self.instance,
            **kwargs,
        )

    def read(self, asset: str, key: str) -> pl.DataFrame:
        return pl.read_parquet(self.data_dir / asset / f"{key}.parquet")

    def keys(self, asset: str) -> list[str]:
        return sorted(p.stem for p in (self.data_dir / asset).glob("*.parquet"))


# Modules that wait on Dagster's daemons, the longest in wall time and mostly idle, so they
# start first and overlap the busy ones: the UI's backfills (30-s backfill daemon ticks),
# then the production deployments (cron minutes, retries).
WAITING_ON_DAEMONS = ("ui", "production")


def pytest_collection_modifyitems(items):
    """Slow modules first, those waiting on daemons before them: `make test`'s workers take
    one module at a time, so the longest ones start at once and the many short ones fill the
    gaps, instead of a long module starting last and running alone."""

    def order(item) -> tuple[bool, int]:
        slow = item.get_closest_marker("slow") is not None
        folder = item.path.parent.name
        waiting = (
            WAITING_ON_DAEMONS.index(folder)
            if folder in WAITING_ON_DAEMONS
            else len(WAITING_ON_DAEMONS)
        )
        return (not slow, waiting)

    items.sort(key=order)


def pytest_unconfigure(config):
    if _OWN_CACHE_DIR is not None:
        shutil.rmtree(_OWN_CACHE_DIR, ignore_errors=True)


@pytest.fixture
def instance():
    """An in-memory instance: a run's events cost ~7x less than in instance_for_test's
    SQLite files (bench-free measure: 10 two-asset runs, 0.35 s vs 2.7 s)."""
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def pipeline_for(tmp_path, instance):
    def build(source, name: str = "data") -> Pipeline:
        return Pipeline(tmp_path / name, source, instance)

    return build


def failure_message(result) -> str:
    """The whole error chain of a failed run's first failed step, as one string."""
    events = result.get_step_failure_events() or [
        e for e in result.all_events if e.event_type_value == "RUN_FAILURE"
    ]
    return events[0].event_specific_data.error.to_string()


def postgres_admin(statement: str, dbname: str = "postgres") -> None:
    """Run one statement as the superuser of the test server (CREATE/DROP DATABASE or ROLE)."""
    conn = psycopg2.connect(
        dbname=dbname, host="127.0.0.1", port=5432, user="postgres", connect_timeout=5
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()
