"""Asset jobs, named as users of the original scripts know them, all on trading-day partitions.

Jobs that may call the market-data source carry the run tag `stockmonitor/source: <kind>`,
which dagster.yaml's queued run coordinator limits to one run at a time per source
(vendors rate-limit; two syncs of the same days would only race).
"""

from typing import TYPE_CHECKING

import dagster as dg

from stockmonitor_assets.trading_calendar import trading_day_partitions

if TYPE_CHECKING:  # not exported by `dagster`, only used as an annotation
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

SOURCE_TAG = "stockmonitor/source"

SYNC = dg.AssetSelection.assets("instruments", "raw_ohlcv", "completed_ohlcv", "fundamentals")
COMPLETION = dg.AssetSelection.assets("completed_ohlcv")
INDICATORS = dg.AssetSelection.assets("technical_indicators", "fundamental_indicators")
SCORING = dg.AssetSelection.assets("merged", "scores", "scores_table")


def source_tags(kind: str) -> dict[str, str]:
    """Run tags of anything that calls source `kind` (the coordinator's concurrency key)."""
    return {SOURCE_TAG: kind}


def build_jobs(source_kind: str) -> list["UnresolvedAssetJobDefinition"]:
    """The five jobs; those touching the source are tagged with its kind."""
    tags = source_tags(source_kind)

    def job(
        name: str, selection: dg.AssetSelection, description: str, calls_source: bool
    ) -> "UnresolvedAssetJobDefinition":
        return dg.define_asset_job(
            name,
            selection=selection,
            partitions_def=trading_day_partitions,
            description=description,
            tags=tags if calls_source else None,
        )

    return [
        job(
            "daily_data_sync_job",
            SYNC,
            "Sync the universe, raw bars and fundamentals, and complete bars.",
            True,
        ),
        # Completion may ask the source for the last traded bar of a stock with no history.
        job(
            "data_completion_job",
            COMPLETION,
            "Re-complete bars from stored raw partitions.",
            True,
        ),
        job(
            "indicator_calculation_job",
            INDICATORS,
            "Technical and fundamental indicators.",
            False,
        ),
        job(
            "scoring_and_save_job",
            SCORING,
            "Merge, score and save (Parquet, and Postgres if configured).",
            False,
        ),
        job(
            "daily_full_pipeline_job",
            dg.AssetSelection.all(),
            "Everything, from source to scores.",
            True,
        ),
    ]


JOB_NAMES = [
    "daily_data_sync_job",
    "data_completion_job",
    "indicator_calculation_job",
    "scoring_and_save_job",
    "daily_full_pipeline_job",
]
