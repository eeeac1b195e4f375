"""Only finished sessions are partitions: on a simulated clock, the last key of the
partition set (what the UI offers, and what a backfill can reach) is the latest session
before today (Asia/Shanghai), never a session that has not closed, never the next session
on a weekend or holiday; `latest_partition_day` / `recent_range` agree with it, and
`latest_closed_session` (the 15:00 close, when a source has the data) is never behind it.

Dagster is asked the way the UI and backfills ask: `get_last_partition_key` inside
`partition_loading_context(effective_dt=...)`, and `get_partition_keys(current_time=...)`.
"""

import datetime as dt
import random
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from stockmonitor_assets import trading_calendar as tc
from stockmonitor_assets.run_request import RunRequestError, select_partitions

P = tc.trading_day_partitions
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)


def last_key(now: dt.datetime) -> str:
    with dg.partition_loading_context(effective_dt=now):
        return P.get_last_partition_key()


CASES = [
    ("Friday 14:59, before the close", "2024-06-14 14:59", "2024-06-13", "2024-06-13"),
    ("Friday 15:00, at the close", "2024-06-14 15:00", "2024-06-13", "2024-06-14"),
    ("Friday evening", "2024-06-14 21:30", "2024-06-13", "2024-06-14"),
    ("Saturday 00:00", "2024-06-15 00:00", "2024-06-14", "2024-06-14"),
    ("Saturday after 15:00", "2024-06-15 16:00", "2024-06-14", "2024-06-14"),
    ("Sunday evening", "2024-06-16 23:59", "2024-06-14", "2024-06-14"),
    ("Monday before the close", "2024-06-17 14:00", "2024-06-14", "2024-06-14"),
    ("Monday after the close", "2024-06-17 15:01", "2024-06-14", "2024-06-17"),
    ("Tuesday 00:00", "2024-06-18 00:00", "2024-06-17", "2024-06-17"),
    ("day before the National Day week, evening", "2024-09-30 15:30", "2024-09-27", "2024-09-30"),
    ("National Day, afternoon", "2024-10-01 16:00", "2024-09-30", "2024-09-30"),
    ("last holiday of the week", "2024-10-07 20:00", "2024-09-30", "2024-09-30"),
    ("first session after the week, closed", "2024-10-08 15:00", "2024-09-30", "2024-10-08"),
    ("the day after it", "2024-10-09 00:00", "2024-10-08", "2024-10-08"),
    ("Spring Festival", "2024-02-12 16:00", "2024-02-08", "2024-02-08"),
    (
        "Sunday 2026-11-29 (end_offset=1 listed Monday)",
        "2026-11-29 12:00",
        "2026-11-27",
        "2026-11-27",
    ),
]


@pytest.mark.parametrize(("label", "now", "key", "closed"), CASES, ids=[c[0] for c in CASES])
def test_last_key_is_the_latest_session_before_today_and_never_an_unclosed_one(
    label, now, key, closed
):
    assert last_key(at(now)) == key
    assert tc.latest_partition_day(at(now)).isoformat() == key
    assert tc.latest_closed_session(at(now)).isoformat() == closed
    assert key <= closed


@pytest.mark.parametrize(
    "now", ["2024-06-15 16:00", "2024-10-01 16:00", "2024-06-14 14:59", "2024-06-18 00:00"]
)
def test_the_key_list_the_ui_shows_ends_at_the_latest_partition_day(now):
    keys = P.get_partition_keys(current_time=at(now))
    assert keys[-1] == tc.latest_partition_day(at(now)).isoformat()


def test_on_every_hour_of_a_holiday_season_no_key_exceeds_the_latest_closed_session():
    start = at("2024-09-26 00:00")
    for hour in range(15 * 24):  # 2024-09-26 .. 2024-10-10, National Day week included
        now = start + dt.timedelta(hours=hour, minutes=random.Random(hour).choice([0, 59]))
        assert last_key(now) == tc.latest_partition_day(now).isoformat(), now
        assert last_key(now) <= tc.latest_closed_session(now).isoformat(), now


