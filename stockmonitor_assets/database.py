"""Postgres: the connection resource and the idempotent per-day upsert of the scores table.

The table's columns follow the scores frame (its dtypes mapped to Postgres types), with
`date` stored as `trade_date`; the primary key is (trade_date, order_book_id). Each day
is replaced whole (DELETE + INSERT) in one transaction, so a re-run leaves exactly one row
per stock and day, and a stock that left the universe leaves no stale row behind.
"""

import contextlib
import datetime as dt
from collections.abc import Iterator

import dagster as dg
import polars as pl
import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as Connection
from psycopg2.extras import execute_values

from stockmonitor_assets import settings

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


class PostgresResource(dg.ConfigurableResource):
    """The database scores are saved to (DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD).

    `host` unset means no database is configured: database assets skip, visibly.
    """

    host: str | None = None
    port: int = 5432
    database: str = "stockmonitor"
    user: str = "postgres"
    password: str | None = None
    connect_timeout_s: int = 10

    @property
    def is_configured(self) -> bool:
        return bool(self.host)

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection, closed on exit; commit per `with connection:` block."""
        conn = psycopg2.connect(
            host=self.host,
            port=self.port,
            dbname=self.database,
            user=self.user,
            password=self.password,
            connect_timeout=self.connect_timeout_s,
            application_name="stockmonitor",
        )
        try:
            yield conn
        finally:
            conn.close()


def postgres_from_env() -> PostgresResource:
    """The resource as DB_* describe it; the password stays an `EnvVar` (hidden in the UI)."""
    if not settings.database_configured():
        return PostgresResource()
    password = {"password": dg.EnvVar("DB_PASSWORD")} if settings.get("DB_PASSWORD") else {}
    return PostgresResource(
        host=settings.get("DB_HOST"),
        port=settings.int_setting("DB_PORT", 5432),
        database=settings.get("DB_NAME", "stockmonitor"),
        user=settings.get("DB_USER", "postgres"),
        **password,
    )


def ensure_table(conn: Connection, schema: pl.Schema, table: str = SCORES_TABLE) -> None:
    """Create the table on first use; add columns the frame has gained since."""
    columns = [(_column_name(name), _pg_type(dtype)) for name, dtype in schema.items()]
    ddl = sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}))").format(
        sql.Identifier(table),
        sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns
        ),
        sql.SQL(", ").join(map(sql.Identifier, KEY)),
    )
    with conn, conn.cursor() as cur:
        cur.execute(ddl)
        for name, pg_type in columns:
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                    sql.Identifier(table), sql.Identifier(name), sql.SQL(pg_type)
                )
            )


def replace_day(
    conn: Connection, day: dt.date, frame: pl.DataFrame, table: str = SCORES_TABLE
) -> int:
    """Replace every row of `day` with `frame`, in one transaction; returns rows written."""
    names = [_column_name(c) for c in frame.columns]
    insert = sql.SQL("INSERT INTO {} ({}) VALUES %s").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE trade_date = %s").format(sql.Identifier(table)), (day,)
        )
        if len(frame):
            execute_values(cur, insert.as_string(cur), frame.rows(), page_size=1000)
    return len(frame)


def _column_name(name: str) -> str:
    return "trade_date" if name == "date" else name


def _pg_type(dtype: pl.DataType) -> str:
    pg_type = _PG_TYPES.get(dtype.base_type())
    if pg_type is None:
        raise TypeError(f"no Postgres type for polars dtype {dtype}; extend _PG_TYPES")
    return pg_type
