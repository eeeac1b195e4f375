"""stock_scores beside other sessions, on the real Postgres at 127.0.0.1:5432.

Saving a day whose columns exist takes no exclusive lock (a long reader does not stall it);
a needed migration waits at most `lock_timeout`; statements are bounded by
`statement_timeout`; two saves of the same day at once both succeed and leave one copy;
four savers creating the table, or adding the same column, at once all succeed (30 rounds);
TLS is configurable (`DB_SSLMODE`) and reaches libpq. A throwaway database is used.
"""

import datetime as dt
import math
import os
import tempfile
import threading
import time
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg2
import pytest
import yaml

from stockmonitor_assets.database import (
    DatabaseTimeoutError,
    PostgresResource,
    Timeouts,
    ensure_table,
    postgres_from,
    replace_day,
    transaction,
)
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets_tests.conftest import postgres_admin

pytestmark = pytest.mark.postgres

SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
TABLE = "scores_under_test"
DAY = dt.date(2024, 1, 2)
WAIT_S = 20
DEFAULTS = Timeouts()


@pytest.fixture(scope="module")
def database_name():
    name = f"stockmonitor_dbsafety_{os.getpid()}"
    try:
        postgres_admin(f"DROP DATABASE IF EXISTS {name}")
        postgres_admin(f"CREATE DATABASE {name}")
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no Postgres at 127.0.0.1:5432: {exc}")
    yield name
    postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db(database_name):
    resource = PostgresResource(database=database_name, **SERVER)
    yield resource
    with resource.connect() as conn, conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")


def _scores(score: float, rows: int = 200, extra: str | None = None) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "date": [DAY] * rows,
            "order_book_id": [f"{i:06d}.XSHE" for i in range(rows)],
            "score": [score] * rows,
        }
    )
    return frame.with_columns(pl.lit(1.0).alias(extra)) if extra else frame


def _save(db: PostgresResource, frame: pl.DataFrame, timeouts: Timeouts = DEFAULTS) -> None:
    with db.connect() as conn:
        ensure_table(conn, frame.schema, TABLE, timeouts)
        replace_day(conn, DAY, frame, TABLE, timeouts)


def _query(db: PostgresResource, statement: str) -> list[tuple]:
    with db.connect() as conn, conn, conn.cursor() as cur:
        cur.execute(statement)
        return cur.fetchall()


class Holder:
    """A session holding a lock on the table in an open transaction, until released."""

    def __init__(self, db: PostgresResource, statement: str):
        self.conn = psycopg2.connect(dbname=db.database, **SERVER)
        self.conn.cursor().execute(statement)

    def release(self) -> None:
        self.conn.commit()
        self.conn.close()


def _in_thread(target, *args) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run():
        try:
            outcome.append(target(*args))
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _sessions_waiting_for_a_lock(db: PostgresResource) -> int:
    rows = _query(
        db,
        "SELECT count(*) FROM pg_stat_activity "
        f"WHERE datname = '{db.database}' AND wait_event_type = 'Lock'",
    )
    return rows[0][0]


