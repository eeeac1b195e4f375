"""The daily market report: one self-contained HTML file per trading day, previewed in the UI.

A range run (a backfill) renders its last day only: at ~0.4 s a report (5,000 stocks), 5,319
reports would add half an hour to the whole-history backfill, and any day renders on demand from
the stored `merged` and `scores` (`stockmonitor report --date D`). The other days of the
range say so in their metadata.
"""

import dagster as dg

from stockmonitor_assets.assets.partitions import partition_days, trading_day_asset
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.trading_calendar import partition_key

ON_DEMAND = "not rendered by a range run (it renders its last day); `stockmonitor report --date {}`"


@dg.asset(
    **trading_day_asset("reporting", kinds=frozenset({"html"})),
    deps=["merged", "scores"],
)
def daily_report(
    context: dg.AssetExecutionContext, io_manager: dg.ResourceParam[PartitionedParquetIOManager]
) -> dg.MaterializeResult:
    """The day's market report (HTML under DATA_DIR/reports/): breadth, scores, leaders,
    rank movers, factor coverage, boards and the top names' last 60 sessions."""
    from stockmonitor_assets.report.build import publish_report
    from stockmonitor_assets.report.preview import preview_markdown

    days = partition_days(context)
    for day in days[:-1]:
        context.add_asset_metadata(
            {"rendered": False, "report": ON_DEMAND.format(day)}, partition_key=partition_key(day)
        )
    published = publish_report(io_manager.store, days[-1])
    b = published.report.breadth
    context.add_asset_metadata(
        {
            "rendered": True,
            "preview": dg.MetadataValue.md(preview_markdown(published.report, str(published.path))),
            "path": dg.MetadataValue.path(str(published.path)),
            "dagster/row_count": b["stocks"],
            **{k: b[k] for k in ("advancers", "decliners", "limit_up", "limit_down", "suspended")},
        },
        partition_key=partition_key(days[-1]),
    )
    return dg.MaterializeResult()
