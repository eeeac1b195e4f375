"""The code location: every asset, check, job, sensor and resource of stockmonitor.

Built by `build_defs(settings)` from one `settings_resource.Settings` (by default the environment's,
parsed once here: a bad variable fails the load with every bad one named), so the CLI and
tests can rebuild it; `dagster dev` and the daemon load `defs`. Resources are built from
the settings' fields, and assets and sensors that need a value mid-run receive them as
the fixed resource `settings`.
"""

import dagster as dg

from stockmonitor_assets import alerts
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
from stockmonitor_assets.database import postgres_from
from stockmonitor_assets.guards import guarded_in_process_executor
from stockmonitor_assets.health.sensor import run_health_asset, run_health_sensor
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.jobs import build_jobs
from stockmonitor_assets.resources import fixed_by_environment, market_data_from
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.thresholds import thresholds_from


def build_defs(settings: Settings | None = None) -> dg.Definitions:
    """The Definitions `settings` configure (default: `Settings.from_env()`)."""
    settings = Settings.from_env() if settings is None else settings
    saves_scores, keeps_qlib = settings.database_configured, settings.qlib_dir is not None
    modules = [market, indicators, scoring, report]
    modules += [database] if saves_scores else []
    modules += [qlib_export] if keeps_qlib else []
    assets = with_automation(
        with_column_schemas(dg.load_assets_from_modules(modules)), settings.sync_cron
    )
    # What is not configured stays in the graph, not executable (never "materialized").
    assets += [] if saves_scores else [database.unconfigured_scores_table()]
    assets += [] if keeps_qlib else [qlib_export.unkept_qlib_provider()]
    return dg.Definitions(
        assets=[*assets, run_health_asset],
        asset_checks=[freshness.scores_on_time],
        jobs=build_jobs(saves_scores, keeps_qlib),
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
                    base_dir=settings.data_dir,
                    chunk_days=settings.chunk_days,
                    run_health=settings.run_health,
                ),
                "market_data": market_data_from(settings),
                "database": postgres_from(settings),
                "settings": settings,
            }
        )
        # Thresholds are no destination or secret: run config may tighten or relax them.
        | {"quality": thresholds_from(settings)},
        # In process, behind the run guard that every door passes (guards.py).
        executor=guarded_in_process_executor(settings),
    )


defs = build_defs()
