"""The scores, saved to Postgres when a database is configured."""

import dagster as dg

from stockmonitor_assets.assets.partitions import trading_day_asset, upstream
from stockmonitor_assets.database import SCORES_TABLE, PostgresResource, ensure_table, replace_day
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.trading_calendar import partition_date

SKIPPED = "no database configured"


DESCRIPTION = (
    "Each day's scores upserted into Postgres table stock_scores, one transaction per day."
)


# Not required: a run without a database (`dg.materialize` in a notebook) saves nothing and
# so records nothing. The code location without DB_HOST shows `unconfigured_scores_table`.
@dg.asset(
    **trading_day_asset("scoring", kinds=frozenset({"postgres"})),
    deps=["scores"],
    output_required=False,
    description=DESCRIPTION,
)
def scores_table(
    context: dg.AssetExecutionContext,
    database: PostgresResource,
    io_manager: dg.ResourceParam[PartitionedParquetIOManager],
):
    scores = upstream(context, io_manager, "scores")
    if not database.is_configured:
        context.log.info(f"scores_table skipped: {SKIPPED} (set DB_HOST to save scores)")
        return
    rows = 0
    with database.connect() as conn:
        keys = sorted(scores)
        if keys:
            ensure_table(conn, scores[keys[0]].schema, timeouts=database.timeouts)
        for key in keys:  # one day in memory at a time
            rows += replace_day(conn, partition_date(key), scores[key], timeouts=database.timeouts)
    yield dg.MaterializeResult(
        metadata={
            "table": SCORES_TABLE,
            "dagster/row_count": rows,
            "partitions_saved": len(scores),
            "database": f"{database.host}:{database.port}/{database.database}",
        }
    )


def unconfigured_scores_table() -> dg.AssetSpec:
    """`scores_table` where no database is configured: in the graph, never materialized.

    Not executable, so "Materialize all", backfills and jobs leave it out (a run that
    materialized nothing for it would make a backfill end "completed with failures"), and
    the UI never shows a save that did not happen.
    """
    common = trading_day_asset("scoring", kinds=frozenset({"postgres"}))
    return dg.AssetSpec(
        "scores_table",
        deps=["scores"],
        description=f"Not configured: set DB_HOST (and DB_*) to save scores. {DESCRIPTION}",
        partitions_def=common["partitions_def"],
        group_name=common["group_name"],
        kinds=common["kinds"],
    )
