"""Freshness of `scores` (due the trading day after, at STOCKMONITOR_SCORES_DUE) and failed-run
alerts (JSON lines in LOG_DIR, optional webhook that can never crash the sensor)."""

import datetime as dt
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest

from stockmonitor_assets import alerts
from stockmonitor_assets.assets import freshness, scoring
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets_tests.clean_run import ASSETS, DAY, clean_run, copy_without

REPO = Path(__file__).resolve().parents[1]

SHANGHAI = ZoneInfo("Asia/Shanghai")
DUE = dt.time(10, 30)


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "now, deadline, expected",
    [
        # 2024-06-10 was a holiday (Dragon Boat): Tuesday's deadline expects Friday's scores.
        (at(2024, 6, 11, 10, 31), at(2024, 6, 11, 10, 30), dt.date(2024, 6, 7)),
        (at(2024, 6, 11, 10, 29), at(2024, 6, 7, 10, 30), dt.date(2024, 6, 6)),
        (at(2024, 6, 8, 12, 0), at(2024, 6, 7, 10, 30), dt.date(2024, 6, 6)),
    ],
)
def test_scores_are_due_the_trading_day_after(now, deadline, expected):
    assert freshness.last_deadline(now, DUE) == (deadline, expected)


def test_next_deadline_skips_weekend_and_holiday():
    assert freshness.next_deadline(at(2024, 6, 7, 11, 0), DUE) == at(2024, 6, 11, 10, 30)


@pytest.mark.parametrize(
    "now, passed",
    [(at(2024, 6, 11, 11, 0), True), (at(2024, 6, 12, 11, 0), False)],
)
def test_freshness_check_reads_the_expected_partition(monkeypatch, now, passed):
    pipeline, _ = clean_run()  # scores exist for 2024-06-05..07, not 2024-06-11
    monkeypatch.setattr(freshness, "shanghai_now", lambda: now)
    context = dg.build_asset_check_context(instance=pipeline.instance)
    resources = pipeline.resources
    result = freshness.scores_on_time(context, resources["market_data"], resources["settings"])
    assert result.passed is passed
    assert result.metadata["late_minutes"].value == (0.0 if passed else 30.0)
    assert "dagster/fresh_until_timestamp" in result.metadata


def test_alert_keeps_partition_tags_only():
    tags = {"dagster/partition": "2024-06-07", "secret-ish": "x", "dagster/backfill": "b1"}
    record = alerts.alert_record("job", "r1", tags, "boom" * 1000, at(2024, 6, 7, 16, 0))
    assert record["partition"] == "2024-06-07" and record["backfill"] == "b1"
    assert "secret-ish" not in json.dumps(record) and len(record["message"]) == 2000


class _Capture(http.server.BaseHTTPRequestHandler):
    bodies: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_alert_is_written_and_posted_to_the_webhook(tmp_path, monkeypatch):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Capture)
    threading.Thread(target=server.handle_request, daemon=True).start()
    monkeypatch.setenv("LOG_DIR", str(tmp_path))
    monkeypatch.setenv("STOCKMONITOR_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/")
    monkeypatch.setenv("STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP", "1")  # a local receiver
    alerts.deliver({"job": "j", "run_id": "r"}, dg.get_dagster_logger(), Settings.from_env())
    server.server_close()
    assert json.loads((tmp_path / alerts.ALERTS_FILE).read_text()) == {"job": "j", "run_id": "r"}
    assert _Capture.bodies == [{"job": "j", "run_id": "r"}]


