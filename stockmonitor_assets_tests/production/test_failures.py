"""Failures are seen: alerts (file and webhook) for every attempt, retries, a red freshness check.

A deployment (daemon + webserver, Postgres instance) whose source is broken: the `files`
source pointed at a directory that does not exist. A sync submitted through the webserver
fails; the daemon retries it (dagster.yaml `run_retries`, max 2), and `run_failure_alert`
writes each failed attempt to `$LOG_DIR/alerts.jsonl` and POSTs it to
STOCKMONITOR_ALERT_WEBHOOK (a local HTTP server here). No scores were ever stored, so the
freshness sensor's first evaluation finds the due partition missing: `scores_on_time` fails.
"""

import contextlib
import http.server
import json
import threading

import dagster as dg
import pytest

from stockmonitor_assets.alerts import ALERTS_FILE
from stockmonitor_assets.assets.freshness import last_deadline
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.trading_calendar import partition_key, shanghai_now
from stockmonitor_assets_tests.production.conftest import deployed, recent_sessions

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

(TARGET,) = recent_sessions(1)
MAX_RETRIES = 2


class Webhook(http.server.ThreadingHTTPServer):
    """Collects the JSON bodies POSTed to it."""

    def __init__(self):
        self.bodies: list[dict] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def webhook():
    server = Webhook()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    root = tmp_path_factory.mktemp("broken")
    with (
        webhook() as hook,
        deployed(
            root,
            STOCKMONITOR_SOURCE="files",
            STOCKMONITOR_FILES_DIR=str(root / "no-such-export"),
            STOCKMONITOR_ALERT_WEBHOOK=f"http://127.0.0.1:{hook.server_port}/alerts",
            STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP="1",  # a local receiver; https otherwise
        ) as deployment,
    ):
        run_id = deployment.launch("daily_data_sync_job", TARGET)
        yield deployment, hook, run_id


def alerts(deployment) -> list[dict]:
    path = deployment.log_dir / ALERTS_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_each_failed_attempt_is_alerted_to_the_file_and_the_webhook_until_retries_run_out(broken):
    deployment, hook, _ = broken
    last = deployment.wait_until(
        lambda: [a for a in alerts(deployment) if a.get("retry_number") == str(MAX_RETRIES)],
        240,
        "the alert of the last retry",
    )
    records = alerts(deployment)
    assert [a.get("retry_number") for a in records] == [None, "1", "2"]
    assert [a["will_retry"] for a in records] == ["true", "true", "false"]
    assert last[0]["will_retry"] == "false"
    for record in records:
        assert record["job"] == "daily_data_sync_job" and record["partition"] == TARGET
        assert "no-such-export" in " ".join(record["step_errors"])
    deployment.wait_until(lambda: len(hook.bodies) == len(records), 30, "the webhook POSTs")
    assert hook.bodies == records


def test_the_failed_sync_and_its_retries_are_failed_runs_of_one_group(broken):
    deployment, _, run_id = broken
    with deployment.instance() as instance:
        group = instance.get_runs(dg.RunsFilter(tags={"dagster/root_run_id": run_id}))
        statuses = {run.status for run in [instance.get_run_by_id(run_id), *group]}
    assert len(group) == MAX_RETRIES
    assert statuses == {dg.DagsterRunStatus.FAILURE}


def test_freshness_check_is_red_when_the_due_scores_are_missing(broken):
    deployment = broken[0]
    due = Settings.from_env().scores_due_time
    expected = partition_key(last_deadline(shanghai_now(), due)[1])
    with deployment.instance() as instance:
        evaluation = deployment.wait_until(
            lambda: _freshness_evaluation(instance), 120, "the freshness check's evaluation"
        )
    assert evaluation.passed is False
    assert evaluation.metadata["expected_partition"].value == expected


def _freshness_evaluation(instance: dg.DagsterInstance):
    runs = instance.get_runs(dg.RunsFilter(tags={"dagster/sensor_name": "scores_freshness_sensor"}))
    for run in runs:
        for record in instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records:
            return record.event_log_entry.dagster_event.event_specific_data
    return None
