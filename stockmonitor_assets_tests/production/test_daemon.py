"""The daemon refreshes the pipeline by itself, one sync at a time, and retries a failed run.

One deployment for the module (README, Production: `dagster-daemon run` and
`dagster-webserver` from the repo root, Postgres instance, demo market of 30 stocks), with
the sync cron every minute and the 78 sessions before the latest published one (the
shortest indicator window) already stored by a CLI backfill of every asset. Everything
below is observed from the outside: run records, materializations, sensor ticks and the
`stock_scores` table.
"""

import contextlib
import datetime as dt
from dataclasses import dataclass

import dagster as dg
import polars as pl
import psycopg2
import pytest

from stockmonitor_assets.automation import SENSOR_NAME
from stockmonitor_assets.jobs import SOURCE_ASSETS
from stockmonitor_assets_tests.production.conftest import (
    PG,
    WINDOW_SESSIONS,
    Deployment,
    deployed,
    finished,
    recent_sessions,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

*HISTORY, TARGET = recent_sessions(4)
# The indicator window of TARGET, without TARGET: stored (every asset) by one CLI backfill.
WINDOW = recent_sessions(WINDOW_SESSIONS)[0], HISTORY[-1]
# Days before any window automation looks at: syncing them again triggers nothing else.
OLD_DAYS = recent_sessions(3 * WINDOW_SESSIONS)[:2]
ALL_ASSETS = (
    *SOURCE_ASSETS,
    "completed_ohlcv",
    "technical_indicators",
    "fundamental_indicators",
    "merged",
    "scores",
    "scores_table",
)
SENSOR_TICKS = """
query Ticks($name: String!) {
  sensorOrError(sensorSelector: {repositoryLocationName: "stockmonitor",
      repositoryName: "__repository__", sensorName: $name}) {
    ... on Sensor { sensorState { ticks(limit: 20) { timestamp status } } }
  }
}"""


@dataclass(frozen=True)
class Scenario:
    """The deployment, and the runs submitted through the webserver as soon as it answered."""

    deployment: Deployment
    manual_syncs: list[str]
    faulty_scoring: str


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """Runs are submitted at once, so they play out while the first cron minute comes."""
    root = tmp_path_factory.mktemp("daemon")
    history = [("*", *WINDOW)]
    with (
        deployed(root, history, STOCKMONITOR_SYNC_CRON="* * * * *") as deployment,
        _failing_once(deployment.database, HISTORY[-1]),
    ):
        syncs = [deployment.launch("daily_data_sync_job", day) for day in OLD_DAYS]
        faulty = deployment.launch("scoring_and_save_job", HISTORY[-1])
        yield Scenario(deployment, syncs, faulty)


def materializations(instance: dg.DagsterInstance, asset: str, day: str) -> list:
    return instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[day]), limit=100
    ).records


SOURCE_STEPS = {*SOURCE_ASSETS, "completed_ohlcv", "technical_indicators"}
STEP_ENDS = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}


