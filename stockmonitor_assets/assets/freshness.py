"""Is the latest trading day's `scores` there on time?

The sync cron (09:00 Asia/Shanghai) fetches the previous trading day; its scores are due at
STOCKMONITOR_SCORES_DUE (default 10:30) on each trading day. The day expected is never later
than the latest day the configured source has published (`latest_published_day`): a
historical `files` dataset is on time when its last day is scored, whatever today's date.
Dagster's time-partition freshness check expects the partition of the latest complete time
window and knows nothing of the source's latest day, so this check names the expected
partition itself. It sets
`dagster/fresh_until_timestamp`, which lets `build_sensor_for_freshness_checks` re-run it
only when it could be late again.
"""

import datetime as dt
import warnings

import dagster as dg

from stockmonitor_assets.resources import MarketDataResource
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.trading_calendar import (
    SHANGHAI,
    partition_key,
    sessions,
    shanghai_now,
)


def last_deadline(now: dt.datetime, due: dt.time) -> tuple[dt.datetime, dt.date]:
    """The latest due time at or before `now`, and the trading day whose scores it expects."""
    local = now.astimezone(SHANGHAI)
    days = sessions(local.date() - dt.timedelta(days=40), local.date())
    if dt.datetime.combine(days[-1], due, SHANGHAI) > local:
        days = days[:-1]
    return dt.datetime.combine(days[-1], due, SHANGHAI), days[-2]


def expected_scores(
    now: dt.datetime, due: dt.time, published: dt.date | None
) -> tuple[dt.datetime, dt.date]:
    """(deadline, day): the wall clock's expectation, capped at the source's latest day.

    For a source that stopped publishing (a historical dataset), the day is its last one,
    due at `due` on the session after it.
    """
    deadline, day = last_deadline(now, due)
    if published is None or published >= day:
        return deadline, day
    following = sessions(published + dt.timedelta(days=1), published + dt.timedelta(days=40))
    return dt.datetime.combine(following[0], due, SHANGHAI), published


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
    description=(
        "the previous trading day's scores exist by STOCKMONITOR_SCORES_DUE (10:30); "
        "never a day later than the source's latest published day"
    ),
)
def scores_on_time(
    context: dg.AssetCheckExecutionContext, market_data: MarketDataResource, settings: Settings
) -> dg.AssetCheckResult:
    now, due = shanghai_now(), settings.scores_due_time
    published, unreachable = _source_latest_day(market_data)
    deadline, day = expected_scores(now, due, published)
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
            "source_latest_day": published.isoformat() if published else "none",
            "source_error": unreachable or "none",
            "deadline": deadline.isoformat(),
            "late_minutes": round(late_minutes, 1),
            "dagster/fresh_until_timestamp": dg.MetadataValue.timestamp(next_deadline(now, due)),
        },
    )


def _source_latest_day(market_data: MarketDataResource) -> tuple[dt.date | None, str | None]:
    """The source's latest published day; None (the calendar decides) when the source cannot
    say: a broken source must turn this check red, not stop it from being evaluated."""
    try:
        return market_data.client().latest_published_day(), None
    except Exception as exc:  # noqa: BLE001 - reported in the check's metadata
        return None, f"{type(exc).__name__}: {str(exc)[:200]}"


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
