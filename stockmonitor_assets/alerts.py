"""Failed-run alerts: a JSON line in LOG_DIR/alerts.jsonl, and an optional webhook POST
(webhook.py), by the `run_failure_alert` sensor or by a run itself (guards.py).

The sensor only reports; it never launches runs. Alerts carry the job, run id, partitions
and the error message (truncated), never configuration or environment values, and the
webhook URL itself (which may embed a token) is never logged. A broken webhook or an
unwritable log is reported in the sensor's log and never fails the sensor.
"""

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg

from stockmonitor_assets.errors import user_error
from stockmonitor_assets.settings import ALERT_WEBHOOK
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.webhook import WebhookError, post_webhook

ALERTS_FILE = "alerts.jsonl"
MAX_MESSAGE_CHARS = 2000
REPORTED_TAGS = (
    "dagster/partition",
    "dagster/asset_partition_range_start",
    "dagster/asset_partition_range_end",
    "dagster/backfill",
    # Run retries (dagster.yaml `run_retries`): whether the daemon re-executes this failure,
    # and which attempt it was, so a receiver can page only on the last one.
    "dagster/will_retry",
    "dagster/retry_number",
)


def alert_record(
    job_name: str,
    run_id: str,
    tags: Mapping[str, str],
    message: str,
    now: dt.datetime,
    step_errors: Sequence[str] = (),
    event: str = "run_failure",
) -> dict[str, object]:
    """What an alert says about a failed (or refused: guards.py) run; only partition and
    retry tags are kept, other tags are free text."""
    return {
        "time": now.isoformat(timespec="seconds"),
        "event": event,
        "job": job_name,
        "run_id": run_id,
        **{tag.removeprefix("dagster/"): tags[tag] for tag in REPORTED_TAGS if tag in tags},
        "message": message[:MAX_MESSAGE_CHARS],
        "step_errors": [e[:MAX_MESSAGE_CHARS] for e in step_errors],
    }


def append_alert(log_dir: Path, record: Mapping[str, object]) -> Path:
    """Append one JSON line; the file is created with its directory."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / ALERTS_FILE
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def deliver(record: Mapping[str, object], log: object, config: Settings) -> None:
    """Write the alert to `config`'s log dir, then POST it if a webhook is configured; log,
    never raise."""
    log_dir = Path(config.log_dir)
    try:
        log.info(f"alert written to {append_alert(log_dir, record)}")
    except OSError as exc:
        log.error(f"could not write the alert to {log_dir}: {exc}")
    url = config.webhook_url()
    if url:
        try:
            post_webhook(url, record, config.alert_webhook_allow_http)
        except Exception as exc:  # noqa: BLE001 - an alert channel must never crash the sensor
            reason = exc if isinstance(exc, WebhookError) else type(exc).__name__
            log.error(f"alert webhook ({ALERT_WEBHOOK}) failed: {reason}")


# Failures are found by scanning the instance's failed runs, not with `run_failure_sensor`:
# that sensor starts after the runs that exist at its first tick (so a run failing between a
# deployment's start and that tick was never alerted) and sees only its own code location's
# runs (not `dagster asset materialize`'s). A first evaluation looks back this far; the
# alerts file, not only the cursor, says which runs were already alerted.
FIRST_LOOK_BACK = dt.timedelta(hours=6)
OVERLAP = dt.timedelta(minutes=5)  # runs committed out of end-time order are still seen
SCAN_LIMIT = 500


def failure_record(instance: dg.DagsterInstance, run: dg.DagsterRun, now: dt.datetime) -> dict:
    """The alert of one failed run: its run-failure message (with the run's own error when it
    failed before any step: launch, run worker) and each failed step's root error."""
    message = "run failed"
    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[:1]:
        event = entry.dagster_event
        message = event.message or message
        error = getattr(event.event_specific_data, "error", None)
        if error is not None:
            message = f"{message}: {user_error(error)}"
    errors = []
    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = getattr(entry.dagster_event.event_specific_data, "error", None)
        if error is not None:
            errors.append(f"{entry.dagster_event.step_key}: {user_error(error)}")
    return alert_record(run.job_name, run.run_id, run.tags, message, now, errors)


# The sensor reads the alerts file every tick: only its end holds the runs of the scan
# window (one alert is < 5 KB), so the file's growth never slows it.
RECENT_ALERTS_BYTES = 4 * 1024 * 1024