def source_step_intervals(instance: dg.DagsterInstance, run_ids) -> list[tuple[float, float]]:
    """(start, end) of every step of the source's pool in these runs, from their event logs."""
    intervals = []
    for run_id in run_ids:
        starts = {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or event.step_key not in SOURCE_STEPS:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                starts[event.step_key] = entry.timestamp
            elif event.event_type in STEP_ENDS:
                intervals.append((starts.pop(event.step_key), entry.timestamp))
    return sorted(intervals)


def never_overlap(intervals: list[tuple[float, float]]) -> bool:
    return all(a[1] <= b[0] for a, b in zip(intervals, intervals[1:], strict=False))


def test_two_requested_syncs_never_call_the_source_at_once(scenario):
    deployment, run_ids = scenario.deployment, scenario.manual_syncs
    with deployment.instance() as instance:
        deployment.wait_until(
            lambda: all(finished(instance, r) for r in run_ids), 120, "both syncs to finish"
        )
        records = instance.get_run_records(dg.RunsFilter(run_ids=run_ids))
        intervals = source_step_intervals(instance, run_ids)
    assert [r.dagster_run.status for r in records] == [dg.DagsterRunStatus.SUCCESS] * 2
    assert len(intervals) == 2 * 4  # instruments, raw_ohlcv, completed_ohlcv, fundamentals
    assert never_overlap(intervals), "the source's pool let two steps call it at once"


def test_the_sensor_syncs_the_latest_day_and_everything_downstream_follows(scenario):
    deployment = scenario.deployment
    deployment.wait_until(
        lambda: deployment.scores_rows(TARGET), 240, f"stock_scores rows of {TARGET}"
    )
    with deployment.instance() as instance:
        for asset in ALL_ASSETS:
            (record,) = materializations(instance, asset, TARGET)
            run = instance.get_run_by_id(record.run_id)
            assert run.tags.get("dagster/sensor_name") == SENSOR_NAME, asset
    assert deployment.scores_rows(TARGET) == _scores_parquet_rows(deployment, TARGET)


def test_source_steps_never_overlapped_and_a_later_tick_does_not_sync_again(scenario):
    deployment = scenario.deployment
    with deployment.instance() as instance:
        (sync,) = materializations(instance, "raw_ohlcv", TARGET)
        sync_end = instance.get_run_record_by_id(sync.run_id).end_time
        next_cron_tick = (
            dt.datetime.fromtimestamp(sync_end).replace(second=0) + dt.timedelta(minutes=1)
        ).timestamp()
        deployment.wait_until(
            lambda: any(t["timestamp"] > next_cron_tick for t in _ticks(deployment)),
            120,
            "an automation tick after the next cron minute",
        )
        for asset in SOURCE_ASSETS:
            assert len(materializations(instance, asset, TARGET)) == 1, asset
        run_ids = [r.dagster_run.run_id for r in instance.get_run_records()]
        intervals = source_step_intervals(instance, run_ids)
    assert len(intervals) >= 3
    assert never_overlap(intervals)


def test_a_run_failing_on_a_transient_database_error_is_retried_and_completes(scenario):
    deployment, run_id, day = scenario.deployment, scenario.faulty_scoring, HISTORY[-1]
    with deployment.instance() as instance:
        failed = deployment.wait_until(lambda: finished(instance, run_id), 120, "the run")
        assert failed.status == dg.DagsterRunStatus.FAILURE
        assert "injected transient fault" in _step_errors(instance, run_id)
        retry = deployment.wait_until(
            lambda: _finished_retry(instance, run_id), 120, "the daemon's retry"
        )
    assert retry.status == dg.DagsterRunStatus.SUCCESS
    assert retry.tags["dagster/retry_number"] == "1"
    assert deployment.scores_rows(day) == _scores_parquet_rows(deployment, day)


@contextlib.contextmanager
def _failing_once(database: str, day: str):
    """The first insert of `day` into stock_scores fails (a sequence is not rolled back)."""
    with contextlib.closing(psycopg2.connect(dbname=database, **PG)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                f"""
                CREATE SEQUENCE fault_once;
                CREATE FUNCTION fault_once() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF nextval('fault_once') = 1 THEN
                    RAISE EXCEPTION 'injected transient fault';
                  END IF;
                  RETURN NEW;
                END $$;
                CREATE TRIGGER fault_once BEFORE INSERT ON stock_scores FOR EACH ROW
                  WHEN (NEW.trade_date = DATE '{day}') EXECUTE FUNCTION fault_once();
                """
            )
        try:
            yield
        finally:
            with conn.cursor() as cur:
                cur.execute("DROP TRIGGER fault_once ON stock_scores; DROP FUNCTION fault_once();")
                cur.execute("DROP SEQUENCE fault_once")


def _step_errors(instance: dg.DagsterInstance, run_id: str) -> str:
    failures = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.STEP_FAILURE
    ).records
    return "\n".join(
        r.event_log_entry.dagster_event.event_specific_data.error.to_string() for r in failures
    )


def _finished_retry(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    retries = instance.get_runs(dg.RunsFilter(tags={"dagster/parent_run_id": run_id}))
    return finished(instance, retries[0].run_id) if retries else None


def _ticks(deployment) -> list[dict]:
    data = deployment.graphql(SENSOR_TICKS, {"name": SENSOR_NAME})
    return data["sensorOrError"]["sensorState"]["ticks"]


def _scores_parquet_rows(deployment, day: str) -> int:
    return pl.read_parquet(deployment.data_dir / "scores" / f"{day}.parquet").height
