"""The scores, saved to Postgres when a database is configured."""

import dagster as dg

from stockmonitor_assets.assets.partitions import Partitions, trading_day_asset
from stockmonitor_assets.database import SCORES_TABLE, PostgresResource, ensure_table, replace_day
from stockmonitor_assets.trading_calendar import partition_date

SKIPPED = "no database configured"


@dg.asset(**trading_day_asset("scoring", kinds=frozenset({"postgres"})))
def scores_table(
    context: dg.AssetExecutionContext, database: PostgresResource, scores: Partitions
) -> dg.MaterializeResult:
    """Each day's scores upserted into Postgres table stock_scores, one transaction per day."""
    if not database.is_configured:
        context.log.info(f"scores_table skipped: {SKIPPED} (set DB_HOST to save scores)")
        return dg.MaterializeResult(metadata={"skipped": SKIPPED})
    rows = 0
    with database.connect() as conn:
        keys = sorted(scores)
        if keys:
            ensure_table(conn, scores[keys[0]].schema, timeouts=database.timeouts)
        for key in keys:  # one day in memory at a time
            rows += replace_day(conn, partition_date(key), scores[key], timeouts=database.timeouts)
    return dg.MaterializeResult(
        metadata={
            "table": SCORES_TABLE,
            "dagster/row_count": rows,
            "partitions_saved": len(scores),
            "database": f"{database.host}:{database.port}/{database.database}",
        }
    )
