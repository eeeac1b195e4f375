"""XSHG trading days, and the one partitions definition every asset shares.

Holidays come from exchange_calendars (which records XSHG only through its last
published year, 2026 in 4.13) plus a user-supplied list for later years, read from
STOCKMONITOR_HOLIDAYS (comma-separated dates) and STOCKMONITOR_HOLIDAYS_FILE (one date
per line, `#` comments). Beyond the recorded years every weekday is a key unless listed;
at run time the source's own trading days are the final word (see assets).

Partition keys are built with a weekend cron exclusion plus holiday datetimes rather than
a Mon-Fri cron, so Friday's partition is complete on Saturday 00:00 (a Mon-Fri cron would
close Friday's window only on Monday).
"""

import datetime as dt
import functools
import importlib.metadata
import os
from pathlib import Path

import dagster as dg

from stockmonitor_assets import settings

PARTITIONS_START = dt.date(2015, 1, 5)
TIMEZONE = "Asia/Shanghai"
KEY_FORMAT = "%Y-%m-%d"


class NotATradingDayError(ValueError):
    """A date given by the user is not an XSHG trading day."""


def _weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    days = (start + dt.timedelta(n) for n in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5]


def exchange_calendar_holidays() -> tuple[list[dt.date], dt.date]:
    """Weekday closures exchange_calendars records for XSHG, and the last day it records."""
    import exchange_calendars as xcals

    calendar = xcals.get_calendar("XSHG", start=PARTITIONS_START.isoformat())
    last = calendar.last_session.date()
    open_days = {ts.date() for ts in calendar.sessions}
    return [d for d in _weekdays(PARTITIONS_START, last) if d not in open_days], last


def _recorded_holidays() -> tuple[list[dt.date], dt.date]:
    """exchange_calendars' holidays, cached per installed version.

    Importing exchange_calendars costs ~0.7 s; the cache keeps loading the code location
    fast. A new exchange_calendars version gets a new cache file, so it is never stale.
    """
    version = importlib.metadata.version("exchange-calendars")
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cache = cache_home / "stockmonitor" / f"xshg-holidays-{version}-{PARTITIONS_START}.txt"
    try:
        *days, last = parse_holidays(cache.read_text(), str(cache))
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


def parse_holidays(text: str, origin: str) -> list[dt.date]:
    """Dates separated by commas, whitespace or newlines; `#` starts a comment."""
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    tokens = [t for line in lines for t in line.replace(",", " ").split()]
    try:
        return [dt.date.fromisoformat(t) for t in tokens]
    except ValueError as exc:
        raise ValueError(f"{origin}: bad holiday date ({exc}); use YYYY-MM-DD") from None


def _user_holidays() -> list[dt.date]:
    holidays = parse_holidays(settings.get(settings.HOLIDAYS, ""), settings.HOLIDAYS)
    path = settings.get(settings.HOLIDAYS_FILE)
    if path:
        holidays += parse_holidays(Path(path).read_text(), path)
    return holidays


RECORDED_HOLIDAYS, RECORDED_THROUGH = _recorded_holidays()
HOLIDAYS = frozenset(RECORDED_HOLIDAYS) | frozenset(_user_holidays())

trading_day_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITIONS_START.isoformat(),
    timezone=TIMEZONE,
    fmt=KEY_FORMAT,
    end_offset=1,
    exclusions=["0 0 * * 6,0", *(dt.datetime.combine(d, dt.time()) for d in sorted(HOLIDAYS))],
)


def is_trading_day(day: dt.date) -> bool:
    return day >= PARTITIONS_START and day.weekday() < 5 and day not in HOLIDAYS


def sessions(start: dt.date, end: dt.date) -> list[dt.date]:
    """Trading days in [start, end], both included."""
    return [d for d in _weekdays(max(start, PARTITIONS_START), end) if d not in HOLIDAYS]


@functools.lru_cache(maxsize=8)
def sessions_through(end: dt.date) -> tuple[dt.date, ...]:
    """Every trading day from the first partition to `end`; cached since indicators ask often."""
    return tuple(sessions(PARTITIONS_START, end))


def nearest_trading_days(day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The trading days just before and just after `day` (None past the ends)."""
    before = sessions(day - dt.timedelta(days=40), day - dt.timedelta(days=1))
    after = sessions(day + dt.timedelta(days=1), day + dt.timedelta(days=40))
    return (before[-1] if before else None), (after[0] if after else None)


def parse_trading_day(value: str) -> dt.date:
    """A user-given date that must be a trading day; the error names the nearest ones."""
    try:
        day = dt.datetime.strptime(value.strip(), KEY_FORMAT).date()
    except ValueError:
        raise NotATradingDayError(f"{value!r} is not a date (expected YYYY-MM-DD)") from None
    if day < PARTITIONS_START:
        raise NotATradingDayError(f"{day} is before the first partition {PARTITIONS_START}")
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


# Daily bars are final once the exchange has closed and the vendors have published.
PUBLISHED_AT = dt.time(15, 30)


def shanghai_now() -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(TIMEZONE))


def latest_published_day(now: dt.datetime | None = None) -> dt.date:
    """The last trading day whose bars are published at `now` (Asia/Shanghai)."""
    now = now or shanghai_now()
    today = now.date()
    last = today if now.time() >= PUBLISHED_AT else today - dt.timedelta(days=1)
    return sessions(last - dt.timedelta(days=40), last)[-1]


def recent_range(days: int, now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """The last `days` published trading days, as (first, last)."""
    last = latest_published_day(now)
    window = sessions(last - dt.timedelta(days=2 * days + 30), last)
    return window[-days], last