def test_at_random_moments_since_2005_the_two_agree():
    rng = random.Random(20241008)
    first = at("2005-01-05 00:00").timestamp()
    for _ in range(300):
        now = dt.datetime.fromtimestamp(rng.uniform(first, at("2026-12-31 23:00").timestamp()))
        now = now.astimezone(SHANGHAI)
        assert last_key(now) == tc.latest_partition_day(now).isoformat(), now


def test_a_utc_clock_is_read_in_shanghai_time():
    # 16:00 UTC is 00:00 the next day in Shanghai: Friday's key has appeared.
    utc = dt.datetime(2024, 6, 14, 16, 0, tzinfo=dt.UTC)
    assert tc.latest_partition_day(utc) == dt.date(2024, 6, 14)
    assert last_key(utc) == "2024-06-14"
    assert tc.latest_closed_session(dt.datetime(2024, 6, 14, 7, 0, tzinfo=dt.UTC)) == dt.date(
        2024, 6, 14
    )


def test_recent_range_ends_at_the_latest_partition_day():
    assert tc.recent_range(3, at("2024-10-07 20:00")) == (
        dt.date(2024, 9, 26),
        dt.date(2024, 9, 30),
    )
    assert tc.recent_range(1, at("2024-10-09 00:00")) == (
        dt.date(2024, 10, 8),
        dt.date(2024, 10, 8),
    )


def test_a_key_window_is_its_calendar_day():
    window = P.time_window_for_partition_key("2024-06-14")
    assert (window.start, window.end) == (at("2024-06-14 00:00"), at("2024-06-15 00:00"))


def mapped(mapping: dg.TimeWindowPartitionMapping, keys: list[str], upstream: bool) -> list[str]:
    with dg.partition_loading_context(effective_dt=at("2024-10-10 16:00")):
        subset = P.subset_with_partition_keys(keys)
        if upstream:
            result = mapping.get_upstream_mapped_partitions_result_for_partitions(subset, P, P)
            return list(result.partitions_subset.get_partition_keys())
        return list(
            mapping.get_downstream_partitions_for_partitions(subset, P, P).get_partition_keys()
        )


def test_the_previous_day_mapping_steps_over_weekends_and_holidays():
    previous = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
    assert mapped(previous, ["2024-10-08"], upstream=True) == ["2024-09-30"]
    assert mapped(previous, ["2024-06-17"], upstream=True) == ["2024-06-14"]
    assert mapped(previous, ["2024-09-30"], upstream=False) == ["2024-10-08"]


def test_a_trailing_window_counts_sessions_and_never_maps_past_the_last_key():
    window = dg.TimeWindowPartitionMapping(start_offset=-249)
    upstream = mapped(window, ["2024-10-08"], upstream=True)
    assert len(upstream) == 250 and upstream[-1] == "2024-10-08"
    assert (
        upstream
        == [d.isoformat() for d in tc.sessions(dt.date(2023, 9, 1), dt.date(2024, 10, 8))][-250:]
    )
    downstream = mapped(window, ["2024-10-08"], upstream=False)
    # now 2024-10-10 16:00: 10-10 has closed, but its key appears at midnight
    assert downstream[0] == "2024-10-08" and downstream[-1] == "2024-10-09"


def test_a_run_for_today_is_refused_until_its_partition_appears():
    with pytest.raises(RunRequestError, match="2024-06-14 has no partition yet"):
        select_partitions(partition="2024-06-14", now=at("2024-06-14 16:00"))
    today = select_partitions(partition="2024-06-14", now=at("2024-06-15 00:00"))
    assert today.days == (dt.date(2024, 6, 14),)
    assert select_partitions(days_back=1, now=at("2024-10-07 20:00")).last == dt.date(2024, 9, 30)
