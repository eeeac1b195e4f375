"""Database faults: a scores write cut off mid-transaction leaves no partial day.

`scores_table` replaces each day in one transaction (DELETE + INSERT). A trigger makes the
pipeline's INSERT of day 2 wait on an advisory lock the test holds (its DELETE of day 2 has
run by then); the test kills the pipeline's backend there (pg_terminate_backend).
The run fails naming the lost connection, the Dagster instance still reads it, day 1 is
saved whole, day 2 keeps its previous rows whole, and a re-run saves day 2 exactly once.
"""

import concurrent.futures
import time

import dagster as dg
import pytest

from stockmonitor_assets.database import SCORES_TABLE
from stockmonitor_assets_tests.conftest import failure_message
from stockmonitor_assets_tests.reliability.conftest import ALL_ASSETS, demo_pipeline

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

DAY1, DAY2 = "2024-06-05", "2024-06-06"
LOCK_ID = 4242
# Inserting a row of day 2 waits on an advisory lock the test holds: the pipeline's
# transaction for day 2 has then run its DELETE and is inside its INSERT.
HOLD_DAY2_INSERTS = f"""
CREATE FUNCTION hold_day2() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.trade_date = DATE '{DAY2}' THEN PERFORM pg_advisory_xact_lock_shared({LOCK_ID}); END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hold_day2 BEFORE INSERT ON {SCORES_TABLE}
    FOR EACH ROW EXECUTE FUNCTION hold_day2();
"""


def _rows_by_day(db) -> dict[str, set[str]]:
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT trade_date::text, order_book_id FROM {SCORES_TABLE}")
        rows = cur.fetchall()
    return {day: {s for d, s in rows if d == day} for day in {d for d, _ in rows}}


def _execute(db, statement: str, args: tuple = ()) -> None:
    with db.connect() as conn, conn, conn.cursor() as cur:
        cur.execute(statement, args)


def _blocked_backend(db, timeout: float = 120) -> int:
    """The pid of the pipeline's session once its INSERT of day 2 waits on the held lock."""
    deadline = time.monotonic() + timeout
    with db.connect() as conn, conn.cursor() as cur:
        conn.autocommit = True
        while time.monotonic() < deadline:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND "
                "application_name = 'stockmonitor' AND wait_event = 'advisory'",
                (db.database,),
            )
            found = cur.fetchone()
            if found:
                return found[0]
            time.sleep(0.05)
    pytest.fail("the scores write never reached day 2")


def test_backend_killed_mid_write_fails_the_run_and_leaves_every_day_whole(
    pipeline_for, throwaway_db, instance
):
    pipeline = demo_pipeline(pipeline_for, database=throwaway_db)
    assert pipeline.materialize(ALL_ASSETS, DAY1, DAY2).success
    saved = _rows_by_day(throwaway_db)
    _execute(throwaway_db, HOLD_DAY2_INSERTS)

    with throwaway_db.connect() as holder, holder.cursor() as lock:
        holder.autocommit = True
        lock.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            run = pool.submit(
                pipeline.materialize,
                ALL_ASSETS,
                DAY1,
                DAY2,
                selection=["scores_table"],
                raise_on_error=False,
            )
            _execute(
                throwaway_db, "SELECT pg_terminate_backend(%s)", (_blocked_backend(throwaway_db),)
            )
            result = run.result(timeout=120)
        lock.execute("SELECT pg_advisory_unlock(%s)", (LOCK_ID,))

    assert not result.success
    assert "terminat" in failure_message(result)
    assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.FAILURE
    assert _rows_by_day(throwaway_db) == saved

    rerun = pipeline.materialize(ALL_ASSETS, DAY2, selection=["scores_table"])
    assert rerun.success
    assert _rows_by_day(throwaway_db) == saved
    parquet = pipeline.read("scores", DAY2)
    assert saved[DAY2] == set(parquet["order_book_id"]) and len(parquet) == len(saved[DAY2])
