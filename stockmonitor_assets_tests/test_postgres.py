"""The two Dagster instances of the repo, and the stock_scores table.

`deploy/dagster.yaml` (production), against the real Postgres at 127.0.0.1:5432: runs,
event logs and schedules land in Postgres, runs are queued one per source, and stock_scores
keeps one row per stock and day however often a day is saved. A throwaway database
`stockmonitor_test_<pid>` is created for the session and dropped after.

The repo-root `dagster.yaml` (a checkout): embedded SQLite under ./.dagster_home, with no
environment variable at all.
"""

import os
import shutil
from pathlib import Path

import dagster as dg
import dagster_postgres
import psycopg2
import pytest
import yaml

from stockmonitor_assets.assets import database, indicators, market, scoring
from stockmonitor_assets.database import SCORES_TABLE, PostgresResource
from stockmonitor_assets.resources import MarketDataResource
from stockmonitor_assets.trading_calendar import trading_day_partitions
from stockmonitor_assets_tests.conftest import Pipeline, postgres_admin

REPO = Path(__file__).resolve().parents[1]
SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DAY = "2024-01-02"
DB_VARIABLES = ("DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME")

DAYS = dg.DailyPartitionsDefinition(start_date="2024-06-03", end_date="2024-06-06")
KEYS = DAYS.get_partition_keys()


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def prices(context: dg.AssetExecutionContext) -> None:
    for key in context.partition_keys:
        context.add_asset_metadata({"rows": len(key)}, partition_key=key)


def run_range(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """One run materializing every day of DAYS."""
    tags = {
        "dagster/asset_partition_range_start": KEYS[0],
        "dagster/asset_partition_range_end": KEYS[-1],
    }
    result = dg.materialize([prices], instance=instance, tags=tags)
    assert result.success
    return result


@pytest.fixture(scope="session")
def test_database():
    name = f"stockmonitor_test_{os.getpid()}"
    try:
        postgres_admin(f"DROP DATABASE IF EXISTS {name}")
        postgres_admin(f"CREATE DATABASE {name}")
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no Postgres at 127.0.0.1:5432: {exc}")
    yield name
    postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _deploy_overrides() -> dict:
    return yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())


@pytest.fixture
def postgres_instance(test_database, tmp_path, monkeypatch):
    """An instance configured by deploy/dagster.yaml, its DB_* variables set to the test DB."""
    env = {"DB_HOST": "127.0.0.1", "DB_PORT": "5432", "DB_USER": "postgres"}
    env |= {"DB_PASSWORD": "unused-with-trust-auth", "DB_NAME": test_database}
    env |= {"LOG_DIR": str(tmp_path / "logs")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(
        temp_dir=str(tmp_path / "home"), overrides=_deploy_overrides()
    ) as instance:
        yield instance


def _query(database_name: str, sql: str, *args) -> list[tuple]:
    conn = psycopg2.connect(dbname=database_name, connect_timeout=5, **SERVER)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.mark.postgres
def test_deploy_yaml_keeps_runs_events_and_schedules_in_postgres(postgres_instance, test_database):
    assert isinstance(postgres_instance.run_storage, dagster_postgres.PostgresRunStorage)
    assert isinstance(postgres_instance.event_log_storage, dagster_postgres.PostgresEventLogStorage)
    assert isinstance(postgres_instance.schedule_storage, dagster_postgres.PostgresScheduleStorage)
    run_id = run_range(postgres_instance).run_id
    assert _query(test_database, "SELECT status FROM runs WHERE run_id = %s", run_id) == [
        ("SUCCESS",)
    ]
    materialized = _query(
        test_database,
        "SELECT partition FROM event_logs WHERE run_id = %s"
        " AND dagster_event_type = 'ASSET_MATERIALIZATION' ORDER BY partition",
        run_id,
    )
    assert [p for (p,) in materialized] == KEYS
    key = dg.AssetKey("prices")
    assert sorted(postgres_instance.get_materialized_partitions(key)) == KEYS
    records = postgres_instance.fetch_materializations(key, limit=10, ascending=True).records
    assert [dict(r.asset_materialization.metadata)["rows"].value for r in records] == [10] * len(
        KEYS
    )


@pytest.mark.postgres
def test_deploy_yaml_queues_runs_and_limits_the_source_pool_to_one_step(postgres_instance):
    assert isinstance(postgres_instance.run_coordinator, dg.QueuedRunCoordinator)
    assert postgres_instance.get_concurrency_config().pool_config.default_pool_limit == 1


@pytest.mark.parametrize("variable", DB_VARIABLES)
def test_deploy_yaml_without_a_db_variable_names_it(monkeypatch, variable):
    for name in DB_VARIABLES:
        monkeypatch.setenv(name, "x")
    monkeypatch.delenv(variable)
    with pytest.raises(dg.DagsterInvalidConfigError, match=variable):
        with dg.instance_for_test(overrides=_deploy_overrides()) as instance:
            instance.run_storage  # noqa: B018 - the storage is built on first use


@pytest.mark.postgres
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


def test_scores_table_is_not_reported_saved_without_a_database(tmp_path, instance):
    pipeline = Pipeline(tmp_path / "data", MarketDataResource(universe_size=30), instance)
    pipeline.resources["database"] = PostgresResource()
    assets = dg.load_assets_from_modules([market, indicators, scoring, database])
    result = pipeline.materialize(assets, DAY)
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "scores" in materialized and "scores_table" not in materialized
    assert result.success
    assert instance.get_status_by_partition(
        dg.AssetKey("scores_table"), [DAY], trading_day_partitions
    ) == {DAY: None}


def test_repo_root_dagster_yaml_needs_no_environment(tmp_path, monkeypatch):
    for name in [*DB_VARIABLES, *(n for n in os.environ if n.startswith("DAGSTER_"))]:
        monkeypatch.delenv(name, raising=False)
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.chdir(tmp_path)
    overrides = yaml.safe_load((REPO / "dagster.yaml").read_text())
    # Runs start at once locally (no daemon needed); deploy/dagster.yaml queues them.
    assert overrides["run_coordinator"]["class"] == "DefaultRunCoordinator"
    with dg.instance_for_test(overrides=overrides) as instance:
        run_id = run_range(instance).run_id
    # Runs and their event logs are SQLite files under ./.dagster_home, relative to the cwd.
    assert (tmp_path / ".dagster_home" / "history" / "runs.db").is_file()
    assert (tmp_path / ".dagster_home" / "history" / "runs" / f"{run_id}.db").is_file()
    # What Dagster's CLI does in the repo root with DAGSTER_HOME unset: read ./dagster.yaml.
    reopened = dg.DagsterInstance.from_config(str(tmp_path))
    assert reopened.get_run_by_id(run_id).is_success
    assert sorted(reopened.get_materialized_partitions(dg.AssetKey("prices"))) == KEYS
