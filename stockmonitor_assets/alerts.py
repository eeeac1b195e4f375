"""Failed-run alerts: a JSON line in LOG_DIR/alerts.jsonl, and an optional webhook POST.

The sensor only reports; it never launches runs. Alerts carry the job, run id, partitions
and the error message (truncated), never configuration or environment values, and the
webhook URL itself (which may embed a token) is never logged. A broken webhook or an
unwritable log is reported in the sensor's log and never fails the sensor.

The webhook is POSTed over https only (plain http only with
STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP=1, and only to a loopback host: a receiver on the
same machine), redirects are
not followed, and each alert gets one overall deadline covering one retry: a stalled or
slowly dripping receiver cannot hold the sensor past it.
"""

import datetime as dt
import http.client
import ipaddress
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg

from stockmonitor_assets import settings
from stockmonitor_assets.errors import user_error

ALERTS_FILE = "alerts.jsonl"
WEBHOOK_DEADLINE_SECONDS = 10.0
WEBHOOK_ATTEMPTS = 2  # one retry, on a network error, a timeout, 429 or 5xx
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


class WebhookError(Exception):
    """The webhook refused or failed; the message names the host, never the URL (token)."""


def check_webhook_url(url: str, allow_http: bool | None = None) -> urllib.parse.SplitResult:
    """The parsed URL if it may receive alerts: https, or http when explicitly allowed."""
    allow_http = webhook_allows_http() if allow_http is None else allow_http
    parts = urllib.parse.urlsplit(url.strip())
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        hint = "" if allow_http else f" (http:// only with {settings.ALERT_WEBHOOK_ALLOW_HTTP}=1)"
        raise WebhookError(
            f"{settings.ALERT_WEBHOOK} must be an https:// URL{hint}; "
            f"its scheme is {parts.scheme + '://' if parts.scheme else 'missing'}"
        )
    if not parts.hostname:
        raise WebhookError(f"{settings.ALERT_WEBHOOK} has no host")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise WebhookError(
            f"{settings.ALERT_WEBHOOK}: plain http:// reaches only a receiver on this host "
            f"(127.0.0.0/8, ::1, localhost) even with {settings.ALERT_WEBHOOK_ALLOW_HTTP}=1; "
            "use https:// for any other host"
        )
    return parts


def is_loopback_host(host: str) -> bool:
    """`localhost` or a loopback address literal; never resolved (a name that resolves to
    127.0.0.1 today may not tomorrow), so plain http cannot leave the machine."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def webhook_allows_http() -> bool:
    """STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP: 1 allows http:// to a loopback host, 0/unset not."""
    raw = settings.get(settings.ALERT_WEBHOOK_ALLOW_HTTP, "0")
    if raw not in ("0", "1"):
        raise WebhookError(f"{settings.ALERT_WEBHOOK_ALLOW_HTTP}={raw!r} must be 0 or 1")
    return raw == "1"


def post_webhook(
    url: str,
    record: Mapping[str, object],
    deadline_s: float = WEBHOOK_DEADLINE_SECONDS,
    allow_http: bool | None = None,
) -> None:
    """POST the record as JSON within `deadline_s` in all, retrying once if worth it.

    Raises:
        WebhookError: the URL is refused, the deadline passed, or the answer was not 2xx.
    """
    parts = check_webhook_url(url, allow_http)
    body = json.dumps(record, ensure_ascii=False).encode("utf-8")
    deadline = time.monotonic() + deadline_s
    for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise WebhookError(f"{parts.hostname}: no answer within {deadline_s:g} s")
            return _post_once(parts, body, remaining)
        except _Retryable as exc:
            if attempt == WEBHOOK_ATTEMPTS or deadline - time.monotonic() <= 0:
                raise WebhookError(f"{exc} (attempt {attempt} of {WEBHOOK_ATTEMPTS})") from None


class _Retryable(WebhookError):
    """A failure another attempt may not repeat: network, timeout, 429, 5xx."""


