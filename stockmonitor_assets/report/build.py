"""Assemble a day's report from the stored partitions and publish it as HTML.

Reads only what the page shows: the day's `merged` and `scores` (named columns), the
previous session's ranks, and close/score of the charted names over the last 60 sessions.
Writes `<DATA_DIR>/reports/<YYYY-MM-DD>.html` whole or not at all (temp file + rename;
one PUT on an object store).
"""

import datetime as dt
import logging
import os
import uuid
from dataclasses import dataclass

import polars as pl
from upath import UPath

from stockmonitor_assets.report.page import render_page
from stockmonitor_assets.storage import MissingPartitionError, PartitionStore
from stockmonitor_assets.trading_calendar import partition_key, sessions_through
from stockmonitor_assets.transforms import report as tables

REPORTS_DIR = "reports"
log = logging.getLogger(__name__)


class ReportInputError(ValueError):
    """A day's report cannot be built: the message names the missing partition."""


@dataclass(frozen=True)
class Published:
    day: dt.date
    path: UPath
    report: tables.DailyReport
    html: str


def report_path(store: PartitionStore, day: dt.date) -> UPath:
    return store.root / REPORTS_DIR / f"{partition_key(day)}.html"


def load_report(store: PartitionStore, day: dt.date) -> tables.DailyReport:
    """The report's tables for `day`, from the stored `merged` and `scores` partitions."""
    key = partition_key(day)
    try:
        merged = store.read("merged", key, tables.MERGED_COLUMNS)
        scores = store.read("scores", key, tables.SCORES_COLUMNS)
    except MissingPartitionError as exc:
        raise ReportInputError(f"no report for {day}: {exc}") from None
    sessions = sessions_through(day)[-tables.HISTORY_SESSIONS :]
    stored = store.stored_keys("scores", [partition_key(d) for d in sessions[:-1]])
    previous_day = sessions[-2] if len(sessions) > 1 else None
    previous = None
    if previous_day is not None and partition_key(previous_day) in stored:
        previous = store.read("scores", partition_key(previous_day), ("order_book_id", "rank"))
    else:
        previous_day = None
    top = tables.leaders(tables.day_frame(merged, scores), n=tables.CHART_NAMES)
    names = top.select("order_book_id", "symbol")
    history = _history(store, [*stored, key], names, day)
    return tables.build_report(day, merged, scores, previous, previous_day, history)


def _history(store: PartitionStore, keys: list[str], names: pl.DataFrame, day: dt.date):
    """close/adj_factor and score of `names` on the stored sessions `keys`."""
    ids = names["order_book_id"].implode()
    kept = store.stored_keys("merged", keys)
    merged = pl.concat(
        store.read("merged", k, tables.HISTORY_MERGED_COLUMNS).filter(
            pl.col("order_book_id").is_in(ids)
        )
        for k in kept
    )
    scores = pl.concat(
        store.read("scores", k, tables.HISTORY_SCORES_COLUMNS).filter(
            pl.col("order_book_id").is_in(ids)
        )
        for k in store.stored_keys("scores", kept)
    )
    return tables.name_history(merged, scores, names, day)


def publish_report(
    store: PartitionStore, day: dt.date, generated_at: str | None = None
) -> Published:
    """Build `day`'s report from the store and write its HTML; returns where and what."""
    report = load_report(store, day)
    stamp = generated_at or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    html = render_page(report, stamp)
    path = report_path(store, day)
    _write_text(path, html)
    log.info("report for %s written to %s", day, path)
    return Published(day, path, report, html)


def _write_text(path: UPath, text: str) -> None:
    data = text.encode("utf-8")
    if path.protocol not in ("", "file", "local"):
        path.write_bytes(data)  # one PUT
        return
    final = os.fspath(path.path if hasattr(path, "path") else path)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    tmp = f"{final}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def latest_scored_day(store: PartitionStore) -> dt.date | None:
    """The newest day with a stored `scores` partition (None when there is none)."""
    folder = store.root / "scores"
    try:
        keys = sorted(
            p.name.removesuffix(".parquet")
            for p in folder.iterdir()
            if p.name.endswith(".parquet") and not p.name.startswith(".")
        )
    except FileNotFoundError:
        return None
    return dt.date.fromisoformat(keys[-1]) if keys else None
