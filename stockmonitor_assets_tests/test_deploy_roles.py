"""deploy/postgres/roles.sql on the real Postgres at 127.0.0.1:5432: what each role of the
deployment may do. The instance's role creates and uses Dagster's tables (through
deploy/dagster.yaml) and cannot touch stock_scores; the writer saves stock_scores (create,
add a column, replace a day) and cannot touch Dagster's tables; the viewer reads both
(a Dagster instance opened as the viewer lists the runs) and can change nothing. A throwaway
database and uniquely named roles are created here, through psql as init-roles.sh runs it,
and dropped afterwards.
"""

import datetime as dt
import subprocess
import tempfile
import uuid

import dagster as dg
import polars as pl
import psycopg2
import pytest
import yaml
from psycopg2 import errors

from stockmonitor_assets.database import PostgresResource, ensure_table, replace_day
from stockmonitor_assets_tests.conftest import postgres_admin
from stockmonitor_assets_tests.test_deploy_recipe import DEPLOY

pytestmark = pytest.mark.postgres

SERVER = {"host": "127.0.0.1", "port": 5432}
DAY = dt.date(2024, 1, 2)


@pytest.fixture(scope="module")
def deployment():
    """A database prepared by roles.sql, as init-roles.sh runs it; role names unique."""
    suffix = uuid.uuid4().hex[:8]
    database = f"stockmonitor_roles_{suffix}"
    roles = {kind: f"stockmonitor_{kind}_{suffix}" for kind in ("dagster", "writer", "viewer")}
    try:
        postgres_admin(f'CREATE DATABASE "{database}"')
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no Postgres at 127.0.0.1:5432: {exc}")
    try:
        variables = []
        for kind, role in roles.items():
            variables += ["--set", f"{kind}_role={role}", "--set", f"{kind}_password=pw-{kind}"]
        subprocess.run(
            ["psql", "-h", SERVER["host"], "-U", "postgres", "-d", database, "--no-psqlrc"]
            + ["--quiet", *variables, "--file", str(DEPLOY / "postgres" / "roles.sql")],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield database, roles
    finally:
        postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        for role in roles.values():
            postgres_admin(f'DROP ROLE IF EXISTS "{role}"')


def _instance_config(database: str, role: str, monkeypatch) -> dict:
    """deploy/dagster.yaml with its DB_* pointed at the database, logged in as `role`."""
    env = {"DB_HOST": SERVER["host"], "DB_PORT": "5432", "DB_NAME": database}
    env |= {"DB_USER": role, "DB_PASSWORD": "unused (trust)", "LOG_DIR": tempfile.mkdtemp()}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


def _as(role: str, database: str, statement: str) -> list[tuple]:
    conn = psycopg2.connect(dbname=database, user=role, connect_timeout=5, **SERVER)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@dg.asset
def probe() -> int:
    return 1


@pytest.fixture(scope="module")
def used(deployment):
    """One run recorded by the instance's role, one day of stock_scores by the writer."""
    database, roles = deployment
    with pytest.MonkeyPatch.context() as patch:
        config = _instance_config(database, roles["dagster"], patch)
        with dg.instance_for_test(temp_dir=tempfile.mkdtemp(), overrides=config) as instance:
            assert dg.materialize([probe], instance=instance).success
    writer = PostgresResource(database=database, user=roles["writer"], **SERVER)
    frame = pl.DataFrame({"date": [DAY], "order_book_id": ["600000.XSHG"], "score": [1.0]})
    with writer.connect() as conn:
        ensure_table(conn, frame.schema)
        ensure_table(conn, frame.with_columns(rank=pl.lit(1)).schema)  # a migration
        replace_day(conn, DAY, frame.with_columns(rank=pl.lit(1)))
    return database, roles


def test_no_role_is_a_superuser_or_may_create_roles_or_databases(deployment):
    database, roles = deployment
    for role in roles.values():
        rows = _as(
            role,
            database,
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
            "WHERE rolname = current_user",
        )
        assert rows == [(False, False, False, False)], role


def test_the_writer_saves_stock_scores_and_cannot_touch_dagsters_tables(used):
    database, roles = used
    assert _as(roles["writer"], database, "SELECT count(*), max(rank) FROM stock_scores") == [
        (1, 1)
    ]
    for statement in ("SELECT count(*) FROM runs", "DELETE FROM event_logs"):
        with pytest.raises(errors.InsufficientPrivilege):
            _as(roles["writer"], database, statement)


def test_the_instance_role_cannot_touch_stock_scores(used):
    database, roles = used
    assert _as(roles["dagster"], database, "SELECT count(*) FROM runs") == [(1,)]
    for statement in ("SELECT count(*) FROM stock_scores", "DELETE FROM stock_scores"):
        with pytest.raises(errors.InsufficientPrivilege):
            _as(roles["dagster"], database, statement)


def test_the_viewer_reads_runs_and_scores_and_changes_nothing(used, monkeypatch):
    database, roles = used
    viewer = roles["viewer"]
    assert _as(viewer, database, "SELECT count(*) FROM stock_scores") == [(1,)]
    config = _instance_config(database, viewer, monkeypatch)
    with dg.instance_for_test(temp_dir=tempfile.mkdtemp(), overrides=config) as instance:
        (run,) = instance.get_runs()
        assert run.is_success
    for statement in (
        "DELETE FROM stock_scores",
        "UPDATE runs SET status = 'FAILURE'",
        "CREATE TABLE planted (x int)",
        "ALTER TABLE stock_scores ADD COLUMN planted int",
    ):
        with pytest.raises(errors.InsufficientPrivilege):
            _as(viewer, database, statement)


def test_nobody_else_may_connect(deployment):
    database, _ = deployment
    stranger = f"stranger_{uuid.uuid4().hex[:8]}"
    postgres_admin(f'CREATE ROLE "{stranger}" LOGIN')
    try:
        with pytest.raises(psycopg2.OperationalError, match="permission denied"):
            _as(stranger, database, "SELECT 1")
    finally:
        postgres_admin(f'DROP ROLE "{stranger}"')
