"""Postgres: the connection resource and the idempotent per-day upsert of the scores table.

The table's columns follow the scores frame (its dtypes mapped to Postgres types), with
`date` stored as `trade_date`; the primary key is (trade_date, order_book_id). Each day
is replaced whole (DELETE + INSERT) in one transaction, so a re-run leaves exactly one row
per stock and day, and a stock that left the universe leaves no stale row behind.

Living beside readers: the schema is read from information_schema and only missing columns
are added (an ALTER takes an exclusive lock, so none runs when nothing is missing); every
transaction sets `lock_timeout` and `statement_timeout` locally, so a long reader makes a
save fail with a clear message instead of stalling it and then every reader queued behind;
saves of one day are serialized by a transaction-scoped advisory lock on (table, day), so
two runs saving the same day both succeed and the table keeps one copy.
"""

import contextlib
import datetime as dt
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import polars as pl
import psycopg2
from psycopg2 import errors, sql
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import cursor as Cursor
from pydantic import field_validator

from stockmonitor_assets import settings, settings_resource

SCORES_TABLE = "stock_scores"
KEY = ("trade_date", "order_book_id")

_PG_TYPES: dict[type[pl.DataType], str] = {
    pl.String: "text",
    pl.Categorical: "text",
    pl.Enum: "text",
    pl.Date: "date",
    pl.Datetime: "timestamptz",
    pl.Boolean: "boolean",
    pl.Float32: "real",
    pl.Float64: "double precision",
    pl.Int8: "smallint",
    pl.Int16: "smallint",
    pl.Int32: "integer",
    pl.Int64: "bigint",
    pl.UInt8: "smallint",
    pl.UInt16: "integer",
    pl.UInt32: "bigint",
    pl.UInt64: "numeric",
}


class DatabaseTimeoutError(RuntimeError):
    """A statement waited past `lock_timeout` or ran past `statement_timeout`."""


@dataclass(frozen=True)
class Timeouts:
    """Per-transaction limits (seconds): waiting for a lock, and running one statement."""

    lock_s: float = settings_resource.default("db_lock_timeout_s")
    statement_s: float = settings_resource.default("db_statement_timeout_s")


