"""`stockmonitor validate`: every configuration problem at once, before a run finds one.

Each check returns a problem message (or None); secrets are checked for presence only,
never printed.
"""

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

from stockmonitor_assets import settings


def check_setup() -> tuple[list[str], list[str]]:
    """(problems, warnings) of the current environment."""
    results = checklist()
    problems = [problem for _, _, problem in results if problem]
    problems += _files_problems()
    warnings = [w for w in [_safely(_calendar_coverage)] if w]
    return problems, warnings


def checklist() -> list[tuple[str, str, str | None]]:
    """(name, what was checked, problem or None) of each check, for `validate` to show."""
    return [(name, _description(describe), _safely(check)) for name, describe, check in _CHECKS]


def _description(describe: Callable[[], str]) -> str:
    """What a check looked at; a setting too broken to describe is that check's problem."""
    try:
        return describe()
    except Exception:  # noqa: BLE001 - reported by the check itself
        return "(see the problem below)"


def _describe_settings() -> str:
    return (
        f"source {settings.source_kind()!r}, sync cron {settings.sync_cron()!r}, universe size, "
        "demo seed, look-back, chunk days, scores due time, quality thresholds, holiday lists"
    )


def _describe_source() -> str:
    kind = settings.source_kind()
    if kind == "rqdatac":
        return "RQDatac login settings present and well-formed (never printed)"
    if kind == "files":
        return f"{settings.FILES_DIR} is a directory; every file read as a run reads it"
    return "demo market (no credentials needed)"


def _describe_database() -> str:
    if not settings.database_configured():
        return "no DB_HOST: scores stay in Parquet (stock_scores not written)"
    return f"{settings.get('DB_HOST')}:{settings.get('DB_PORT', '5432')} answers SELECT 1"


def _describe_dagster_home() -> str:
    home = settings.get("DAGSTER_HOME")
    return f"{home}/dagster.yaml has its variables set" if home else "unset: ./dagster.yaml"


def _describe_webhook() -> str:
    return "set, https (never printed)" if settings.get(settings.ALERT_WEBHOOK) else "not set"


def _safely(check: Callable[[], str | None]) -> str | None:
    try:
        return check()
    except Exception as exc:  # a crashing check is itself the problem to report
        return f"{check.__name__.strip('_').replace('_', ' ')}: {exc}"


def _settings_parse() -> str | None:
    settings.source_kind()
    settings.sync_cron()
    settings.int_setting(settings.UNIVERSE_SIZE, settings.DEFAULT_UNIVERSE_SIZE)
    settings.int_setting(settings.DEMO_SEED, settings.DEFAULT_DEMO_SEED, 0)
    settings.int_setting(settings.LOOKBACK_DAYS, settings.DEFAULT_LOOKBACK_DAYS, 60)
    settings.chunk_days()
    settings.time_setting(settings.SCORES_DUE, settings.DEFAULT_SCORES_DUE)
    if settings.database_configured():
        settings.int_setting("DB_PORT", 5432)
    import stockmonitor_assets.trading_calendar  # noqa: F401  (parses the holiday lists)
    from stockmonitor_assets.thresholds import thresholds_from_env

    thresholds_from_env()  # the four quality thresholds, within their bounds
    return None


def _source_credentials() -> str | None:
    kind = settings.source_kind()
    if kind == "rqdatac":
        from stockmonitor_assets.resources import (
            MarketDataResource,
            as_a_run_reads_it,
            rqdatac_login_from_env,
        )
        from stockmonitor_assets.sources.ricequant import Credentials

        # The login a run will use, read as the run reads it.
        source = as_a_run_reads_it(MarketDataResource(**rqdatac_login_from_env()))
        Credentials.from_settings(
            source.rqdatac_api_key,
            source.rqdatac_username,
            source.rqdatac_password,
            source.rqdatac_base_url,
        )
    if kind == "files":
        files_dir = settings.get(settings.FILES_DIR)
        if not files_dir or not Path(files_dir).is_dir():
            return f"source 'files' needs an existing directory in {settings.FILES_DIR}"
    return None


