"""Materialization metadata of every asset: what each partition holds, at a glance in the UI.

Values are attached per partition (`add_asset_metadata(..., partition_key=...)`), so a
single-run range still records each day's own row count, nulls and fills, and the
numbers plot over partitions. The column schema, the same for every partition, is
definition metadata (`with_column_schemas`): attached to the run it would be copied into
every partition's event (~5 KB each, a tenth of a year run's event-log time).
"""

from collections.abc import Iterable

import dagster as dg
import polars as pl

from stockmonitor_assets.schemas import TABLES, TableSchema

TOP_N = 20


def with_column_schemas(assets: Iterable[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """`assets` with their table's column schema (from `schemas.py`) as definition metadata."""

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        table = TABLES.get(spec.key.to_user_string())
        if table is None:
            return spec
        return spec.merge_attributes(metadata={"dagster/column_schema": column_schema(table)})

    return list(dg.map_asset_specs(attach, list(assets)))


def column_schema(table: TableSchema) -> dg.TableSchema:
    """`schemas.py` as Dagster's column schema: names, dtypes, descriptions, nullability."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                c.name,
                type=str(c.dtype),
                description=c.description,
                constraints=dg.TableColumnConstraints(nullable=c.nullable),
            )
            for c in table.columns
        ]
    )


def partition_metadata(frame: pl.DataFrame, table: TableSchema) -> dict[str, object]:
    """Row count, null counts, and what the asset adds (fills, eligible stocks, top list)."""
    nulls = {c: n for c, n in frame.null_count().row(0, named=True).items() if n}
    metadata: dict[str, object] = {
        "dagster/row_count": len(frame),
        "null_cells": sum(nulls.values()),
        "null_counts": dg.MetadataValue.json(nulls),
    }
    extra = _BY_TABLE.get(table.name)
    return metadata | (extra(frame) if extra else {})


def fill_metadata(frame: pl.DataFrame) -> dict[str, object]:
    """How many rows were completed, by reason (0 for reasons absent today, so they plot)."""
    counts = dict(frame["fill_reason"].drop_nulls().value_counts().iter_rows())
    reasons = frame.schema["fill_reason"].categories.to_list()
    return {
        "filled_rows": int(frame["is_filled"].sum()),
        **{f"filled_{r}": int(counts.get(r, 0)) for r in reasons},
    }


def score_metadata(frame: pl.DataFrame) -> dict[str, object]:
    """Eligible stocks and a markdown table of the day's best, with their factor z-scores."""
    return {
        "eligible_stocks": int(frame["is_eligible"].sum()),
        f"top_{TOP_N}": dg.MetadataValue.md(top_markdown(frame)),
    }


def top_markdown(frame: pl.DataFrame, n: int = TOP_N) -> str:
    """The `n` best-ranked eligible stocks as a markdown table (z-scores to 2 decimals)."""
    factors = [c for c in frame.columns if c.startswith("z_")]
    columns = ["rank", "order_book_id", "score", "level", "composite", *factors]
    top = frame.filter(pl.col("is_eligible")).sort("rank").head(n).select(columns)
    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in top.iter_rows()]
    return header + "\n".join(rows) if rows else "no eligible stocks"


def _cell(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


_BY_TABLE = {"completed_ohlcv": fill_metadata, "scores": score_metadata}
