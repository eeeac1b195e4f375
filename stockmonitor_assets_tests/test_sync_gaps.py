"""No week-long gaps: every sync tick fetches the latest published session if it is missing.

Whatever day a cron tick falls on (holiday, weekend, the evening after the close), the
source assets are requested for the latest published trading day when that day is not
materialized yet, and never again once it is. Conditions are evaluated over simulated
clock ticks (Asia/Shanghai) on the real asset graph; materializations are reported to a
temp instance instead of running anything.
"""

import pytest

from stockmonitor_assets.jobs import SOURCE_ASSETS
from stockmonitor_assets_tests.test_jobs_automation import Clock, at, graph_assets, report


def synced_days(requested: dict[str, set[str]]) -> set[str]:
    """The days the tick syncs; every source asset must be requested for the same days."""
    per_asset = [requested.get(asset, set()) for asset in SOURCE_ASSETS]
    assert all(days == per_asset[0] for days in per_asset), requested
    return per_asset[0]


def store(instance, *days: str) -> None:
    for asset in SOURCE_ASSETS:
        report(instance, asset, *days)


@pytest.fixture
def clock(instance) -> Clock:
    return Clock(graph_assets(), instance)  # the default cron, 09:00 Mon-Fri


def test_first_holiday_tick_syncs_the_session_before_the_holiday_week(clock, instance):
    assert synced_days(clock.tick(at("2024-10-01", "08:00"))) == set()
    assert synced_days(clock.tick(at("2024-10-01", "09:00:30"))) == {"2024-09-30"}
    store(instance, "2024-09-30")
    for day in ("2024-10-02", "2024-10-03", "2024-10-04", "2024-10-07", "2024-10-08"):
        assert synced_days(clock.tick(at(day, "09:00:30"))) == set(), day
    assert synced_days(clock.tick(at("2024-10-09", "09:00:30"))) == {"2024-10-08"}


@pytest.mark.parametrize("present, expected", [(False, {"2024-09-30"}), (True, set())])
def test_a_tick_mid_holiday_syncs_the_last_session_only_if_it_is_missing(
    clock, instance, present, expected
):
    if present:
        store(instance, "2024-09-30")
    clock.tick(at("2024-10-03", "08:00"))
    assert synced_days(clock.tick(at("2024-10-03", "09:00:30"))) == expected


def test_a_failed_sync_is_requested_again_at_the_next_tick_not_before(clock, instance):
    clock.tick(at("2024-06-12", "08:00"))
    assert synced_days(clock.tick(at("2024-06-12", "09:00:30"))) == {"2024-06-11"}
    # Its run failed: nothing stored. No tick until tomorrow, then the same day again.
    assert synced_days(clock.tick(at("2024-06-12", "15:00"))) == set()
    assert synced_days(clock.tick(at("2024-06-13", "09:00:30"))) == {"2024-06-12"}


def test_weekend_tick_of_a_daily_cron_syncs_friday_once(instance):
    clock = Clock(graph_assets(cron="0 9 * * *"), instance)
    clock.tick(at("2024-06-15", "08:00"))
    assert synced_days(clock.tick(at("2024-06-15", "09:00:30"))) == {"2024-06-14"}
    store(instance, "2024-06-14")
    assert synced_days(clock.tick(at("2024-06-16", "09:00:30"))) == set()
    assert synced_days(clock.tick(at("2024-06-17", "09:00:30"))) == set()


def test_an_after_midnight_tick_syncs_the_day_and_the_morning_tick_does_not_resync_it(instance):
    # A session's partition exists from 00:00 after it (trading_calendar.py): an operator
    # wanting a day's data before the next morning adds a tick just after midnight.
    clock = Clock(graph_assets(cron="30 0,9 * * *"), instance)
    store(instance, "2024-06-11")
    clock.tick(at("2024-06-12", "08:00"))
    assert synced_days(clock.tick(at("2024-06-12", "09:00:30"))) == set()
    assert synced_days(clock.tick(at("2024-06-13", "00:30:30"))) == {"2024-06-12"}
    store(instance, "2024-06-12")
    assert synced_days(clock.tick(at("2024-06-13", "09:00:30"))) == set()
