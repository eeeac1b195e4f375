"""Asset jobs, named as users of the original scripts know them, all on trading-day partitions.

Jobs that may call the market-data source carry the run tag `stockmonitor/source: <kind>`,
which dagster.yaml's queued run coordinator limits to one run at a time per source
(vendors rate-limit; two syncs of the same days would only race).
"""

import dagster as dg

SOURCE_TAG = "stockmonitor/source"

SYNC = dg.AssetSelection.assets("instruments", "raw_ohlcv", "completed_ohlcv", "fundamentals")
COMPLETION = dg.AssetSelection.assets("completed_ohlcv")
INDICATORS = dg.AssetSelection.assets("technical_indicators", "fundamental_indicators")
SCORING = dg.AssetSelection.assets("merged", "scores", "scores_table")

# (name, selection, description, calls the source). Completion may ask the source for the
# last traded bar of a stock with no stored history, so it counts as calling it. Partitioning
# is inferred from the assets: every one is on the trading-day partitions.
JOB_SPECS = (
    (
        "daily_data_sync_job",
        SYNC,
        "Sync the universe, raw bars and fundamentals; complete bars.",
        True,
    ),
    ("data_completion_job", COMPLETION, "Re-complete bars from stored raw partitions.", True),
    # technical_indicators takes window days never stored from the source (assets/indicators.py).
    ("indicator_calculation_job", INDICATORS, "Technical and fundamental indicators.", True),
    (
        "scoring_and_save_job",
        SCORING,
        "Merge, score and save (Parquet, Postgres if configured).",
        False,
    ),
    (
        "daily_full_pipeline_job",
        dg.AssetSelection.all(),
        "Everything, from source to scores.",
        True,
    ),
)
JOB_NAMES = [spec[0] for spec in JOB_SPECS]


def source_tags(kind: str) -> dict[str, str]:
    """Run tags of anything that calls source `kind` (the coordinator's concurrency key)."""
    return {SOURCE_TAG: kind}


def build_jobs(source_kind: str) -> list:
    """The five jobs; those touching the source are tagged with its kind."""
    tags = source_tags(source_kind)
    return [
        dg.define_asset_job(
            name, selection=selection, description=text, tags=tags if calls else None
        )
        for name, selection, text, calls in JOB_SPECS
    ]