def _post_once(parts: urllib.parse.SplitResult, body: bytes, timeout: float) -> None:
    """One POST, abandoned at `timeout` however the receiver stalls (the socket is shut)."""
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else (http.client.HTTPConnection)
    )
    conn = connection_class(parts.hostname, parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    outcome: list[object] = []

    def exchange() -> None:
        try:
            conn.request("POST", target, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read(65536)
            outcome.append(response.status)
        except Exception as exc:  # noqa: BLE001 - reported below, by type only
            outcome.append(exc)

    worker = threading.Thread(target=exchange, name="alert-webhook", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        _abort(conn)
        raise _Retryable(f"{parts.hostname}: no answer within {timeout:.1f} s")
    conn.close()
    _check_outcome(parts.hostname, outcome[0])


def _check_outcome(host: str, outcome: object) -> None:
    if isinstance(outcome, Exception):
        raise _Retryable(f"{host}: {type(outcome).__name__}")
    if outcome == 429 or outcome >= 500:
        raise _Retryable(f"{host} answered HTTP {outcome}")
    if not 200 <= outcome < 300:
        raise WebhookError(f"{host} answered HTTP {outcome} (redirects are not followed)")


def _abort(conn: http.client.HTTPConnection) -> None:
    """Wake a worker blocked on the socket, from the waiting thread."""
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    conn.close()


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
            reason = exc if isinstance(exc, WebhookError) else type(exc).__name__
            log.error(f"alert webhook ({settings.ALERT_WEBHOOK}) failed: {reason}")


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


def alerted_run_ids(log_dir: Path) -> set[str]:
    """Run ids already in the alerts file (a missing or unreadable file holds none)."""
    try:
        lines = (log_dir / ALERTS_FILE).read_text(encoding="utf-8").splitlines()
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
    instance: dg.DagsterInstance, cursor: str | None, log: object, now: dt.datetime
) -> tuple[str, int]:
    """Alert every failed run not alerted yet; returns the next cursor and how many were sent.

    The cursor is the latest end time seen; each scan reaches back OVERLAP before it, and the
    alerts file keeps a run from being alerted twice."""
    latest = _cursor_time(cursor) or now - FIRST_LOOK_BACK
    seen = alerted_run_ids(settings.log_dir())
    sent = 0
    for end, run in failed_runs_since(instance, latest - OVERLAP):
        if run.run_id not in seen:
            deliver(failure_record(instance, run, now), log)
            seen.add(run.run_id)
            sent += 1
        latest = max(latest, end)
    return latest.isoformat(), sent


def daemon_alive(instance: dg.DagsterInstance, max_age: float = 60.0) -> bool:
    """A dagster-daemon heartbeat in the last `max_age` seconds: its sensors are running."""
    beats = instance.get_daemon_heartbeats()
    return any(time.time() - beat.timestamp < max_age for beat in beats.values())


def alert_now_unless_a_daemon_will(
    instance: dg.DagsterInstance, run: dg.DagsterRun, log: object, cause: str | None = None
) -> None:
    """Alert a run whose steps failed from the run itself when no daemon runs the sensor
    (`dagster asset materialize`, `make demo`, `stockmonitor run --in-process` on a bare
    checkout); with a daemon, the sensor alerts it once the run has failed, with its retry
    tags. The alerts file keeps the two from alerting one run twice. `cause` names what
    failed when no step did (a resource that could not start)."""
    if daemon_alive(instance) or run.run_id in alerted_run_ids(settings.log_dir()):
        return
    record = failure_record(instance, run, dt.datetime.now(dt.UTC))
    if cause:
        record["message"] = f"run failed: {cause}"[:MAX_MESSAGE_CHARS]
    deliver(record, log)


@dg.sensor(
    name="run_failure_alert",
    description="Appends every failed run of this Dagster instance (UI, daemon, "
    "`dagster asset materialize`, `stockmonitor run`) to LOG_DIR/alerts.jsonl, once per "
    "attempt, and POSTs it to STOCKMONITOR_ALERT_WEBHOOK when set.",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    now = dt.datetime.now(dt.UTC)
    cursor, sent = alert_new_failures(context.instance, context.cursor, context.log, now)
    context.update_cursor(cursor)
    return dg.SkipReason(f"{sent} failed run(s) alerted")
