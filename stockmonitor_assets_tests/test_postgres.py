"""Against the real Postgres at 127.0.0.1:5432: the repo's dagster.yaml instance and the
stock_scores table (one row per stock and day however often a day is saved).

A throwaway database `stockmonitor_test_<pid>` is created for the session and dropped after.
"""

import os
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator

from stockmonitor_assets.assets import database, indicators, market, scoring
from stockmonitor_assets.database import SCORES_TABLE, PostgresResource
from stockmonitor_assets.postgres_instance import PostgresEventLogStorage
from stockmonitor_assets.resources import MarketDataResource
from stockmonitor_assets_tests.conftest import Pipeline
from stockmonitor_assets_tests.test_instance import EXPECTED, run_range, stored

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[1]
SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DAY = "2024-01-02"


def _admin(sql: str) -> None:
    conn = psycopg2.connect(dbname="postgres", connect_timeout=5, **SERVER)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def test_database():
    name = f"stockmonitor_test_{os.getpid()}"
    try:
        _admin(f"DROP DATABASE IF EXISTS {name}")
        _admin(f"CREATE DATABASE {name}")
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no Postgres at 127.0.0.1:5432: {exc}")
    yield name
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres_instance(test_database, tmp_path, monkeypatch):
    """An instance configured by the repo's dagster.yaml, its env vars set to the test DB."""
    env = {"DB_HOST": "127.0.0.1", "DB_PORT": "5432", "DB_USER": "postgres"}
    env |= {"DB_PASSWORD": "unused-with-trust-auth", "DB_NAME": test_database}
    env |= {"LOG_DIR": str(tmp_path / "logs")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    overrides = yaml.safe_load((REPO / "dagster.yaml").read_text())
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home"), overrides=overrides) as instance:
        yield instance


def test_dagster_yaml_event_log_stores_a_batched_range_like_dagster(postgres_instance, monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    assert isinstance(postgres_instance.event_log_storage, PostgresEventLogStorage)
    assert stored(run_range(postgres_instance)) == EXPECTED


def _query(database_name: str, sql: str, *args) -> list[tuple]:
    conn = psycopg2.connect(dbname=database_name, connect_timeout=5, **SERVER)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def test_dagster_yaml_queues_runs_and_limits_one_run_per_source(postgres_instance):
    coordinator = postgres_instance.run_coordinator
    assert isinstance(coordinator, QueuedRunCoordinator)
    limits = coordinator.get_run_queue_config().tag_concurrency_limits
    assert [(limit["key"], limit["limit"]) for limit in limits] == [("stockmonitor/source", 1)]


def test_runs_land_in_postgres_and_saving_a_day_twice_keeps_one_row_per_stock(
    postgres_instance, test_database, tmp_path
):
    pipeline = Pipeline(tmp_path / "data", MarketDataResource(universe_size=30), postgres_instance)
    pipeline.resources["database"] = PostgresResource(
        host="127.0.0.1", database=test_database, user="postgres"
    )
    assets = dg.load_assets_from_modules([market, indicators, scoring, database])
    first = pipeline.materialize(assets, DAY)
    assert first.success
    again = pipeline.materialize(assets, DAY, selection=["scores_table"])
    assert again.success

    events = _query(
        test_database, "SELECT count(*) FROM event_logs WHERE run_id = %s", first.run_id
    )
    assert events[0][0] > 0
    stocks = len(pipeline.read("scores", DAY))
    rows = _query(
        test_database,
        f"SELECT count(*), count(DISTINCT (trade_date, order_book_id)) FROM {SCORES_TABLE} "
        "WHERE trade_date = %s",
        DAY,
    )
    assert rows == [(stocks, stocks)] and stocks > 0


def test_scores_table_skips_visibly_without_a_database(tmp_path, instance):
    pipeline = Pipeline(tmp_path / "data", MarketDataResource(universe_size=30), instance)
    pipeline.resources["database"] = PostgresResource()
    assets = dg.load_assets_from_modules([market, indicators, scoring, database])
    result = pipeline.materialize(assets, DAY)
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("scores_table")
    ]
    assert event.materialization.metadata["skipped"].value == database.SKIPPED
