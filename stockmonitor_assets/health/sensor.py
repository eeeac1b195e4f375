"""The `run_health` asset and the sensor that keeps it current.

Every minute the sensor looks at runs that finished since its cursor (any door, any code
location: it reads the instance's run records, not run-status events):
- a run that recorded no health (it failed before its first step, or its process died) gets
  an outcome row, so failure rates count it; a run whose final status differs from what its
  steps suggested (canceled, failed after the steps) has its outcome corrected;
- the rows of those runs are copied to Postgres table run_health when DB_HOST is set;
- the `run_health` asset is materialized with a chart of the last runs and a table.
"""

import datetime as dt

import dagster as dg
import polars as pl

from stockmonitor_assets.database import PostgresResource
from stockmonitor_assets.health import chart, store
from stockmonitor_assets.health.record import run_partitions
from stockmonitor_assets.health.table import RUN_ROW, health_frame, run_summary, withheld_per_day
from stockmonitor_assets.settings import RUN_HEALTH as RUN_HEALTH_SETTING
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.storage import PartitionStore

RUN_HEALTH = dg.AssetKey("run_health")
SENSOR_NAME = "run_health_sensor"
FINISHED = {
    dg.DagsterRunStatus.SUCCESS: "success",
    dg.DagsterRunStatus.FAILURE: "failure",
    dg.DagsterRunStatus.CANCELED: "canceled",
}
BATCH = 200

run_health_asset = dg.AssetSpec(
    RUN_HEALTH,
    group_name="operations",
    kinds={"parquet"},
    description=(
        "Per run and step: wall and CPU time, rows read and written, rows/s, peak RSS and "
        "outcome (DATA_DIR/_health; Postgres run_health when DB_HOST is set). Updated by "
        f"{SENSOR_NAME} after runs finish; `stockmonitor health` prints it."
    ),
)


@dg.sensor(
    name=SENSOR_NAME,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records the outcome of finished runs and charts run health (asset run_health).",
)
def run_health_sensor(
    context: dg.SensorEvaluationContext, database: PostgresResource, settings: Settings
):
    if not settings.run_health:
        return dg.SkipReason(f"run health is off ({RUN_HEALTH_SETTING})")
    since = float(context.cursor) if context.cursor else 0.0
    records = finished_runs(context.instance, since)
    if not records:
        return dg.SkipReason("no run finished since the last tick")
    partition_store = PartitionStore(settings.data_dir)
    frames = [settle_run(partition_store, r) for r in records]
    if database.is_configured:
        with database.connect() as conn:
            store.save_to_database(conn, pl.concat(frames))
    cursor = str(max(r.update_timestamp.timestamp() for r in records))
    return dg.SensorResult(asset_events=[health_event(partition_store)], cursor=cursor)


def finished_runs(instance: dg.DagsterInstance, since: float) -> list:
    """Run records of runs that finished after `since` (epoch seconds), oldest first."""
    after = dt.datetime.fromtimestamp(since, dt.UTC)
    return list(
        instance.get_run_records(
            filters=dg.RunsFilter(statuses=list(FINISHED), updated_after=after),
            order_by="update_timestamp",
            ascending=True,
            limit=BATCH,
        )
    )


def settle_run(partition_store: PartitionStore, record) -> pl.DataFrame:
    """The run's health rows with its final outcome (an outcome row if it recorded none)."""
    run = record.dagster_run
    outcome = FINISHED[run.status]
    frame = store.read_run(partition_store, run.run_id)
    if frame is None:
        frame = outcome_row(record, outcome)
    elif (frame["run_outcome"].cast(pl.String) != outcome).any():
        frame = frame.with_columns(run_outcome=pl.lit(outcome))
    else:
        return frame
    store.write_run(partition_store, frame)
    return frame


def outcome_row(record, outcome: str) -> pl.DataFrame:
    """One RUN_ROW row: a run that measured nothing (its wall time from the run record)."""
    run = record.dagster_run
    start = record.start_time or record.create_timestamp.timestamp()
    end = record.end_time or record.update_timestamp.timestamp()
    first, last, count = run_partitions(run.tags)
    return health_frame(
        [
            {
                "run_id": run.run_id,
                "step_key": RUN_ROW,
                "job_name": run.job_name,
                "run_outcome": outcome,
                "step_outcome": None,
                "started_at": dt.datetime.fromtimestamp(start, dt.UTC),
                "ended_at": dt.datetime.fromtimestamp(end, dt.UTC),
                "wall_s": max(end - start, 0.0),
                "cpu_s": None,
                "rows_read": 0,
                "rows_written": 0,
                "peak_rss_mib": None,
                "first_partition": first,
                "last_partition": last,
                "partitions": count,
                "recorded_by": "sensor",
            }
        ]
    )


def health_event(partition_store: PartitionStore) -> dg.AssetMaterialization:
    """`run_health` with the chart and the latest runs (figures of the newest run too)."""
    runs = run_summary(store.read_all(partition_store))
    withheld = withheld_per_day(store.withheld_counts(partition_store))
    latest = runs.row(-1, named=True)
    return dg.AssetMaterialization(
        RUN_HEALTH,
        metadata={
            "preview": dg.MetadataValue.md(chart.preview_markdown(runs, withheld)),
            "runs_recorded": len(runs),
            "latest_run_wall_s": latest["wall_s"],
            "latest_run_rows_written": latest["rows_written"],
            "failure_rate": latest["failure_rate"],
            "path": dg.MetadataValue.path(str(partition_store.root / store.FOLDER)),
        },
    )
