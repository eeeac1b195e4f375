"""Asset jobs, named as users of the original scripts know them, all on trading-day partitions."""

import dagster as dg

from stockmonitor_assets.trading_calendar import trading_day_partitions

SYNC = dg.AssetSelection.assets("instruments", "raw_ohlcv", "completed_ohlcv", "fundamentals")
COMPLETION = dg.AssetSelection.assets("completed_ohlcv")
INDICATORS = dg.AssetSelection.assets("technical_indicators", "fundamental_indicators")
SCORING = dg.AssetSelection.assets("merged", "scores", "scores_table")


def _job(name: str, selection: dg.AssetSelection, description: str) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name, selection=selection, partitions_def=trading_day_partitions, description=description
    )


daily_data_sync_job = _job(
    "daily_data_sync_job", SYNC, "Sync the universe, raw bars and fundamentals, and complete bars."
)
data_completion_job = _job(
    "data_completion_job", COMPLETION, "Re-complete bars from stored raw partitions."
)
indicator_calculation_job = _job(
    "indicator_calculation_job", INDICATORS, "Technical and fundamental indicators."
)
scoring_and_save_job = _job(
    "scoring_and_save_job", SCORING, "Merge, score and save (Parquet, and Postgres if configured)."
)
daily_full_pipeline_job = _job(
    "daily_full_pipeline_job", dg.AssetSelection.all(), "Everything, from source to scores."
)

JOBS = [
    daily_data_sync_job,
    data_completion_job,
    indicator_calculation_job,
    scoring_and_save_job,
    daily_full_pipeline_job,
]
