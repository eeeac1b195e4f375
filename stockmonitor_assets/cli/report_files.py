"""`stockmonitor report`: a day's report file, rendered when missing or older than its data.

No Dagster run: the report is a function of the stored `merged` and `scores`, so any day
renders on demand (a range run renders only its last day; docs/report.md).
"""

import datetime as dt
import os
import webbrowser

from stockmonitor_assets.report.build import (
    ReportInputError,
    latest_scored_day,
    publish_report,
    report_path,
)
from stockmonitor_assets.storage import PartitionStore
from stockmonitor_assets.trading_calendar import NotATradingDayError, parse_trading_day


class ReportError(ValueError):
    """No report can be written for the requested day; the message says why."""


def ensure_report(day: str | None, data_dir: str) -> tuple[str, bool]:
    """(path of `day`'s report, whether it was written now). Default: the latest scored day."""
    store = PartitionStore(data_dir)
    try:
        date = parse_trading_day(day) if day else latest_scored_day(store)
    except NotATradingDayError as exc:
        raise ReportError(f"--date: {exc}") from None
    if date is None:
        raise ReportError(f"no scores in {data_dir}: run the pipeline first (make demo)")
    path = report_path(store, date)
    if _is_current(store, date):
        return str(path), False
    try:
        return str(publish_report(store, date).path), True
    except ReportInputError as exc:
        raise ReportError(str(exc)) from None


def _is_current(store: PartitionStore, day: dt.date) -> bool:
    """A local report written after the day's scores and merged partitions were."""
    if not store.is_local:
        return False
    key = day.isoformat()
    html = os.fspath(store.root / "reports" / f"{key}.html")
    inputs = [os.fspath(store.path(asset, key)) for asset in ("merged", "scores")]
    try:
        written = os.stat(html).st_mtime_ns
        return all(os.stat(p).st_mtime_ns <= written for p in inputs)
    except FileNotFoundError:
        return False


def open_in_browser(path: str) -> bool:
    """Open the file in the user's browser; False when no browser is available."""
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    return browser.open(f"file://{os.path.abspath(path)}")
