"""Materialization metadata read back from the instance: per-partition row and null counts,
fills by reason, the column schema, and the top-20 markdown of `scores`."""

import dagster as dg
import polars as pl

from stockmonitor_assets.definitions import build_defs
from stockmonitor_assets.schemas import TABLES
from stockmonitor_assets_tests.clean_run import DAY, FIRST, LAST, clean_run


def _latest(pipeline, asset: str, key: str) -> dict:
    records = pipeline.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1
    ).records
    return dict(records[0].asset_materialization.metadata)


def test_scores_metadata_has_row_counts_nulls_and_top_20():
    pipeline, _ = clean_run()
    metadata = _latest(pipeline, "scores", DAY)
    frame = pipeline.read("scores", DAY)
    assert metadata["dagster/row_count"].value == len(frame)
    assert metadata["null_counts"].value["score"] == frame["score"].null_count()
    assert metadata["eligible_stocks"].value == frame["is_eligible"].sum()
    top = metadata["top_20"].value
    best = frame.filter(pl.col("rank") == 1)["order_book_id"][0]
    assert top.startswith("| rank | order_book_id | score") and f"| 1 | {best} |" in top
    assert len(top.splitlines()) == 22 and "z_value" in top
    # The schema is the definition's (the same every day), not copied into each event.
    assert "dagster/column_schema" not in metadata


def test_every_table_asset_declares_its_column_schema():
    graph = build_defs().resolve_asset_graph()
    keys = graph.materializable_asset_keys
    specs = {k.to_user_string(): graph.get(k).to_asset_spec() for k in keys}
    declared = {n for n, s in specs.items() if "dagster/column_schema" in s.metadata}
    # scores_table is stock_scores in Postgres, qlib_provider a qlib directory, daily_report an
    # HTML page: no table.
    assert declared == set(specs) - {"scores_table", "qlib_provider", "daily_report"}
    for name in declared:
        columns = specs[name].metadata["dagster/column_schema"].columns
        assert [c.name for c in columns] == [c.name for c in TABLES[name].columns]
        assert all(c.description for c in columns)


def test_range_run_records_each_partitions_own_counts():
    pipeline, _ = clean_run()
    for key in ("2024-06-05", "2024-06-06", LAST):
        metadata = _latest(pipeline, "completed_ohlcv", key)
        frame = pipeline.read("completed_ohlcv", key)
        assert metadata["dagster/row_count"].value == len(frame)
        assert metadata["filled_rows"].value == frame["is_filled"].sum()
        suspended = (frame["fill_reason"] == "suspended").sum()
        assert metadata["filled_suspended"].value == suspended
    assert FIRST == "2024-06-05"
