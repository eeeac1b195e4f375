"""The alert webhook: https only (http when explicitly allowed, and then to a loopback host
only), one deadline per alert covering one retry, no redirect followed, and no URL (it may
embed a token) in any message.

Receivers are local HTTP servers on 127.0.0.1 that answer, fail, or stall as scripted.
"""

import http.server
import json
import threading
import time
from collections.abc import Iterator

import dagster as dg
import pytest

from stockmonitor_assets import alerts
from stockmonitor_assets.settings import SettingsError
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.webhook import WebhookError, check_webhook_url, post_webhook

RECORD = {"event": "run_failure", "job": "daily_full_pipeline_job", "run_id": "r1"}
TOKEN = "T0KEN-in-the-path"


class Receiver(http.server.ThreadingHTTPServer):
    """Answers each POST with the next scripted status; "stall" drips bytes and never ends."""

    daemon_threads = True

    def __init__(self, script: list):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script, self.bodies = list(script), []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/hooks/{TOKEN}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.server.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        answer = self.server.script.pop(0) if self.server.script else 204
        if answer == "stall":  # headers trickle in: each read returns before any timeout
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for _ in range(100):
                self.wfile.write(b"X-Slow: 1\r\n")
                self.wfile.flush()
                time.sleep(0.2)
            return
        self.send_response(answer)
        if answer in (301, 302, 307):
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver() -> Iterator:
    servers = []

    def start(*script) -> Receiver:
        server = Receiver(list(script))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_local_receiver_gets_the_record_once_when_http_is_allowed(receiver):
    server = receiver(204)
    post_webhook(server.url, RECORD, allow_http=True)
    assert server.bodies == [RECORD]


def test_a_server_error_is_retried_once_and_the_retry_delivers(receiver):
    server = receiver(503, 200)
    post_webhook(server.url, RECORD, allow_http=True)
    assert server.bodies == [RECORD, RECORD]


def test_a_failing_receiver_gets_exactly_one_retry(receiver):
    server = receiver(500, 500, 500)
    with pytest.raises(WebhookError, match="HTTP 500.*attempt 2 of 2"):
        post_webhook(server.url, RECORD, allow_http=True)
    assert len(server.bodies) == 2


@pytest.mark.parametrize("status", [400, 404, 302])
def test_a_client_error_or_redirect_is_not_retried_nor_followed(receiver, status):
    server = receiver(status)
    with pytest.raises(WebhookError, match=f"HTTP {status}"):
        post_webhook(server.url, RECORD, allow_http=True)
    assert len(server.bodies) == 1


def test_one_deadline_bounds_the_whole_call_even_when_the_receiver_drips(receiver):
    server = receiver("stall", "stall")
    started = time.monotonic()
    with pytest.raises(WebhookError, match="no answer within"):
        post_webhook(server.url, RECORD, deadline_s=1.0, allow_http=True)
    assert time.monotonic() - started < 1.8


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "file:///etc/passwd",
        "ftp://hooks.example.com/x",
        "hooks.example.com/x",
        "gopher://127.0.0.1:70/x",
    ],
)
def test_anything_but_https_is_refused_before_any_request_naming_the_setting(url):
    with pytest.raises(WebhookError, match="STOCKMONITOR_ALERT_WEBHOOK must be an https:// URL"):
        check_webhook_url(url, allow_http=False)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "data:,x"])
def test_allowing_http_still_refuses_other_schemes(url):
    with pytest.raises(WebhookError, match="https://"):
        check_webhook_url(url, allow_http=True)


def test_http_is_refused_unless_the_environment_allows_it(receiver):
    server = receiver(204)
    allowed = Settings.from_env({}).alert_webhook_allow_http
    with pytest.raises(WebhookError, match="STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP=1"):
        post_webhook(server.url, RECORD, allowed)
    assert server.bodies == []
    allowed = Settings.from_env({"STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP": "1"})
    post_webhook(server.url, RECORD, allowed.alert_webhook_allow_http)
    assert server.bodies == [RECORD]
    with pytest.raises(SettingsError, match="STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP='maybe'"):
        Settings.from_env({"STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP": "maybe"})


def test_the_sensor_logs_why_the_webhook_failed_without_the_url(
    receiver, tmp_path, monkeypatch, caplog
):
    server = receiver(500, 500)
    monkeypatch.setenv("LOG_DIR", str(tmp_path))
    monkeypatch.setenv("STOCKMONITOR_ALERT_WEBHOOK", server.url)
    monkeypatch.setenv("STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP", "1")
    alerts.deliver(RECORD, dg.get_dagster_logger(), Settings.from_env())
    monkeypatch.setenv("STOCKMONITOR_ALERT_WEBHOOK", f"file:///tmp/{TOKEN}")
    alerts.deliver(RECORD, dg.get_dagster_logger(), Settings.from_env())
    assert "127.0.0.1 answered HTTP 500" in caplog.text
    assert "must be an https:// URL" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "http://10.0.0.8:8080/x",
        "http://0.0.0.0:8080/x",
        "http://[fe80::1]/x",
        "http://localhost.attacker.example/x",
        "http://127.0.0.1.nip.io/x",
        "http://127.1/x",  # not an address literal Python parses: a name, resolved elsewhere
    ],
)
def test_allowing_http_still_refuses_any_host_but_a_loopback_one(url):
    with pytest.raises(WebhookError, match=r"only a receiver on this host.*ALLOW_HTTP=1"):
        check_webhook_url(url, allow_http=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://127.8.9.10/x",
        "http://[::1]:8080/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://localhost:8080/x",
        "http://LOCALHOST/x",
    ],
)
def test_allowing_http_admits_a_loopback_receiver(url):
    assert check_webhook_url(url, allow_http=True).scheme == "http"
    with pytest.raises(WebhookError, match="ALLOW_HTTP=1"):
        check_webhook_url(url, allow_http=False)
