"""Failed-run alerts: a JSON line in LOG_DIR/alerts.jsonl, and an optional webhook POST.

The sensor only reports; it never launches runs. Alerts carry the job, run id, partitions
and the error message (truncated), never configuration or environment values, and the
webhook URL itself (which may embed a token) is never logged. A broken webhook or an
unwritable log is reported in the sensor's log and never fails the sensor.
"""

import datetime as dt
import json
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg

from stockmonitor_assets import settings

ALERTS_FILE = "alerts.jsonl"
WEBHOOK_TIMEOUT_SECONDS = 5
MAX_MESSAGE_CHARS = 2000
STEP_WRAPPER = "DagsterExecutionStepExecutionError"
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
) -> dict[str, object]:
    """What an alert says about a failed run (only partition and retry tags: other tags are
    free text)."""
    return {
        "time": now.isoformat(timespec="seconds"),
        "event": "run_failure",
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


def post_webhook(url: str, record: Mapping[str, object]) -> None:
    """POST the record as JSON; raises on network errors or a non-2xx answer."""
    request = urllib.request.Request(
        url,
        data=json.dumps(record, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS):
        pass


def deliver(record: Mapping[str, object], log: object) -> None:
    """Write the alert, then POST it if a webhook is configured; log, never raise."""
    try:
        log.info(f"alert written to {append_alert(settings.log_dir(), record)}")
    except OSError as exc:
        log.error(f"could not write the alert to {settings.log_dir()}: {exc}")
    url = settings.get(settings.ALERT_WEBHOOK)
    if url:
        try:
            post_webhook(url, record)
        except Exception as exc:  # noqa: BLE001 - an alert channel must never crash the sensor
            log.error(f"alert webhook ({settings.ALERT_WEBHOOK}) failed: {type(exc).__name__}")


def user_error(error) -> str:
    """The error the step raised, not Dagster's "Error occurred while executing op" wrapper
    around it (whose own message says nothing about the cause)."""
    while error.cls_name == STEP_WRAPPER and error.cause is not None:
        error = error.cause
    return error.message.strip()


@dg.run_failure_sensor(
    name="run_failure_alert",
    description="Appends failed runs to LOG_DIR/alerts.jsonl and POSTs them to "
    "STOCKMONITOR_ALERT_WEBHOOK when set.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    message = context.failure_event.message or "run failed"
    errors = [
        f"{event.step_key}: {user_error(event.event_specific_data.error)}"
        for event in context.get_step_failure_events()
        if event.event_specific_data and event.event_specific_data.error
    ]
    now = dt.datetime.now(dt.UTC)
    deliver(alert_record(run.job_name, run.run_id, run.tags, message, now, errors), context.log)
