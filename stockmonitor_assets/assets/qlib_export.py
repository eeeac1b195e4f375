"""The qlib provider directory: our bars, indicators and scores for a qlib workflow.

Named `qlib_export`, not `qlib`: `dagster dev -f` puts this folder on `sys.path`, where a
`qlib.py` would shadow the qlib package itself.
"""

import dagster as dg
import polars as pl

from stockmonitor_assets import settings
from stockmonitor_assets.assets.partitions import chunks, partition_days, trading_day_asset
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.qlib_store import QlibProvider, QlibProviderError, check_location
from stockmonitor_assets.schemas import MERGED, SCORES
from stockmonitor_assets.storage import PartitionStore
from stockmonitor_assets.trading_calendar import partition_key, sessions_through
from stockmonitor_assets.transforms import qlib_fields

NOT_KEPT = (
    "no local qlib directory: DATA_DIR is an object store or STOCKMONITOR_QLIB_DIR=off "
    "(set STOCKMONITOR_QLIB_DIR to a local path to keep one)"
)


# Not required: with no directory kept nothing is written, so nothing is recorded as
# materialized (like scores_table without a database). `merged` and `scores` are deps, not
# inputs: the step reads only some columns of them from the store itself, so an input would
# only add a "loaded input" event per run (the lineage and the graph are the same).
@dg.asset(
    **trading_day_asset("export", kinds=frozenset({"qlib"})),
    deps=["merged", "scores"],
    output_required=False,
)
def qlib_provider(
    context: dg.AssetExecutionContext, io_manager: dg.ResourceParam[PartitionedParquetIOManager]
):
    """A qlib provider directory (calendar, instruments, float32 features), one day at a time."""
    location = settings.qlib_dir()
    if location is None:
        context.log.info(f"qlib_provider skipped: {NOT_KEPT}")
        return
    days = partition_days(context)
    sessions = sessions_through(days[-1])
    provider, files, store = QlibProvider(location), 0, io_manager.store
    try:
        check_location(location)
        with provider.locked():
            provider.plan(days, sessions)  # a gap or an earlier start fails before any write
            for chunk in chunks(days):
                frame = qlib_fields.provider_fields(
                    _columns(store, "merged", chunk, MERGED.empty(), qlib_fields.MERGED_INPUTS),
                    _columns(store, "scores", chunk, SCORES.empty(), qlib_fields.SCORE_INPUTS),
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


def _columns(store: PartitionStore, asset: str, days, empty: pl.DataFrame, columns) -> pl.DataFrame:
    """Only `columns` of the stored days (the others are not decoded): memory per chunk."""
    columns = list(columns)
    frames = [store.read(asset, partition_key(d), columns) for d in days]
    return pl.concat([empty.select(columns), *frames])