def test_unreachable_webhook_never_raises(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("LOG_DIR", str(tmp_path))
    monkeypatch.setenv("STOCKMONITOR_ALERT_WEBHOOK", "http://127.0.0.1:9/hook?token=secret")
    monkeypatch.setenv("STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP", "1")
    alerts.deliver({"job": "j"}, dg.get_dagster_logger(), Settings.from_env())
    assert (tmp_path / alerts.ALERTS_FILE).exists()
    assert "token=secret" not in caplog.text


def _alert_of_a_run_breaking_the_merged_contract(tmp_path, monkeypatch) -> tuple[str, str]:
    """(run id, the alerts log line) of a run whose `merged` step writes a duplicate key."""
    pipeline = copy_without(["merged", "scores"], tmp_path / "data")
    merge_daily = scoring.merge_daily
    duplicate = lambda *args, **kwargs: (  # noqa: E731
        pl.concat([frame := merge_daily(*args, **kwargs), frame.head(1)])
    )
    monkeypatch.setattr(scoring, "merge_daily", duplicate)
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("STOCKMONITOR_ALERT_WEBHOOK", raising=False)
    selection = dg.AssetSelection.assets("merged", "scores")
    result = pipeline.materialize(ASSETS, DAY, selection=selection, raise_on_error=False)
    context = dg.build_sensor_context(instance=pipeline.instance, resources=_settings())
    alerts.run_failure_alert(context)
    (line,) = (tmp_path / "logs" / alerts.ALERTS_FILE).read_text().splitlines()
    return result.run_id, line


def test_a_failed_run_is_appended_to_the_alerts_log_naming_run_day_and_step(tmp_path, monkeypatch):
    run_id, line = _alert_of_a_run_breaking_the_merged_contract(tmp_path, monkeypatch)
    record = json.loads(line)
    assert record["run_id"] == run_id and record["partition"] == DAY
    assert [e.split(":")[0] for e in record["step_errors"]] == ["merged"]


def test_the_alert_of_a_broken_contract_names_the_defect(tmp_path, monkeypatch):
    _, line = _alert_of_a_run_breaking_the_merged_contract(tmp_path, monkeypatch)
    assert "merged: 2 rows share a key" in line


def _settings() -> dict:
    """The sensor's resources, as the code location builds them from the environment now."""
    return {"settings": Settings.from_env()}


def _failing_job_run(instance: dg.DagsterInstance, reason: str) -> str:
    @dg.op
    def boom():
        raise ValueError(reason)

    @dg.job(name="boom_job")
    def boom_job():
        boom()

    return boom_job.execute_in_process(instance=instance, raise_on_error=False).run_id


def test_a_run_that_failed_before_the_sensor_first_ran_is_alerted_once(tmp_path, monkeypatch):
    """The first evaluation after a deployment still sees a failure from before it, and later
    evaluations never alert the same attempt again."""
    monkeypatch.setenv("LOG_DIR", str(tmp_path))
    monkeypatch.delenv("STOCKMONITOR_ALERT_WEBHOOK", raising=False)
    with dg.DagsterInstance.ephemeral() as instance:
        first = _failing_job_run(instance, "first failure after deploying")
        context = dg.build_sensor_context(instance=instance, resources=_settings())
        alerts.run_failure_alert(context)
        second = _failing_job_run(instance, "second failure")
        for _ in range(2):
            alerts.run_failure_alert(
                dg.build_sensor_context(
                    instance=instance, cursor=context.cursor, resources=_settings()
                )
            )
        lines = [json.loads(x) for x in (tmp_path / alerts.ALERTS_FILE).read_text().splitlines()]
    assert [line["run_id"] for line in lines] == [first, second]
    assert lines[0]["step_errors"] == ["boom: ValueError: first failure after deploying"]


def test_a_failure_older_than_the_first_look_back_is_not_alerted(tmp_path, monkeypatch):
    monkeypatch.setenv("LOG_DIR", str(tmp_path))
    with dg.DagsterInstance.ephemeral() as instance:
        _failing_job_run(instance, "long ago")
        later = (
            dt.datetime.now(dt.UTC)
            + alerts.FIRST_LOOK_BACK
            + alerts.OVERLAP
            + dt.timedelta(minutes=1)
        )
        log, config = dg.get_dagster_logger(), Settings.from_env()
        cursor, sent = alerts.alert_new_failures(instance, None, log, later, config)
    assert sent == 0 and not (tmp_path / alerts.ALERTS_FILE).exists()
    assert dt.datetime.fromisoformat(cursor) == later - alerts.FIRST_LOOK_BACK


def test_a_run_failing_before_any_step_is_alerted_by_itself_when_no_daemon_runs(tmp_path):
    """`dagster asset materialize` on a bare checkout (no daemon, so no sensor): the run's
    own executor alerts, naming the resource's error in one line."""
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    (tmp_path / "a_file").write_text("not a directory")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "STOCKMONITOR_"))}
    env |= {"DATA_DIR": str(tmp_path / "a_file" / "data"), "LOG_DIR": str(tmp_path / "logs")}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "asset", "materialize"]
        + ["-m", "stockmonitor_assets.definitions", "--select", "instruments"]
        + ["--partition", "2024-06-07"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    (line,) = (tmp_path / "logs" / alerts.ALERTS_FILE).read_text().splitlines()
    record = json.loads(line)
    assert record["event"] == "run_failure" and record["partition"] == "2024-06-07"
    assert record["message"].startswith("run failed: DataDirError: DATA_DIR=")


def test_the_sensor_reads_only_the_end_of_a_long_alerts_file(tmp_path, monkeypatch):
    monkeypatch.setattr(alerts, "RECENT_ALERTS_BYTES", 200)
    for run_id in ("old-1", "old-2", "old-3", "recent"):
        alerts.append_alert(tmp_path, {"run_id": run_id, "message": "x" * 60})
    assert alerts.alerted_run_ids(tmp_path) == {"old-3", "recent"}