def _wait_until(condition, timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_saving_a_day_whose_columns_exist_is_not_stalled_by_a_long_reader(db):
    _save(db, _scores(1.0))
    reader = Holder(db, f"SELECT * FROM {TABLE} LIMIT 1")  # ACCESS SHARE until commit
    try:
        thread, outcome = _in_thread(_save, db, _scores(2.0))
        thread.join(WAIT_S)
        assert not thread.is_alive(), "the save waited for the reader: it took an exclusive lock"
        assert outcome == [None]
    finally:
        reader.release()
        thread.join(WAIT_S)
    assert _query(db, f"SELECT DISTINCT score FROM {TABLE}") == [(2.0,)]


def test_a_new_column_is_added_and_the_rows_of_other_days_kept(db):
    _save(db, _scores(1.0))
    with db.connect() as conn:
        assert ensure_table(conn, _scores(1.0, extra="breadth").schema, TABLE) == ["breadth"]
        assert ensure_table(conn, _scores(1.0, extra="breadth").schema, TABLE) == []
    assert _query(db, f"SELECT count(*), count(breadth) FROM {TABLE}") == [(200, 0)]


def test_a_migration_behind_a_long_reader_fails_within_lock_timeout_naming_the_setting(db):
    _save(db, _scores(1.0))
    reader = Holder(db, f"SELECT * FROM {TABLE} LIMIT 1")
    try:
        started = time.monotonic()
        thread, outcome = _in_thread(_save, db, _scores(2.0, extra="breadth"), Timeouts(lock_s=0.5))
        thread.join(WAIT_S)
        assert not thread.is_alive(), "the migration waited without a lock_timeout"
        assert time.monotonic() - started < 5
        (error,) = outcome
        assert isinstance(error, DatabaseTimeoutError)
        assert "DB_LOCK_TIMEOUT_S" in str(error) and TABLE in str(error)
    finally:
        reader.release()
        thread.join(WAIT_S)
    assert _query(db, f"SELECT DISTINCT score FROM {TABLE}") == [(1.0,)]  # nothing written


def test_timeouts_hold_for_the_transaction_only_and_stop_a_long_statement(db):
    with db.connect() as conn:
        with transaction(conn, Timeouts(lock_s=1.5, statement_s=0.2)) as cur:
            cur.execute("SELECT current_setting('lock_timeout')")
            assert cur.fetchone() == ("1500ms",)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT current_setting('lock_timeout')")
            assert cur.fetchone() == ("0",)
        with pytest.raises(DatabaseTimeoutError, match="DB_STATEMENT_TIMEOUT_S"):
            with transaction(conn, Timeouts(statement_s=0.2)) as cur:
                cur.execute("SELECT pg_sleep(3)")


def test_two_concurrent_saves_of_one_day_both_succeed_and_leave_one_copy(db):
    _save(db, _scores(0.0))
    # Hold both saves at the table until each has started its transaction, then let go.
    gate = Holder(db, f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
    try:
        saves = [_in_thread(_save, db, _scores(score)) for score in (1.0, 2.0)]
        assert _wait_until(lambda: _sessions_waiting_for_a_lock(db) == 2)
    finally:
        gate.release()
    for thread, _ in saves:
        thread.join(WAIT_S)
    assert [outcome for _, outcome in saves] == [[None], [None]]
    rows = _query(
        db, f"SELECT count(*), count(DISTINCT order_book_id), min(score), max(score) FROM {TABLE}"
    )
    count, distinct, low, high = rows[0]
    assert (count, distinct) == (200, 200) and low == high and low in (1.0, 2.0)


def test_sslmode_reaches_libpq_and_require_fails_clearly_against_a_server_without_tls(db):
    assert _query(db, "SHOW ssl") == [("off",)]
    strict = PostgresResource(database=db.database, sslmode="require", **SERVER)
    with pytest.raises(psycopg2.OperationalError, match="SSL"):
        with strict.connect():
            pass
    plain = PostgresResource(database=db.database, sslmode="disable", **SERVER)
    with plain.connect() as conn:
        assert conn.get_dsn_parameters()["sslmode"] == "disable"


def test_db_sslmode_is_read_from_the_environment_and_validated(monkeypatch):
    monkeypatch.setenv("DB_HOST", "db.internal")
    monkeypatch.setenv("DB_SSLMODE", "verify-full")
    monkeypatch.setenv("DB_SSLROOTCERT", "/etc/stockmonitor/pg-root.crt")
    resource = postgres_from(Settings.from_env())
    assert (resource.sslmode, resource.sslrootcert) == (
        "verify-full",
        "/etc/stockmonitor/pg-root.crt",
    )
    monkeypatch.setenv("DB_SSLMODE", "verify_full")
    with pytest.raises(ValueError, match="DB_SSLMODE.*'verify_full'.*verify-full"):
        postgres_from(Settings.from_env())


def test_stock_scores_takes_its_own_login_when_db_scores_user_is_set(monkeypatch):
    """deploy/: the code server holds the instance's login (DB_USER) and the writer's."""
    for name, value in {"DB_HOST": "db", "DB_USER": "dagster", "DB_PASSWORD": "a"}.items():
        monkeypatch.setenv(name, value)
    assert postgres_from(Settings.from_env()).user == "dagster"
    monkeypatch.setenv("DB_SCORES_USER", "writer")
    monkeypatch.setenv("DB_SCORES_PASSWORD", "b")
    resource = postgres_from(Settings.from_env())
    assert resource.user == "writer"
    assert resource.model_dump()["password"] == dg.EnvVar("DB_SCORES_PASSWORD")  # never a value


def test_pgsslmode_reaches_the_dagster_instances_own_connections(database_name, monkeypatch):
    """deploy/ sets PGSSLMODE from DB_SSLMODE: dagster.yaml's `params:` takes no `{env:}`."""
    deploy = Path(__file__).resolve().parents[1] / "deploy"
    config = yaml.safe_load((deploy / "dagster.yaml").read_text())
    env = {"DB_HOST": "127.0.0.1", "DB_PORT": "5432", "DB_USER": "postgres"}
    env |= {"DB_PASSWORD": "unused", "DB_NAME": database_name, "LOG_DIR": tempfile.mkdtemp()}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PGSSLMODE", "require")
    with pytest.raises(Exception, match="retries for DB connection"):
        with dg.instance_for_test(temp_dir=tempfile.mkdtemp(), overrides=config):
            pass
    monkeypatch.setenv("PGSSLMODE", "disable")
    with dg.instance_for_test(temp_dir=tempfile.mkdtemp(), overrides=config) as instance:
        assert instance.get_runs_count() == 0


def test_copy_round_trips_nulls_nan_infinities_empty_and_quoted_text(db):
    """The rows go in by COPY (CSV): each value that CSV could confuse comes back as written."""
    frame = pl.DataFrame(
        {
            "date": [DAY] * 5,
            "order_book_id": ["000001.XSHE", "000002.XSHE", "000003.XSHE", "600000.XSHG", "x"],
            "score": [0.1 + 0.2, None, float("nan"), float("inf"), -float("inf")],
            "ineligible_reason": ["", None, 'a,"b"\nc', "NULL", "\\N"],
            "is_eligible": [True, None, False, True, False],
            "rank": pl.Series([1, None, 3, 4, 5], dtype=pl.UInt32),
            "level": pl.Series(["A", "B", None, "A", "B"], dtype=pl.Enum(["A", "B"])),
            "scored_at": [dt.datetime(2024, 1, 2, 15, 0, 0, 123456, tzinfo=dt.UTC)] * 5,
        }
    )
    _save(db, frame)
    rows = _query(
        db,
        f"SELECT order_book_id, score, ineligible_reason, is_eligible, rank, level, scored_at "
        f"FROM {TABLE} ORDER BY order_book_id",
    )
    expected = frame.drop("date").sort("order_book_id").rows()
    assert [_nan_as_text(row) for row in rows] == [_nan_as_text(row) for row in expected]


def _nan_as_text(row: tuple) -> tuple:
    """NaN != NaN: compare it by its spelling."""
    return tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in row)


SAVERS = 4
ROUNDS = 30


def _all_at_once(target, argument_sets: list[tuple]) -> list:
    """Run `target` once per argument set, each in its own thread with its own connection,
    released together by a barrier; returns each outcome (None or the exception)."""
    barrier = threading.Barrier(len(argument_sets))

    def gated(*args):
        barrier.wait(WAIT_S)
        return target(*args)

    started = [_in_thread(gated, *args) for args in argument_sets]
    for thread, _ in started:
        thread.join(WAIT_S * 3)
    return [outcome[0] if outcome else "still running" for _, outcome in started]


def test_concurrent_first_saves_into_a_fresh_table_all_succeed(db):
    failures = []
    for _ in range(ROUNDS):
        _drop(db)
        outcomes = _all_at_once(_save, [(db, _scores(float(i))) for i in range(SAVERS)])
        failures += [repr(o) for o in outcomes if o is not None]
        count, distinct = _query(db, f"SELECT count(*), count(DISTINCT score) FROM {TABLE}")[0]
        assert (count, distinct) == (200, 1)  # one whole saver's day, no mixture
    assert failures == [], f"{len(failures)} of {SAVERS * ROUNDS} saves failed: {failures[:3]}"


def test_concurrent_saves_adding_the_same_new_column_all_succeed(db):
    _save(db, _scores(0.0))
    failures = []
    for round_ in range(ROUNDS):
        frame = _scores(1.0, extra=f"factor_{round_}")
        outcomes = _all_at_once(_save, [(db, frame)] * SAVERS)
        failures += [repr(o) for o in outcomes if o is not None]
    assert failures == [], f"{len(failures)} of {SAVERS * ROUNDS} saves failed: {failures[:3]}"
    assert _query(db, f"SELECT count(*), count(factor_{ROUNDS - 1}) FROM {TABLE}") == [(200, 200)]


def _drop(db: PostgresResource) -> None:
    with db.connect() as conn, conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
