"""Shared by the reliability suite: a tiny demo market, `dagster` CLI subprocesses, snapshots."""

import itertools
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg2
import pytest

from stockmonitor_assets import settings
from stockmonitor_assets.assets import database, indicators, market, scoring
from stockmonitor_assets.database import PostgresResource
from stockmonitor_assets.resources import MarketDataResource

REPO = Path(__file__).resolve().parents[2]
UNIVERSE_SIZE = 30
DEMO_SEED = 42
DEFINITIONS = "stockmonitor_assets.definitions"
MARKET_SELECTION = "instruments,raw_ohlcv,completed_ohlcv,fundamentals"
# Every asset of the code location, as definitions.py loads them.
ALL_ASSETS = dg.load_assets_from_modules([market, indicators, scoring, database])
PG = dict(host="127.0.0.1", port=5432, user="postgres")
# Variables of the caller that must not leak into a subprocess under test (CACHE_DIR is kept:
# the demo market's year cache of the test session, keyed by all a year depends on).
_ISOLATED = (
    "DAGSTER_HOME",
    "DATA_DIR",
    "LOG_DIR",
    *settings.DB_VARS,
    *settings.RQDATAC_SECRETS,
    settings.RQDATAC_BASE_URL,
)


def demo_market() -> MarketDataResource:
    """The resource a user gets with STOCKMONITOR_UNIVERSE_SIZE=30 (retries included)."""
    return MarketDataResource(source="demo", universe_size=UNIVERSE_SIZE, demo_seed=DEMO_SEED)


def demo_pipeline(pipeline_for, name: str = "data", database: PostgresResource | None = None):
    """A `Pipeline` over the tiny demo market; scores go to `database` (default: none)."""
    pipeline = pipeline_for(demo_market(), name)
    pipeline.resources["database"] = database or PostgresResource()
    return pipeline


def snapshot(data_dir: Path) -> dict[str, bytes]:
    """Every Parquet partition under `data_dir`, by relative path, with its bytes."""
    return {
        str(p.relative_to(data_dir)): p.read_bytes() for p in sorted(data_dir.rglob("*.parquet"))
    }


def unreadable_parquet(data_dir: Path) -> list[str]:
    """Partitions a later run would fail to read (truncated or torn files)."""
    bad = []
    for path in sorted(data_dir.rglob("*.parquet")):
        try:
            pl.read_parquet(path)
        except Exception:  # noqa: BLE001 - any read failure means a damaged file
            bad.append(str(path.relative_to(data_dir)))
    return bad


STARTS_AT_ONCE = """run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""


class Cli:
    """Runs `dagster` (or `stockmonitor`) in a subprocess on a fresh instance, demo market."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self._homes = itertools.count()

    def env(self, data_dir: Path | str, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _ISOLATED and not k.startswith("STOCKMONITOR_")
        }
        home = self.tmp_path / f"dagster_home_{next(self._homes)}"
        home.mkdir()
        # `stockmonitor run` submits runs; without a daemon, a queued coordinator never starts them.
        (home / "dagster.yaml").write_text(STARTS_AT_ONCE)
        env.update(
            DAGSTER_HOME=str(home),
            DATA_DIR=str(data_dir),
            LOG_DIR=str(self.tmp_path / "logs"),
            STOCKMONITOR_SOURCE="demo",
            STOCKMONITOR_UNIVERSE_SIZE=str(UNIVERSE_SIZE),
            STOCKMONITOR_DEMO_SEED=str(DEMO_SEED),
            # Off as in the rest of the suite (conftest.py): a run's health record is a
            # Parquet file under DATA_DIR, which "writes nothing" checks would count.
            STOCKMONITOR_RUN_HEALTH="off",
        )
        env.update(extra)
        return env

    @staticmethod
    def materialize_args(select: str, partition: str) -> list[str]:
        """`dagster asset materialize` arguments for a key or a `first...last` range."""
        flag = "--partition-range" if "..." in partition else "--partition"
        return ["asset", "materialize", "-m", DEFINITIONS, "--select", select, flag, partition]

    def start(self, args: list[str], data_dir: Path, stalled: bool = False, **env: str):
        """A running `dagster` process; `stalled` loads the write-stalling wrapper."""
        runner = "stockmonitor_assets_tests.reliability.stalled_cli" if stalled else "dagster"
        command = [sys.executable, "-m", runner] if stalled else [_bin("dagster")]
        return subprocess.Popen(
            [*command, *args],
            cwd=REPO,
            env=self.env(data_dir, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def run(self, args: list[str], data_dir: Path, program: str = "dagster", **env: str):
        """A finished `dagster`/`stockmonitor` process: returncode and combined output."""
        return subprocess.run(
            [_bin(program), *args],
            cwd=REPO,
            env=self.env(data_dir, **env),
            capture_output=True,
            text=True,
            timeout=300,
        )


def wait_for_file(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    """Block until `path` exists; fail with the process output if it exits first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(
                f"process ended ({process.returncode}) before {path}:\n{process.stdout.read()}"
            )
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{path} did not appear within {timeout} s")
        time.sleep(0.05)


def _bin(program: str) -> str:
    return str(Path(sys.executable).parent / program)


@pytest.fixture
def cli(tmp_path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture(scope="module")
def instance():
    """One in-memory instance per module: runs stay independent and their events cheap."""
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def throwaway_db():
    """A fresh Postgres database (dropped afterwards) and a resource pointing at it."""
    name = f"reliability_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PostgresResource(database=name, **PG)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
