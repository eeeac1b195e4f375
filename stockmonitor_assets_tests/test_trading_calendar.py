"""The shared trading-day partitions: keys are exactly the XSHG sessions from the history
start, and beyond the recorded years; only closed sessions are keys (see
test_closed_sessions.py for the simulated clock)."""

import datetime as dt
import os
import subprocess
import sys

import exchange_calendars as xcals
import pytest

from stockmonitor_assets import settings
from stockmonitor_assets import trading_calendar as tc

P = tc.trading_day_partitions


def _keys(start: str, end: str) -> list[str]:
    keys = P.get_partition_keys(current_time=dt.datetime(2027, 3, 1))
    return [k for k in keys if start <= k <= end]


def test_2024_has_242_keys_and_none_on_national_day_or_weekends():
    keys = _keys("2024-01-01", "2024-12-31")
    assert len(keys) == 242
    assert "2024-10-01" not in keys
    assert all(dt.date.fromisoformat(k).weekday() < 5 for k in keys)


def test_keys_equal_the_xshg_sessions_exchange_calendars_records():
    calendar = xcals.get_calendar("XSHG", start=tc.PARTITIONS_START.isoformat())
    sessions = [s.strftime("%Y-%m-%d") for s in calendar.sessions]
    assert _keys(sessions[0], sessions[-1]) == sessions


def test_past_the_recorded_years_weekdays_are_keys():
    assert tc.RECORDED_THROUGH == dt.date(2026, 12, 31)
    keys = _keys("2027-01-04", "2027-01-08")
    assert keys == ["2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07", "2027-01-08"]


def test_a_user_holiday_list_removes_days_without_a_code_change(tmp_path):
    holidays = tmp_path / "holidays.txt"
    holidays.write_text("# Spring Festival 2027 (example)\n2027-02-08\n2027-02-09\n")
    env = {
        **os.environ,
        "STOCKMONITOR_HOLIDAYS_FILE": str(holidays),
        "STOCKMONITOR_HOLIDAYS": "2027-01-05",
    }
    code = (
        "import datetime as dt; from stockmonitor_assets import trading_calendar as tc;"
        "keys = tc.trading_day_partitions.get_partition_keys(current_time=dt.datetime(2027, 3, 1));"
        "print(','.join(k for k in keys if '2027-01-04' <= k <= '2027-02-10'))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    keys = out.stdout.strip().split(",")
    assert "2027-01-05" not in keys and "2027-02-08" not in keys and "2027-02-09" not in keys
    assert "2027-01-04" in keys and "2027-02-10" in keys


def test_bad_holiday_entry_names_the_origin():
    with pytest.raises(ValueError, match="STOCKMONITOR_HOLIDAYS: bad holiday date"):
        settings.parse_holidays("2027-02-30", "STOCKMONITOR_HOLIDAYS")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-10-01", "not an XSHG trading day; nearest trading days: 2024-09-30 and 2024-10-08"),
        ("2024-06-15", "2024-06-14 and 2024-06-17"),
        ("2004-12-31", "before the first partition 2005-01-04"),
        ("2024/01/02", "not a date"),
    ],
)
def test_parse_trading_day_names_the_problem(value, message):
    with pytest.raises(tc.NotATradingDayError, match=message):
        tc.parse_trading_day(value)


def test_sessions_match_partition_keys():
    days = tc.sessions(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert [d.isoformat() for d in days] == _keys("2024-01-01", "2024-12-31")


def test_history_starts_on_2005_01_04_by_default():
    assert tc.PARTITIONS_START == dt.date(2005, 1, 4)
    keys = P.get_partition_keys(current_time=dt.datetime(2027, 3, 1))
    assert keys[0] == "2005-01-04"
    assert len([k for k in keys if k < "2027-01-01"]) == len(
        xcals.get_calendar("XSHG", start="2005-01-04", end="2026-12-31").sessions
    )


def _first_key_with(history_start: str) -> subprocess.CompletedProcess:
    code = (
        "import datetime as dt; from stockmonitor_assets import trading_calendar as tc;"
        "P = tc.trading_day_partitions;"
        "print(P.get_partition_keys(current_time=dt.datetime(2025, 1, 1))[0])"
    )
    env = {**os.environ, "STOCKMONITOR_HISTORY_START": history_start}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_history_start_is_configurable():
    out = _first_key_with("2019-01-02")
    assert out.stdout.strip() == "2019-01-02", out.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "2024-10-01",
            "STOCKMONITOR_HISTORY_START=2024-10-01 is not an XSHG trading day; "
            "nearest trading days: 2024-09-30 and 2024-10-08",
        ),
        ("2005-1-4x", "STOCKMONITOR_HISTORY_START='2005-1-4x' is not a date"),
        ("1989-01-03", "is before the first XSHG session 1990-12-19"),
    ],
)
def test_a_bad_history_start_fails_naming_the_variable(value, message):
    out = _first_key_with(value)
    assert out.returncode != 0
    assert message in out.stderr.strip().splitlines()[-1]


def test_the_calendar_knows_the_demo_epoch_whatever_the_history_start():
    # The demo market's calendar must not change with the partitions' start.
    code = (
        "import datetime as dt; from stockmonitor_assets import trading_calendar as tc;"
        "print(len(tc.calendar_sessions(dt.date(2005, 1, 1), dt.date(2005, 12, 31))),"
        " len(tc.sessions(dt.date(2005, 1, 1), dt.date(2005, 12, 31))))"
    )
    env = {**os.environ, "STOCKMONITOR_HISTORY_START": "2019-01-02"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["242", "0"], out.stderr
