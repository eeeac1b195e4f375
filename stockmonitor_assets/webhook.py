"""The alert webhook's transport: which URLs may receive alerts, and one bounded POST.

The webhook is POSTed over https only (plain http only with
STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP=1, and only to a loopback host: a receiver on the
same machine), redirects are not followed, and each alert gets one overall deadline
covering one retry: a stalled or slowly dripping receiver cannot hold the sensor past it.
Errors name the host, never the URL (which may embed a token).
"""

import http.client
import ipaddress
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Mapping

from stockmonitor_assets import settings

WEBHOOK_DEADLINE_SECONDS = 10.0
WEBHOOK_ATTEMPTS = 2  # one retry, on a network error, a timeout, 429 or 5xx


class WebhookError(Exception):
    """The webhook refused or failed; the message names the host, never the URL (token)."""


def check_webhook_url(url: str, allow_http: bool) -> urllib.parse.SplitResult:
    """The parsed URL if it may receive alerts: https, or http when explicitly allowed
    (STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP=1, `Settings.alert_webhook_allow_http`)."""
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


def post_webhook(
    url: str,
    record: Mapping[str, object],
    allow_http: bool,
    deadline_s: float = WEBHOOK_DEADLINE_SECONDS,
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
