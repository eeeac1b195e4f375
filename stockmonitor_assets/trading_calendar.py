"""XSHG trading days, and the one partitions definition every asset shares.

Keys are exactly the XSHG sessions (`%Y-%m-%d`, Asia/Shanghai) from the history start
(STOCKMONITOR_HISTORY_START, default 2005-01-04, the start of RQDatac's daily bars) to the
latest *finished* session: the partition set never holds a day that has not closed, and
weekends and holidays never expose the next session. Two moments, one home each:

- SESSION_CLOSE (15:00 Asia/Shanghai): a session's data exists from its close on
  (`latest_closed_session`; the demo source publishes then).
- the end of the day (00:00 after the session): its key joins the partition set
  (`latest_partition_day`, `recent_range`, what the UI offers and backfills reach).

Why a key appears at the day's end and not at 15:00 (measured, Dagster 1.13.27): the
definition is a midnight `DailyPartitionsDefinition` with `end_offset=0` and weekends and
holidays excluded, so key D is listed once its window [D 00:00, D+1 00:00) has ended.
`end_offset=1` (used until 2026-11) lists Monday on Sunday; `hour_offset=15` with
`end_offset=1` lists the next session from 15:00 on any closed day (Saturday 15:00 ->
Monday; a holiday 15:00 -> the day after the holiday week), since Dagster counts the offset
in non-excluded windows past the last complete one. The exact alternative, windows
[D 00:00, D 15:00) from a `0 0,15 * * 1-5` cron with the 15:00 windows excluded, is right
but Dagster iterates such a cron through croniter: listing the ~5,300 keys took 9x as long
and a one-day run of a 250-day window mapping ~1.6 s more (bench/RESULTS.md). The daily
sync runs at 09:00 the next morning, so automation never waits for the later key.

Holidays come from exchange_calendars (which records XSHG only through its last published
year, 2026 in 4.13) plus a user-supplied list for later years, read from
STOCKMONITOR_HOLIDAYS (comma-separated dates) and STOCKMONITOR_HOLIDAYS_FILE (one date per
line, `#` comments). Beyond the recorded years every weekday is a key unless listed; at run
time the source's own trading days are the final word (see assets).

The history start and the user's holidays are read when this module is imported: Dagster's
decorators need the partitions definition when the asset modules are defined. They go
through the parsers of `settings` (`Settings.from_env` validates the same variables).
"""

import datetime as dt
import functools
import importlib.metadata
import os
from zoneinfo import ZoneInfo

import dagster as dg

from stockmonitor_assets import settings

TIMEZONE = "Asia/Shanghai"
KEY_FORMAT = "%Y-%m-%d"
# A session's data exists from its close; see the module docstring. Whole hours only (cron).
SESSION_CLOSE = dt.time(15, 0)
EXCHANGE_FIRST_SESSION = settings.EXCHANGE_FIRST_SESSION
SHANGHAI = ZoneInfo(TIMEZONE)


class NotATradingDayError(ValueError):
    """A date given by the user is not an XSHG trading day."""


def _weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    days = (start + dt.timedelta(n) for n in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5]


# The first day the calendar knows: the demo market always starts at the default history
# start, whatever the partitions' start, so both are covered.
CALENDAR_START = min(settings.history_start(), settings.DEFAULT_HISTORY_START)


def exchange_calendar_holidays() -> tuple[list[dt.date], dt.date]:
    """Weekday closures exchange_calendars records for XSHG, and the last day it records."""
    import exchange_calendars as xcals

    calendar = xcals.get_calendar("XSHG", start=CALENDAR_START.isoformat())
    last = calendar.last_session.date()
    open_days = {ts.date() for ts in calendar.sessions}
    return [d for d in _weekdays(CALENDAR_START, last) if d not in open_days], last


def _recorded_holidays() -> tuple[list[dt.date], dt.date]:
    """exchange_calendars' holidays, cached per installed version.

    Importing exchange_calendars costs ~0.7 s; the cache keeps loading the code location
    fast. A new exchange_calendars version gets a new cache file, so it is never stale.
    """
    version = importlib.metadata.version("exchange-calendars")
    cache = settings.cache_home() / "stockmonitor" / f"xshg-holidays-{version}-{CALENDAR_START}.txt"
    try:
        *days, last = settings.parse_holidays(cache.read_text(), str(cache))
        return days, last
    except (OSError, ValueError):
        days, last = exchange_calendar_holidays()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text("\n".join(d.isoformat() for d in [*days, last]))
        tmp.replace(cache)
    except OSError:
        pass  # an unwritable cache only costs speed
    return days, last


RECORDED_HOLIDAYS, RECORDED_THROUGH = _recorded_holidays()
HOLIDAYS = frozenset(RECORDED_HOLIDAYS) | frozenset(settings.user_holidays())


