"""The qlib provider directory: our bars, indicators and scores for a qlib workflow.

Named `qlib_export`, not `qlib`: `dagster dev -f` puts this folder on `sys.path`, where a
`qlib.py` would shadow the qlib package itself.
"""

import dagster as dg

from stockmonitor_assets.assets.partitions import (
    chunks,
    partition_days,
    trading_day_asset,
    upstream,
)
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.qlib_store import QlibProvider, QlibProviderError, check_location
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.trading_calendar import sessions_through
from stockmonitor_assets.transforms import qlib_fields

NOT_KEPT = (
    "no local qlib directory: DATA_DIR is an object store or STOCKMONITOR_QLIB_DIR=off "
    "(set STOCKMONITOR_QLIB_DIR to a local path to keep one)"
)

DEPS = ("merged", "scores")


# Not required: with no directory kept nothing is written, so nothing is recorded as
# materialized (like scores_table without a database). `merged` and `scores` are deps, not
# inputs: the step reads only some columns of them from the store itself, so an input would
# only add a "loaded input" event per run (the lineage and the graph are the same).
@dg.asset(
    **trading_day_asset("export", kinds=frozenset({"qlib"})),
    deps=DEPS,
    output_required=False,
)
def qlib_provider(
    context: dg.AssetExecutionContext,
    settings: Settings,
    io_manager: dg.ResourceParam[PartitionedParquetIOManager],
):
    """A qlib provider directory (calendar, instruments, float32 features), one day at a time."""
    location = settings.qlib_dir
    if location is None:
        context.log.info(f"qlib_provider skipped: {NOT_KEPT}")
        return
    days = partition_days(context)
    sessions = sessions_through(days[-1])
    provider, files = QlibProvider(location), 0
    merged, scores = (upstream(context, io_manager, name) for name in DEPS)
    try:
        check_location(location)
        with provider.locked():
            provider.plan(days, sessions)  # a gap or an earlier start fails before any write
            for chunk in chunks(days, settings.chunk_days):
                frame = qlib_fields.provider_fields(
                    merged.stack(chunk, qlib_fields.MERGED_INPUTS),
                    scores.stack(chunk, qlib_fields.SCORE_INPUTS),
                )
                files += provider.write_chunk(frame, chunk, sessions)
    except (QlibProviderError, qlib_fields.QlibFieldError) as error:
        raise dg.Failure(description=str(error)) from None
    calendar = provider.calendar()
    yield dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(provider.root)),
            "calendar": f"{calendar[0]} .. {calendar[-1]} ({len(calendar)} sessions)",
            "instruments": len(provider.instruments()),
            "fields": len(qlib_fields.field_names()),
            "feature_files_written": files,
        }
    )


def unkept_qlib_provider() -> dg.AssetSpec:
    """`qlib_provider` where no local directory is kept: in the graph, never materialized.

    Not executable, so "Materialize all", backfills and jobs leave it out (a run that
    materialized nothing for it would make a UI backfill end "completed with failures").
    """
    common = trading_day_asset("export", kinds=frozenset({"qlib"}))
    return dg.AssetSpec(
        "qlib_provider",
        deps=DEPS,
        description=f"Not kept: {NOT_KEPT}.",
        partitions_def=common["partitions_def"],
        group_name=common["group_name"],
        kinds=common["kinds"],
    )
