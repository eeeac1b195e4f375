"""Asset jobs, named as users of the original scripts know them, all on trading-day partitions.

The source's limit is no job's business: the assets that call it are in one concurrency
pool (assets/partitions.py SOURCE_POOL), which binds every run whatever launched it.
"""

import dagster as dg

# The assets that copy the source's data of a day: automation syncs them on the cron.
SOURCE_ASSETS = ("instruments", "raw_ohlcv", "fundamentals")
# A sync: those and the bars' completion; each takes `target_stocks` (run_request.py).
SYNC_ASSETS = (*SOURCE_ASSETS, "completed_ohlcv")
SYNC = dg.AssetSelection.assets(*SYNC_ASSETS)
COMPLETION = dg.AssetSelection.assets("completed_ohlcv")
INDICATORS = dg.AssetSelection.assets("technical_indicators", "fundamental_indicators")
SCORING = dg.AssetSelection.assets("merged", "scores", "daily_report")
# Executable only where configured: a database (DB_HOST), a local qlib directory.
SAVING = dg.AssetSelection.assets("scores_table")
EXPORT = dg.AssetSelection.assets("qlib_provider")

# (name, selection, description). Partitioning is inferred from the assets: every one is on
# the trading-day partitions.
JOB_SPECS = (
    (
        "daily_data_sync_job",
        SYNC,
        "Sync the universe, raw bars and fundamentals; complete bars.",
    ),
    ("data_completion_job", COMPLETION, "Re-complete bars from stored raw partitions."),
    ("indicator_calculation_job", INDICATORS, "Technical and fundamental indicators."),
    (
        "scoring_and_save_job",
        SCORING,
        "Merge, score, save (Parquet, Postgres if configured, qlib directory) and report.",
    ),
    (
        "daily_full_pipeline_job",
        dg.AssetSelection.all(),
        "Everything, from source to scores.",
    ),
)
JOB_NAMES = [spec[0] for spec in JOB_SPECS]


def build_jobs(saves_scores: bool, keeps_qlib: bool) -> list:
    """The five jobs; scoring also saves to Postgres and to the qlib directory where they
    are configured (a job may not select an asset that cannot run)."""
    scoring = SCORING
    if saves_scores:
        scoring = scoring | SAVING
    if keeps_qlib:
        scoring = scoring | EXPORT
    return [
        dg.define_asset_job(
            name, selection=scoring if selection is SCORING else selection, description=text
        )
        for name, selection, text in JOB_SPECS
    ]