def calendar_sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    """XSHG sessions in [start, end] as far back as the calendar knows (CALENDAR_START),
    whatever the partitions' start: the demo market's calendar must not depend on it."""
    return [d for d in _weekdays(max(start, CALENDAR_START), end) if d not in HOLIDAYS]


def nearest_sessions(day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The sessions just before and just after `day` (None past the calendar's start)."""
    before = calendar_sessions(day - dt.timedelta(days=40), day - dt.timedelta(days=1))
    after = calendar_sessions(day + dt.timedelta(days=1), day + dt.timedelta(days=40))
    return (before[-1] if before else None), (after[0] if after else None)


def _history_start() -> dt.date:
    """STOCKMONITOR_HISTORY_START, which must be an XSHG session."""
    day = settings.history_start()
    if not calendar_sessions(day, day):
        before, after = nearest_sessions(day)
        raise ValueError(
            f"{settings.HISTORY_START}={day} is not an XSHG trading day; "
            f"nearest trading days: {before} and {after}"
        )
    return day


PARTITIONS_START = _history_start()


def _partitions(start: dt.date, holidays: frozenset[dt.date]) -> dg.DailyPartitionsDefinition:
    """Keys = sessions from `start`; key D is listed from D+1 00:00 (its window's end)."""
    return dg.DailyPartitionsDefinition(
        start_date=start.isoformat(),
        timezone=TIMEZONE,
        fmt=KEY_FORMAT,
        end_offset=0,
        exclusions=["0 0 * * 6,0", *(dt.datetime.combine(d, dt.time()) for d in sorted(holidays))],
    )


trading_day_partitions = _partitions(PARTITIONS_START, HOLIDAYS)


def is_trading_day(day: dt.date) -> bool:
    return day >= PARTITIONS_START and day.weekday() < 5 and day not in HOLIDAYS


def sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    """Trading days in [start, end] that are partitions (from PARTITIONS_START), both included."""
    return calendar_sessions(max(start, PARTITIONS_START), end)


@functools.lru_cache(maxsize=8)
def sessions_through(end: dt.date) -> tuple[dt.date, ...]:
    """Every trading day from the first partition to `end`; cached since indicators ask often."""
    return tuple(sessions(PARTITIONS_START, end))


def nearest_trading_days(day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The trading days just before and just after `day` (None past the ends)."""
    before, after = nearest_sessions(day)
    return (before if before and before >= PARTITIONS_START else None), after


def parse_trading_day(value: str) -> dt.date:
    """A user-given date that must be a trading day; the error names the nearest ones."""
    try:
        day = dt.datetime.strptime(value.strip(), KEY_FORMAT).date()
    except ValueError:
        raise NotATradingDayError(f"{value!r} is not a date (expected YYYY-MM-DD)") from None
    if day < PARTITIONS_START:
        raise NotATradingDayError(
            f"{day} is before the first partition {PARTITIONS_START} "
            f"(set {settings.HISTORY_START} to go further back)"
        )
    if not is_trading_day(day):
        before, after = nearest_trading_days(day)
        raise NotATradingDayError(
            f"{day} is not an XSHG trading day; nearest trading days: {before} and {after}"
        )
    return day


def partition_key(day: dt.date) -> str:
    return day.strftime(KEY_FORMAT)


def partition_date(key: str) -> dt.date:
    return dt.datetime.strptime(key, KEY_FORMAT).date()


def shanghai_now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


def as_shanghai(moment: dt.datetime) -> dt.datetime:
    """`moment` in Asia/Shanghai; a naive one is taken to be Shanghai time already."""
    return moment.astimezone(SHANGHAI) if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def latest_closed_session(now: dt.datetime | None = None) -> dt.date:
    """The last session whose close (SESSION_CLOSE) is at or before `now`: the last day a
    source has data for."""
    now = as_shanghai(now or shanghai_now())
    last = now.date() if now.time() >= SESSION_CLOSE else now.date() - dt.timedelta(days=1)
    return calendar_sessions(last - dt.timedelta(days=40), last)[-1]


def latest_partition_day(now: dt.datetime | None = None) -> dt.date:
    """The last key of `trading_day_partitions` at `now`: the last session before today."""
    yesterday = as_shanghai(now or shanghai_now()).date() - dt.timedelta(days=1)
    return calendar_sessions(yesterday - dt.timedelta(days=40), yesterday)[-1]


# What the scheduled sync fetches: the latest partition (at 09:00, the previous session).
latest_published_day = latest_partition_day


def recent_range(days: int, now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """The last `days` partition days (sessions before today), as (first, last)."""
    last = latest_partition_day(now)
    window = calendar_sessions(last - dt.timedelta(days=2 * days + 30), last)
    if len(window) < days:
        raise ValueError(f"the last {days} sessions reach before {CALENDAR_START}")
    return window[-days], last
