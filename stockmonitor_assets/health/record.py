"""Recording a run's health, from inside the run: started when the run's resources are set
up (the IO manager's `setup_for_execution`), written when they are torn down, after the last
step, also when a step failed. Step times come from the run's step events; CPU, memory
and rows from the probe (health/probe.py).

STOCKMONITOR_RUN_HEALTH=off turns it off (it measured under 2 % of a year run: bench/RESULTS.md):
the IO manager is given `Settings.run_health` when the code location loads.
"""

import datetime as dt
import logging
import time
from dataclasses import dataclass

import dagster as dg

from stockmonitor_assets.health import probe, store
from stockmonitor_assets.health.table import health_frame
from stockmonitor_assets.storage import PartitionStore
from stockmonitor_assets.trading_calendar import partition_date, sessions

FAILED_STEP = "FAILURE"
log = logging.getLogger(__name__)


def run_started(context: dg.InitResourceContext, enabled: bool) -> None:
    if enabled and context.run_id:
        probe.begin(context.run_id)


def run_finished(context: dg.InitResourceContext, partition_store: PartitionStore) -> None:
    """Write the run's step figures (steps that ran in this process) to the health table."""
    measured = probe.end(context.run_id or "")
    if measured is None or context.instance is None or context.dagster_run is None:
        return
    try:
        began = time.perf_counter()
        frame = steps_frame(context.instance, context.dagster_run, measured)
        store.write_run(partition_store, frame)
        took = time.perf_counter() - began
        log.info(f"{_summary_line(frame)}; {len(measured.times)} samples, recorded in {took:.3f} s")
    except Exception as exc:  # health must never fail the run it measures
        log.warning(f"run health not recorded for run {context.run_id}: {exc}")


# Only these events: Dagster's own step statistics also deserialize every materialization
# of the run (2,400 in a year run: 1.6 s measured; 48,000 for the whole history).
STEP_EVENTS = {
    dg.DagsterEventType.STEP_START: "START",
    dg.DagsterEventType.STEP_SUCCESS: "SUCCESS",
    dg.DagsterEventType.STEP_FAILURE: "FAILURE",
}


@dataclass
class StepSpan:
    start: float
    end: float | None = None
    status: str | None = None


def step_spans(instance: dg.DagsterInstance, run_id: str) -> dict[str, StepSpan]:
    """Each step's first start, last end and final status, from the run's step events."""
    spans: dict[str, StepSpan] = {}
    records = instance.get_records_for_run(run_id, of_type=set(STEP_EVENTS)).records
    for record in records:
        entry = record.event_log_entry
        kind = STEP_EVENTS[entry.dagster_event.event_type]
        if kind == "START":
            spans.setdefault(entry.step_key, StepSpan(entry.timestamp))
        elif entry.step_key in spans:
            spans[entry.step_key].end, spans[entry.step_key].status = entry.timestamp, kind
    return spans


def steps_frame(instance: dg.DagsterInstance, run: dg.DagsterRun, measured: probe.Probe):
    """RUN_HEALTH rows of the steps of `run` that started while `measured` was sampling."""
    first, last, count = run_partitions(run.tags)
    spans = {
        key: span
        for key, span in step_spans(instance, run.run_id).items()
        if span.start >= measured.times[0] - 1
    }
    failed = any(span.status == FAILED_STEP for span in spans.values())
    rows = []
    for key, span in spans.items():
        end = span.end or measured.times[-1]
        cpu, rss = measured.usage(span.start, end)
        rows.append(
            {
                "run_id": run.run_id,
                "step_key": key,
                "job_name": run.job_name,
                "run_outcome": "failure" if failed else "success",
                "step_outcome": span.status,
                "started_at": _utc(span.start),
                "ended_at": _utc(end),
                "wall_s": end - span.start,
                "cpu_s": cpu,
                "rows_read": measured.rows_read(span.start, end),
                "rows_written": measured.rows_written.get(key, 0),
                "peak_rss_bytes": rss,
                "first_partition": first,
                "last_partition": last,
                "partitions": count,
                "recorded_by": "run",
            }
        )
    return health_frame(rows)


def run_partitions(tags: dict[str, str]) -> tuple[str | None, str | None, int]:
    """(first key, last key, number of keys) the run targets, from its partition tags."""
    single = tags.get("dagster/partition")
    if single:
        return single, single, 1
    first = tags.get("dagster/asset_partition_range_start")
    last = tags.get("dagster/asset_partition_range_end")
    if not (first and last):
        return None, None, 0
    try:
        return first, last, len(sessions(partition_date(first), partition_date(last)))
    except ValueError:
        return first, last, 0


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _summary_line(frame) -> str:
    wall = frame["wall_s"].sum()
    return (
        f"run health: {frame['job_name'][0]} run {frame['run_id'][0][:8]} "
        f"{frame['run_outcome'][0]}: {len(frame)} steps, {wall:.1f} s, "
        f"CPU {frame['cpu_s'].sum():.1f} s, {frame['rows_written'].sum():,} rows written, "
        f"peak RSS {frame['peak_rss_mib'].max() or 0:.0f} MiB"
    )
