"""When assets refresh by themselves: automation conditions, and the sensor that runs them.

Source assets (instruments, raw_ohlcv, fundamentals) are requested on the sync cron
(STOCKMONITOR_SYNC_CRON, default 09:00 Mon-Fri Asia/Shanghai) for the latest *published*
trading day, whenever that day is not materialized yet, whatever day the tick falls on:
the session before a holiday week is synced at the first tick after it is published, not a
week later. A day already materialized is never synced again by automation (a backfill or
a manual run re-syncs it). The partitions definition has `end_offset=0`, so at 09:00 on
trading day T its latest key is the session before T, the day the sync fetches: the latest
published day is Dagster's `in_latest_time_window()` (the one home of which keys exist,
`trading_calendar`, names the same day `latest_published_day`). Everything downstream is
eager, so indicators and scores follow as soon as their inputs land.

Every condition is Dagster's own, so the daemon evaluates them itself. A custom condition
(Python) would need `use_user_code_server=True`: each 30-s tick's whole evaluation then
crosses gRPC as JSON, and each serialized partition subset carries the partitions
definition with its ~400 holidays (~38 KB): 0.5-8 MB an asset (bench/RESULTS.md §14).
The sensor is RUNNING by default, unlike Dagster's implicit
`default_automation_condition_sensor`, which starts STOPPED.
"""

import datetime as dt
from collections.abc import Iterable

import dagster as dg

from stockmonitor_assets.jobs import SOURCE_ASSETS
from stockmonitor_assets.trading_calendar import TIMEZONE

SENSOR_NAME = "stockmonitor_automation"
# The oldest partition eager assets still follow: at least the longest XSHG closure
# (Spring Festival: 11 days from the last session before it to the first one after).
EAGER_LOOKBACK = dt.timedelta(days=15)


def latest_published_partition() -> dg.AutomationCondition:
    """The partition of the latest published trading day: the partitions definition's latest
    key at the evaluation time (`trading_calendar.latest_published_day`), so Dagster's own
    condition says it and the daemon evaluates it without the code server."""
    return dg.AutomationCondition.in_latest_time_window().with_label("latest_published_trading_day")


def sync_condition(cron: str) -> dg.AutomationCondition:
    """At each cron tick, the latest published trading day if it is missing and not in a run."""
    return (
        dg.AutomationCondition.cron_tick_passed(cron, TIMEZONE)
        & latest_published_partition()
        & dg.AutomationCondition.missing()
        & ~dg.AutomationCondition.in_progress()
    ).with_label(f"daily sync ({cron} {TIMEZONE})")


def downstream_condition() -> dg.AutomationCondition:
    """`eager()`, reaching back past closures, and held while an upstream blocking check fails.

    Plain `eager()` only considers the latest key (the session before today, `end_offset=0`),
    so a day whose inputs land after the next session has ended (a late or retried sync, a
    backfill of the last days) would never be followed; EAGER_LOOKBACK reaches back past the
    longest closure. "Held while failed" rather than Dagster's
    `all_deps_blocking_checks_passed()`: a single-run range (how history is backfilled)
    records one check result per check for the whole range, not one per partition, so
    "passed" is never true per partition there and the first sync after a backfill would
    wait forever. Inside a run, blocking checks still stop downstream steps.
    """
    eager = dg.AutomationCondition.eager().replace(
        "in_latest_time_window",
        dg.AutomationCondition.in_latest_time_window(lookback_delta=EAGER_LOOKBACK),
    )
    return (eager & ~upstream_blocking_check_failed()).with_label(
        "eager, no upstream blocking check failed"
    )


def upstream_blocking_check_failed() -> dg.AutomationCondition:
    """A dependency's latest materialization failed one of its blocking checks."""
    failed = dg.AutomationCondition.any_checks_match(
        dg.AutomationCondition.check_failed(), blocking_only=True
    )
    return dg.AutomationCondition.any_deps_match(failed).with_label(
        "upstream_blocking_check_failed"
    )


def with_automation(assets: Iterable[dg.AssetsDefinition], cron: str) -> list[dg.AssetsDefinition]:
    """`assets` with the sync condition (on `cron`, `Settings.sync_cron`) on the source
    assets and eager ones downstream."""
    sync = sync_condition(cron)
    eager = downstream_condition()

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        condition = sync if spec.key.path[-1] in SOURCE_ASSETS else eager
        return spec.replace_attributes(automation_condition=condition)

    return list(dg.map_asset_specs(attach, list(assets)))


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """The one sensor: evaluates every asset's condition; RUNNING as soon as the daemon runs."""
    return dg.AutomationConditionSensorDefinition(
        SENSOR_NAME,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Daily sync on the cron, everything downstream eager.",
    )
