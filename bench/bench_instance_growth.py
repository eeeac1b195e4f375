"""What a range run leaves in the Dagster instance: rows and bytes per table, per day.

Usage: python bench/bench_instance_growth.py [--ranges 2024-01-02...2024-01-31 ...]
                                             [--stocks 30] [--kind sqlite|postgres]

Each range is one `dagster asset materialize --select '*'` on a fresh instance (a fresh
clone's embedded SQLite, or a throwaway Postgres database with deploy/dagster.yaml), as a
history load runs it. Reported per range: the event log's rows and bytes by event type, the
asset-check execution rows by status (what Dagster plans for each check, per partition of
the run, each row holding the whole planned event with the run's partition subset), and
the bytes per trading day, extrapolated to the whole history (every session since 2005).
The instance's size does not depend on the number of stocks (only metadata values do).
"""

import argparse
import contextlib
import sqlite3
from pathlib import Path

from benchlib import PG, Workspace, print_machine, scratch, table

from stockmonitor_assets.trading_calendar import PARTITIONS_START, latest_published_day, sessions

HISTORY_SESSIONS = len(sessions(PARTITIONS_START, latest_published_day()))
DEFAULT_RANGES = ("2024-01-02...2024-01-31", "2024-01-02...2024-03-29", "2024-01-02...2024-06-28")
CHECK_ROWS = """SELECT execution_status, partition IS NOT NULL, COUNT(*),
                SUM(LENGTH(evaluation_event)) FROM asset_check_executions GROUP BY 1, 2"""
EVENT_ROWS = "SELECT dagster_event_type, COUNT(*), SUM(LENGTH(event)) FROM event_logs GROUP BY 1"


def query(ws: Workspace, sql: str) -> list[tuple]:
    if ws.kind == "sqlite":
        index = ws.dir / ".dagster_home" / "history" / "runs" / "index.db"
        with contextlib.closing(sqlite3.connect(index)) as conn:
            return conn.execute(sql).fetchall()
    import psycopg2

    server = {"host": PG["DB_HOST"], "port": PG["DB_PORT"], "user": PG["DB_USER"]}
    connection = psycopg2.connect(dbname=ws.database, **server)
    with contextlib.closing(connection) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def measure(root: Path, name: str, partitions: str, args: argparse.Namespace) -> dict:
    ws = Workspace(root, name, args.stocks, args.kind, operator=False)
    try:
        run = ws.materialize(partitions)
        days = len(list((ws.data / "scores").glob("*.parquet")))
        checks = query(ws, CHECK_ROWS)
        events = query(ws, EVENT_ROWS)
    finally:
        ws.close()
    return {
        "range": partitions,
        "days": days,
        "wall": run["wall"],
        "checks": checks,
        "events": events,
    }


def megabytes(size: int | None) -> str:
    return f"{(size or 0) / 1e6:.2f}"


def report(result: dict) -> None:
    days = result["days"]
    print(f"\n{result['range']}: {days} sessions, run {result['wall']:.1f} s")
    checks = sorted(result["checks"])
    rows = [(status, bool(keyed), n, megabytes(size)) for status, keyed, n, size in checks]
    print(table(("check row status", "partition set", "rows", "MB"), rows))
    events = sorted(result["events"], key=lambda row: -(row[2] or 0))
    print(table(("event type", "rows", "MB"), [(t, n, megabytes(size)) for t, n, size in events]))
    for what, rows in (("asset-check rows", checks), ("event log", events)):
        per_day = sum(row[-1] or 0 for row in rows) / days
        total = per_day * HISTORY_SESSIONS / 1e9
        print(f"{what}: {per_day / 1e3:.1f} KB per session, {total:.2f} GB over the history")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ranges", nargs="+", default=list(DEFAULT_RANGES))
    parser.add_argument("--stocks", type=int, default=30)
    parser.add_argument("--kind", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    print_machine()
    with scratch("smbench-growth-") as root:
        for i, partitions in enumerate(args.ranges):
            report(measure(root, f"range{i}", partitions, args))


if __name__ == "__main__":
    main()
