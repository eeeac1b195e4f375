"""Where run health is kept: one Parquet file per run under `<DATA_DIR>/_health/`, written
whole (a re-recorded run replaces its file), and, when a database is configured, the same
rows in Postgres table `run_health` (replaced per run in one transaction). No Dagster import.
"""

import io

import polars as pl
from psycopg2 import sql

from stockmonitor_assets.database import transaction
from stockmonitor_assets.schemas import HEALTH_FOLDER, RUN_HEALTH
from stockmonitor_assets.storage import PartitionStore

FOLDER = HEALTH_FOLDER
TABLE = "run_health"
_PG_COLUMNS = {
    pl.String: "text",
    pl.Enum: "text",
    pl.Datetime: "timestamptz",
    pl.Float64: "double precision",
    pl.Int64: "bigint",
}


def write_run(store: PartitionStore, frame: pl.DataFrame) -> pl.DataFrame:
    """Store one run's rows (all with the same run_id); the rows written (RUN_HEALTH)."""
    run_ids = frame["run_id"].unique().to_list()
    if len(run_ids) != 1:
        raise ValueError(f"run health: expected the rows of one run, got runs {run_ids}")
    return store.write(FOLDER, run_ids[0], frame)


def recorded_runs(store: PartitionStore) -> set[str]:
    folder = store.root / FOLDER
    try:
        return {
            p.name.removesuffix(".parquet")
            for p in folder.iterdir()
            if p.name.endswith(".parquet") and not p.name.startswith(".")
        }
    except FileNotFoundError:
        return set()


def read_run(store: PartitionStore, run_id: str) -> pl.DataFrame | None:
    return store.read_if_exists(FOLDER, run_id)


def read_all(store: PartitionStore) -> pl.DataFrame:
    """Every recorded step of every run (an empty, typed frame when there is none)."""
    runs = sorted(recorded_runs(store))
    return pl.concat([RUN_HEALTH.empty(), *(store.read(FOLDER, r) for r in runs)])


def save_to_database(conn, frame: pl.DataFrame) -> int:
    """Replace the rows of the runs in `frame` in Postgres, one transaction; rows written."""
    columns = {c.name: _PG_COLUMNS[c.dtype.base_type()] for c in RUN_HEALTH.columns}
    create = sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY (run_id, step_key))").format(
        sql.Identifier(TABLE),
        sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns.items()
        ),
    )
    copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(TABLE), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with transaction(conn, table=TABLE) as cur:
        cur.execute(create)
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE run_id = ANY(%s)").format(sql.Identifier(TABLE)),
            (frame["run_id"].unique().to_list(),),
        )
        if len(frame):
            csv = frame.select(list(columns)).write_csv(include_header=False)
            cur.copy_expert(copy.as_string(cur), io.BytesIO(csv.encode()))
    return len(frame)


def withheld_counts(store: PartitionStore, last: int = 30) -> dict[str, int]:
    """Withheld stock-days of the `last` stored `merged` days (one column read per day)."""
    try:
        keys = sorted(
            p.name.removesuffix(".parquet")
            for p in (store.root / "merged").iterdir()
            if p.name.endswith(".parquet") and not p.name.startswith(".")
        )[-last:]
    except FileNotFoundError:
        return {}
    return {
        key: int(
            store.read("merged", key, ["withheld_reason"])["withheld_reason"].is_not_null().sum()
        )
        for key in keys
    }