def _files_problems() -> list[str]:
    """With the files source, every file read and checked as a run would (schema, keys,
    values, vendor conventions), plus bar dates against the exchange calendar."""
    files_dir = settings.get(settings.FILES_DIR)
    if settings.source_kind() != "files" or not files_dir or not Path(files_dir).is_dir():
        return []  # a missing directory is _source_credentials' problem
    from stockmonitor_assets import trading_calendar
    from stockmonitor_assets.sources.files import FilesSource

    source = FilesSource(Path(files_dir))
    span = source.date_range()
    since = trading_calendar.PARTITIONS_START
    sessions = trading_calendar.sessions(max(span[0], since), span[1]) if span else []
    problems = sorted(source.problems(sessions, since), key=lambda p: p.file)
    return [f"files source: {p}" for p in problems]


def _data_dir() -> str | None:
    from stockmonitor_assets.io_managers import check_local_data_dir

    data_dir = settings.data_dir()
    if "://" not in data_dir:
        check_local_data_dir(data_dir)
    return None


def _cache_dir() -> str | None:
    """An unwritable cache fails no run (responses are used uncached), but every rerun
    fetches, and pays quota for, the same data again."""
    from stockmonitor_assets.sources.ricequant_cache import unwritable_reason

    if "://" in settings.data_dir() and not settings.get(settings.CACHE_DIR):
        return None  # the default lives beside DATA_DIR, on the object store: nothing local
    reason = unwritable_reason(settings.cache_dir())
    if reason is None:
        return None
    return (
        f"{settings.CACHE_DIR}={settings.cache_dir()} cannot be written ({reason}): "
        "RQDatac responses would not be cached, each rerun fetching them again"
    )


def _database_reachable() -> str | None:
    if not settings.database_configured():
        return None
    from stockmonitor_assets.database import postgres_from_env
    from stockmonitor_assets.resources import as_a_run_reads_it

    db = as_a_run_reads_it(postgres_from_env())  # the connection a run will open
    try:
        with db.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"database {db.host}:{db.port}/{db.database} is not reachable: {first_line}"
    return None


def _alert_webhook() -> str | None:
    """The webhook URL is refused here as the sensor would refuse it (never printed)."""
    from stockmonitor_assets.webhook import check_webhook_url

    url = settings.get(settings.ALERT_WEBHOOK)
    if url:
        check_webhook_url(url)
    return None


def _dagster_home() -> str | None:
    home = settings.get("DAGSTER_HOME")
    if not home:
        return None
    if not Path(home).is_dir():
        return f"DAGSTER_HOME={home} is not a directory"
    config = Path(home) / "dagster.yaml"
    if config.exists():
        missing = [v for v in _instance_env_vars(config.read_text()) if not os.environ.get(v)]
        if missing:
            return f"{config} reads unset environment variable(s) {missing}"
    return None


def _instance_env_vars(text: str) -> list[str]:
    import re

    return sorted(set(re.findall(r"\{\s*env:\s*([A-Z_][A-Z0-9_]*)\s*\}", text)))


def _calendar_coverage() -> str | None:
    from stockmonitor_assets import trading_calendar

    today = dt.date.today()
    if today <= trading_calendar.RECORDED_THROUGH:
        return None
    user_years = {d.year for d in trading_calendar.HOLIDAYS} - {
        d.year for d in trading_calendar.RECORDED_HOLIDAYS
    }
    if today.year in user_years:
        return None
    return (
        f"exchange_calendars records XSHG holidays only through "
        f"{trading_calendar.RECORDED_THROUGH}; list {today.year}'s holidays in "
        f"{settings.HOLIDAYS} or {settings.HOLIDAYS_FILE}, or every weekday is a partition key"
    )


_CHECKS: list[tuple[str, Callable[[], str], Callable[[], str | None]]] = [
    ("settings", _describe_settings, _settings_parse),
    ("source", _describe_source, _source_credentials),
    ("data dir", lambda: f"{settings.data_dir()} is a writable directory", _data_dir),
    ("cache dir", lambda: f"{settings.cache_dir()} can be written", _cache_dir),
    ("database", _describe_database, _database_reachable),
    ("instance", _describe_dagster_home, _dagster_home),
    ("alert webhook", _describe_webhook, _alert_webhook),
]
