"""Is the latest trading day's `scores` there on time?

The sync cron (09:00 Asia/Shanghai) fetches the previous trading day; its scores are due at
STOCKMONITOR_SCORES_DUE (default 10:30) on each trading day. Dagster's time-partition
freshness check would expect *today's* partition here (our partitions have end_offset=1),
so this check names the expected partition itself. It sets `dagster/fresh_until_timestamp`,
which lets `build_sensor_for_freshness_checks` re-run it only when it could be late again.
"""

import datetime as dt
import warnings
from zoneinfo import ZoneInfo

import dagster as dg

from stockmonitor_assets import settings
from stockmonitor_assets.trading_calendar import (
    TIMEZONE,
    partition_key,
    sessions,
    shanghai_now,
)

SHANGHAI = ZoneInfo(TIMEZONE)


def last_deadline(now: dt.datetime, due: dt.time) -> tuple[dt.datetime, dt.date]:
    """The latest due time at or before `now`, and the trading day whose scores it expects."""
    local = now.astimezone(SHANGHAI)
    days = sessions(local.date() - dt.timedelta(days=40), local.date())
    if dt.datetime.combine(days[-1], due, SHANGHAI) > local:
        days = days[:-1]
    return dt.datetime.combine(days[-1], due, SHANGHAI), days[-2]


def next_deadline(now: dt.datetime, due: dt.time) -> dt.datetime:
    """The first due time after `now`: when the check could fail again."""
    local = now.astimezone(SHANGHAI)
    days = sessions(local.date(), local.date() + dt.timedelta(days=40))
    return next(
        deadline
        for deadline in (dt.datetime.combine(d, due, SHANGHAI) for d in days)
        if deadline > local
    )


@dg.asset_check(
    asset="scores",
    name="scores_on_time",
    description="the previous trading day's scores exist by STOCKMONITOR_SCORES_DUE (10:30)",
)
def scores_on_time(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    now, due = (
        shanghai_now(),
        settings.time_setting(settings.SCORES_DUE, settings.DEFAULT_SCORES_DUE),
    )
    deadline, day = last_deadline(now, due)
    key = partition_key(day)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("scores"), asset_partitions=[key]), limit=1
    ).records
    late_minutes = 0.0 if records else (now - deadline).total_seconds() / 60
    return dg.AssetCheckResult(
        passed=bool(records),
        severity=dg.AssetCheckSeverity.WARN,
        description=f"scores[{key}] " + ("present" if records else f"missing since {deadline}"),
        metadata={
            "expected_partition": key,
            "deadline": deadline.isoformat(),
            "late_minutes": round(late_minutes, 1),
            "dagster/fresh_until_timestamp": dg.MetadataValue.timestamp(next_deadline(now, due)),
        },
    )


with warnings.catch_warnings():
    # "Superseded" by FreshnessPolicy, which judges the latest materialization of any
    # partition, not the partition that is due; this sensor schedules our own check.
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    scores_freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=[scores_on_time],
        name="scores_freshness_sensor",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
