"""Idempotency: re-materializing changes nothing, in Parquet or in Postgres.

The Parquet writer embeds no timestamp (polars writes `created_by` and the schema only), so
the promise is byte-identical files. Materializing a partition twice, or a range and then
a sub-range inside it, leaves every file's bytes as they were; the scores table keeps
exactly one row per (trade_date, order_book_id), equal to the day's Parquet scores.
"""

import polars as pl
import pytest

from stockmonitor_assets.database import SCORES_TABLE
from stockmonitor_assets_tests.reliability.conftest import ALL_ASSETS, demo_pipeline, snapshot

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

FIRST, LAST = "2024-06-03", "2024-06-07"
SUB_FIRST, SUB_LAST = "2024-06-05", "2024-06-06"


def _table(db) -> pl.DataFrame:
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT trade_date, order_book_id FROM {SCORES_TABLE}")
        return pl.DataFrame(cur.fetchall(), schema=["date", "order_book_id"], orient="row")


@pytest.fixture
def pipeline(pipeline_for, throwaway_db):
    return demo_pipeline(pipeline_for, database=throwaway_db)


def test_range_then_sub_range_then_single_day_changes_no_byte_and_no_row(pipeline, throwaway_db):
    assert pipeline.materialize(ALL_ASSETS, FIRST, LAST).success
    files, table = snapshot(pipeline.data_dir), _table(throwaway_db)
    assert len(files) == 8 * 5

    assert pipeline.materialize(ALL_ASSETS, SUB_FIRST, SUB_LAST).success
    assert pipeline.materialize(ALL_ASSETS, SUB_FIRST).success
    assert snapshot(pipeline.data_dir) == files
    again = _table(throwaway_db)
    assert not again.is_duplicated().any()
    assert again.sort(again.columns).equals(table.sort(table.columns))
    parquet = pl.concat(pipeline.read("scores", k) for k in pipeline.keys("scores"))
    assert set(again.iter_rows()) == set(parquet.select("date", "order_book_id").iter_rows())
    assert len(again) == len(parquet) > 0