def alerted_run_ids(log_dir: Path) -> set[str]:
    """Run ids in the end of the alerts file (a missing or unreadable file holds none)."""
    try:
        with (log_dir / ALERTS_FILE).open("rb") as alerts_file:
            alerts_file.seek(max(0, alerts_file.seek(0, 2) - RECENT_ALERTS_BYTES))
            lines = alerts_file.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return set()
    ids = set()
    for line in lines:
        try:
            ids.add(json.loads(line).get("run_id"))
        except (ValueError, AttributeError):
            continue
    return ids


def failed_runs_since(
    instance: dg.DagsterInstance, since: dt.datetime
) -> list[tuple[dt.datetime, dg.DagsterRun]]:
    """Failed runs that ended after `since`, oldest first, with their end time."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], updated_after=since),
        limit=SCAN_LIMIT,
        order_by="update_timestamp",
        ascending=True,
    )
    ended = []
    for record in records:
        end = (
            dt.datetime.fromtimestamp(record.end_time, dt.UTC)
            if record.end_time
            else _utc(record.update_timestamp)
        )
        if end > since:
            ended.append((end, record.dagster_run))
    return sorted(ended, key=lambda pair: pair[0])


def _utc(moment: dt.datetime) -> dt.datetime:
    """Run storage keeps naive UTC timestamps (SQLite) or aware ones (Postgres)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _cursor_time(cursor: str | None) -> dt.datetime | None:
    """The cursor's end time; None for none, or for a cursor of the former run-status sensor."""
    try:
        return dt.datetime.fromisoformat(cursor) if cursor else None
    except ValueError:
        return None


def alert_new_failures(
    instance: dg.DagsterInstance,
    cursor: str | None,
    log: object,
    now: dt.datetime,
    config: Settings,
) -> tuple[str, int]:
    """Alert every failed run not alerted yet; returns the next cursor and how many were sent.

    The cursor is the latest end time seen; each scan reaches back OVERLAP before it, and the
    alerts file keeps a run from being alerted twice."""
    latest = _cursor_time(cursor) or now - FIRST_LOOK_BACK
    seen = alerted_run_ids(Path(config.log_dir))
    sent = 0
    for end, run in failed_runs_since(instance, latest - OVERLAP):
        if run.run_id not in seen:
            deliver(failure_record(instance, run, now), log, config)
            seen.add(run.run_id)
            sent += 1
        latest = max(latest, end)
    return latest.isoformat(), sent


def daemon_alive(instance: dg.DagsterInstance, max_age: float = 60.0) -> bool:
    """A dagster-daemon heartbeat in the last `max_age` seconds: its sensors are running."""
    beats = instance.get_daemon_heartbeats()
    return any(time.time() - beat.timestamp < max_age for beat in beats.values())


def alert_now_unless_a_daemon_will(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    log: object,
    config: Settings,
    cause: str | None = None,
) -> None:
    """Alert a run whose steps failed from the run itself when no daemon runs the sensor
    (`dagster asset materialize`, `make demo`, `stockmonitor run --in-process` on a bare
    checkout); with a daemon, the sensor alerts it once the run has failed, with its retry
    tags. The alerts file keeps the two from alerting one run twice. `cause` names what
    failed when no step did (a resource that could not start)."""
    if daemon_alive(instance) or run.run_id in alerted_run_ids(Path(config.log_dir)):
        return
    record = failure_record(instance, run, dt.datetime.now(dt.UTC))
    if cause:
        record["message"] = f"run failed: {cause}"[:MAX_MESSAGE_CHARS]
    deliver(record, log, config)


@dg.sensor(
    name="run_failure_alert",
    description="Appends every failed run of this Dagster instance (UI, daemon, "
    "`dagster asset materialize`, `stockmonitor run`) to LOG_DIR/alerts.jsonl, once per "
    "attempt, and POSTs it to STOCKMONITOR_ALERT_WEBHOOK when set.",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert(context: dg.SensorEvaluationContext, settings: Settings) -> dg.SkipReason:
    now = dt.datetime.now(dt.UTC)
    cursor, sent = alert_new_failures(context.instance, context.cursor, context.log, now, settings)
    context.update_cursor(cursor)
    return dg.SkipReason(f"{sent} failed run(s) alerted")
