"""The code location: every asset, check, job, sensor and resource of stockmonitor.

Built by `build_defs()` so the CLI (and tests) can rebuild it after changing the
environment; `dagster dev` and the daemon load `defs`.
"""

import dagster as dg

from stockmonitor_assets import alerts, settings
from stockmonitor_assets.assets import (
    database,
    freshness,
    indicators,
    market,
    qlib_export,
    report,
    scoring,
)
from stockmonitor_assets.assets.metadata import with_column_schemas
from stockmonitor_assets.automation import automation_sensor, with_automation
from stockmonitor_assets.database import postgres_from_env
from stockmonitor_assets.guards import guarded_in_process_executor
from stockmonitor_assets.health.sensor import run_health_asset, run_health_sensor
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.jobs import build_jobs
from stockmonitor_assets.resources import fixed_by_environment, market_data_from_env
from stockmonitor_assets.thresholds import thresholds_from_env


def build_defs() -> dg.Definitions:
    """The Definitions as the current environment configures them."""
    saves_scores = settings.database_configured()
    modules = [market, indicators, scoring, qlib_export, report]
    if saves_scores:
        modules.append(database)
    assets = with_automation(with_column_schemas(dg.load_assets_from_modules(modules)))
    if not saves_scores:
        assets.append(database.unconfigured_scores_table())
    return dg.Definitions(
        assets=[*assets, run_health_asset],
        asset_checks=[freshness.scores_on_time],
        jobs=build_jobs(saves_scores),
        sensors=[
            automation_sensor(),
            freshness.scores_freshness_sensor,
            alerts.run_failure_alert,
            run_health_sensor,
        ],
        # Run config cannot redirect a resource (or its credentials) anywhere else.
        resources=fixed_by_environment(
            {
                "io_manager": PartitionedParquetIOManager(
                    base_dir=settings.data_dir(), chunk_days=settings.chunk_days()
                ),
                "market_data": market_data_from_env(),
                "database": postgres_from_env(),
            }
        )
        # Thresholds are no destination or secret: run config may tighten or relax them.
        | {"quality": thresholds_from_env()},
        # In process, behind the run guard that every door passes (guards.py).
        executor=guarded_in_process_executor,
    )


defs = build_defs()
