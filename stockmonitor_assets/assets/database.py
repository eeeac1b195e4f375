"""The scores, saved to Postgres when a database is configured."""

import dagster as dg

from stockmonitor_assets.assets.partitions import Partitions, trading_day_asset
from stockmonitor_assets.database import SCORES_TABLE, PostgresResource, ensure_table, replace_day
from stockmonitor_assets.trading_calendar import partition_date

SKIPPED = "no database configured"


# Not required: with no database nothing is saved, so nothing is recorded as materialized
# (the UI keeps the asset grey rather than green for a save that never happened).
@dg.asset(**trading_day_asset("scoring", kinds=frozenset({"postgres"})), output_required=False)
def scores_table(context: dg.AssetExecutionContext, database: PostgresResource, scores: Partitions):
    """Each day's scores upserted into Postgres table stock_scores, one transaction per day."""
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