class PostgresResource(dg.ConfigurableResource):
    """The database scores are saved to (DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD).

    `host` unset means no database is configured: database assets skip, visibly.
    `sslmode` (DB_SSLMODE) is libpq's; unset leaves libpq's default (`prefer`, or
    PGSSLMODE). Across a network use `verify-full` with `sslrootcert` (DB_SSLROOTCERT).
    """

    host: str | None = None
    port: int = settings_resource.default("db_port")
    database: str = settings_resource.default("db_name")
    user: str = settings_resource.default("db_user")
    password: str | None = None
    connect_timeout_s: int = 10
    sslmode: str | None = None
    sslrootcert: str | None = None
    lock_timeout_s: float = Timeouts.lock_s
    statement_timeout_s: float = Timeouts.statement_s

    @field_validator("sslmode")
    @classmethod
    def _known_sslmode(cls, mode: str | None) -> str | None:
        if mode is not None and mode not in settings.SSL_MODES:
            raise ValueError(
                f"sslmode ({settings.DB_SSLMODE}) {mode!r} is not one of {list(settings.SSL_MODES)}"
            )
        return mode

    @property
    def is_configured(self) -> bool:
        return bool(self.host)

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts(self.lock_timeout_s, self.statement_timeout_s)

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection, closed on exit; commit per `with connection:` block."""
        tls = {"sslmode": self.sslmode, "sslrootcert": self.sslrootcert}
        conn = psycopg2.connect(
            host=self.host,
            port=self.port,
            dbname=self.database,
            user=self.user,
            password=self.password,
            connect_timeout=self.connect_timeout_s,
            application_name="stockmonitor",
            **{name: value for name, value in tls.items() if value},
        )
        try:
            yield conn
        finally:
            conn.close()


def postgres_from(config: settings_resource.Settings) -> PostgresResource:
    """The resource as the settings describe it (DB_SCORES_USER/DB_SCORES_PASSWORD, when set,
    instead of DB_USER/DB_PASSWORD); the password stays an `EnvVar` (hidden in the UI)."""
    if not config.database_configured:
        return PostgresResource()
    own_login = config.db_scores_user is not None
    secret = settings.DB_SCORES_PASSWORD if own_login else settings.DB_PASSWORD
    password = {"password": dg.EnvVar(secret)} if secret in config.secrets_set else {}
    tls = {"sslmode": config.db_sslmode, "sslrootcert": config.db_sslrootcert}
    return PostgresResource(
        host=config.db_host,
        port=config.db_port,
        database=config.db_name,
        user=config.db_scores_user or config.db_user,
        lock_timeout_s=config.db_lock_timeout_s,
        statement_timeout_s=config.db_statement_timeout_s,
        **{name: value for name, value in tls.items() if value},
        **password,
    )


@contextlib.contextmanager
def transaction(
    conn: Connection, timeouts: Timeouts = Timeouts(), table: str = SCORES_TABLE
) -> Iterator[Cursor]:
    """One transaction whose lock waits and statements are bounded by `timeouts`.

    `set_config(..., true)` is `SET LOCAL`: the limits end with the transaction, so a pooled
    or shared connection keeps its own settings.
    """
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('lock_timeout', %s, true), "
                "set_config('statement_timeout', %s, true)",
                (_ms(timeouts.lock_s), _ms(timeouts.statement_s)),
            )
            yield cur
    except errors.LockNotAvailable as exc:
        raise DatabaseTimeoutError(
            f"{table}: waited more than {timeouts.lock_s:g} s for a lock "
            f"({settings.DB_LOCK_TIMEOUT}); a long query or open transaction holds it "
            "(see pg_stat_activity); nothing was written, run again"
        ) from exc
    except errors.QueryCanceled as exc:
        raise DatabaseTimeoutError(
            f"{table}: a statement ran longer than {timeouts.statement_s:g} s "
            f"({settings.DB_STATEMENT_TIMEOUT}); nothing was written"
        ) from exc


def ensure_table(
    conn: Connection,
    schema: pl.Schema,
    table: str = SCORES_TABLE,
    timeouts: Timeouts = Timeouts(),
) -> list[str]:
    """Create the table on first use, add the columns the frame has gained since; returns
    the columns added. Nothing but a catalog read happens when no column is missing."""
    columns = {_column_name(name): _pg_type(dtype) for name, dtype in schema.items()}
    with transaction(conn, timeouts, table) as cur:
        if not set(columns) - _existing_columns(cur, table):
            return []
        # Concurrent first runs would all CREATE (or ADD); each waits here in turn, then
        # re-reads: what an earlier one created is no longer missing, and nothing runs.
        cur.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_lock_key(table),))
        existing = _existing_columns(cur, table)
        missing = {name: t for name, t in columns.items() if name not in existing}
        if missing:
            cur.execute(_create(table, columns) if not existing else _add_columns(table, missing))
    return list(missing)


def replace_day(
    conn: Connection,
    day: dt.date,
    frame: pl.DataFrame,
    table: str = SCORES_TABLE,
    timeouts: Timeouts = Timeouts(),
) -> int:
    """Replace every row of `day` with `frame`, in one transaction; returns rows written.

    The advisory lock on (table, day) makes a concurrent save of the same day wait for this
    one to commit; its DELETE then sees (and removes) these rows: no duplicate key. Rows go
    in by COPY (CSV from polars: NULL unquoted-empty, an empty string quoted, NaN/inf as
    Postgres spells them): a year of 5,000 stocks in 6 s instead of 75 s by INSERT ... VALUES.
    """
    names = [_column_name(c) for c in frame.columns]
    copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with transaction(conn, timeouts, table) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_lock_key(table), day.toordinal()))
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE trade_date = %s").format(sql.Identifier(table)), (day,)
        )
        if len(frame):
            cur.copy_expert(
                copy.as_string(cur), io.BytesIO(frame.write_csv(include_header=False).encode())
            )
    return len(frame)


def _existing_columns(cur: Cursor, table: str) -> set[str]:
    cur.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    )
    return {name for (name,) in cur.fetchall()}


def _create(table: str, columns: dict[str, str]) -> sql.Composed:
    return sql.SQL("CREATE TABLE {} ({}, PRIMARY KEY ({}))").format(
        sql.Identifier(table),
        sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns.items()
        ),
        sql.SQL(", ").join(map(sql.Identifier, KEY)),
    )


def _add_columns(table: str, columns: dict[str, str]) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} {}").format(
        sql.Identifier(table),
        sql.SQL(", ").join(
            sql.SQL("ADD COLUMN IF NOT EXISTS {} {}").format(sql.Identifier(n), sql.SQL(t))
            for n, t in columns.items()
        ),
    )


def _lock_key(table: str) -> int:
    """A stable signed 32-bit key per table name (advisory locks take int4 pairs)."""
    return zlib.crc32(table.encode()) - 2**31


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def _column_name(name: str) -> str:
    return "trade_date" if name == "date" else name


def _pg_type(dtype: pl.DataType) -> str:
    pg_type = _PG_TYPES.get(dtype.base_type())
    if pg_type is None:
        raise TypeError(f"no Postgres type for polars dtype {dtype}; extend _PG_TYPES")
    return pg_type
