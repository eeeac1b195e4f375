"""Run health: a succeeded and a failed run are recorded with plausible figures, a run that
recorded nothing gets its outcome from the sensor, the failure rate counts them all, the
table reaches Postgres, and `stockmonitor health` prints it."""

import uuid
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg2
import pytest
from click.testing import CliRunner

from stockmonitor_assets.cli.main import main
from stockmonitor_assets.database import PostgresResource
from stockmonitor_assets.health import store
from stockmonitor_assets.health.sensor import RUN_HEALTH, run_health_sensor
from stockmonitor_assets.health.table import RUN_ROW, run_summary
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets.storage import PACKAGE_DIR, PartitionStore
from stockmonitor_assets_tests.conftest import DEMO_CACHE, MARKET_ASSETS, Pipeline

DAY = "2024-06-07"


def sensor_resources(database: PostgresResource | None = None) -> dict:
    """The sensor's resources, with the settings the environment gives now."""
    return {"database": database or PostgresResource(), "settings": Settings.from_env()}


class VendorDown(DemoMarket):
    """The demo market whose bars endpoint refuses (a non-transient error: no retries)."""

    def daily_bars(self, ids, start, end):
        raise PermissionError("bars endpoint: licence expired")


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """A succeeded run, a failed one, and one failing before any step, on one instance."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STOCKMONITOR_RUN_HEALTH", "on")
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        good = Pipeline(
            tmp_path / "data", DemoMarket(cache_dir=DEMO_CACHE, seed=3, universe_size=40), instance
        )
        ok = good.materialize(MARKET_ASSETS, DAY)
        bad = Pipeline(tmp_path / "data", VendorDown(seed=3, universe_size=40), instance)
        failed = bad.materialize(MARKET_ASSETS, DAY, raise_on_error=False)
        # The IO manager refuses a data directory inside the package: no step starts.
        refused = Pipeline(
            Path(PACKAGE_DIR) / "data", DemoMarket(cache_dir=DEMO_CACHE, seed=3), instance
        )
        unmeasured = refused.materialize(MARKET_ASSETS, DAY, raise_on_error=False)
        assert ok.success and not failed.success and not unmeasured.success
        yield instance, good, (ok.run_id, failed.run_id, unmeasured.run_id)


def test_a_succeeded_and_a_failed_run_are_recorded_with_plausible_figures(runs):
    _, pipeline, (ok, failed, unmeasured) = runs
    steps = store.read_all(PartitionStore(str(pipeline.data_dir)))
    assert set(steps["run_id"]) == {ok, failed}  # the refused run waits for the sensor
    good = steps.filter(pl.col("run_id") == ok)
    assert set(good["step_key"]) == {a.key.to_user_string() for a in MARKET_ASSETS}
    assert (good["run_outcome"] == "success").all() and (good["step_outcome"] == "SUCCESS").all()
    assert (good["wall_s"] > 0).all() and (good["cpu_s"] >= 0).all()
    assert (good["peak_rss_mib"] > 10).all()
    for row in good.iter_rows(named=True):  # rows written = the partition's row count
        assert row["rows_written"] == len(pipeline.read(row["step_key"], DAY)), row["step_key"]
    fundamentals = good.filter(pl.col("step_key") == "fundamentals").row(0, named=True)
    assert fundamentals["rows_read"] == len(pipeline.read("instruments", DAY))  # its input
    bad = steps.filter(pl.col("run_id") == failed)
    assert (bad["run_outcome"] == "failure").all()
    assert bad.filter(pl.col("step_key") == "raw_ohlcv")["step_outcome"].item() == "FAILURE"
    assert bad.filter(pl.col("step_key") == "raw_ohlcv")["wall_s"].item() > 0


def test_the_sensor_records_unmeasured_runs_and_the_failure_rate_counts_every_run(
    runs, monkeypatch
):
    instance, pipeline, (ok, failed, unmeasured) = runs
    context = dg.build_sensor_context(instance=instance, resources=sensor_resources())
    result = run_health_sensor(context)
    (event,) = result.asset_events
    assert event.asset_key == RUN_HEALTH
    assert event.metadata["preview"].value.startswith("![run health](data:image/png;base64,")
    steps = store.read_all(PartitionStore(str(pipeline.data_dir)))
    row = steps.filter(pl.col("run_id") == unmeasured)
    assert row["step_key"].to_list() == [RUN_ROW] and row["run_outcome"].item() == "failure"
    assert row["recorded_by"].item() == "sensor" and row["wall_s"].item() > 0
    summary = run_summary(steps)
    assert summary["run_id"].to_list() == [ok, failed, unmeasured]
    assert summary["failure_rate"].to_list() == pytest.approx([0.0, 1 / 2, 2 / 3])
    assert event.metadata["failure_rate"].value == pytest.approx(2 / 3)
    # Nothing finished since: the next tick skips; with run health off, every tick does.
    context = dg.build_sensor_context(
        instance=instance, cursor=result.cursor, resources=sensor_resources()
    )
    assert isinstance(run_health_sensor(context), dg.SkipReason)
    monkeypatch.setenv("STOCKMONITOR_RUN_HEALTH", "off")
    context = dg.build_sensor_context(instance=instance, resources=sensor_resources())
    assert "off" in run_health_sensor(context).skip_message


def test_stockmonitor_health_prints_the_runs_newest_first(runs):
    instance, _, (ok, failed, unmeasured) = runs
    run_health_sensor(dg.build_sensor_context(instance=instance, resources=sensor_resources()))
    out = CliRunner().invoke(main, ["health"], catch_exceptions=False).output
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["started_at", "job_name", "run_outcome"]
    assert [line.split()[3] for line in lines[1:]] == ["failure", "failure", "success"]
    steps = CliRunner().invoke(main, ["health", "--run", failed[:8]], catch_exceptions=False)
    assert "raw_ohlcv" in steps.output and "FAILURE" in steps.output


@pytest.mark.postgres
def test_the_sensor_copies_run_health_to_postgres(runs):
    instance, pipeline, _ = runs
    name = f"wt_health_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        database = PostgresResource(host="127.0.0.1", database=name, user="postgres")
        run_health_sensor(
            dg.build_sensor_context(instance=instance, resources=sensor_resources(database))
        )
        expected = store.read_all(PartitionStore(str(pipeline.data_dir)))
        with database.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT run_id, step_key, rows_written FROM run_health")
            stored = sorted(cur.fetchall())
        assert stored == sorted(expected.select("run_id", "step_key", "rows_written").rows())
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
