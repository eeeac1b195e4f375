"""`stockmonitor validate`: every configuration problem at once, before a run finds one.

The settings are validated by building them as the code location does
(`settings_resource.Settings.from_env()`: every variable, each bad one named with its value), so no
variable passes `validate` and fails a load or a run. The other checks (source, data dir,
cache dir, database, instance, webhook) take the object built. Each check returns a problem
message (or None); secrets are checked for presence only, never printed.
"""

import datetime as dt
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from stockmonitor_assets import settings
from stockmonitor_assets.settings import SettingsError
from stockmonitor_assets.settings_resource import Settings

Check = Callable[[Settings], str | None]


def check_setup() -> tuple[list[str], list[str]]:
    """(problems, warnings) of the current environment."""
    results, config = _run_checks()
    problems = [problem for _, _, problem in results if problem]
    if config is not None:
        problems += _files_problems(config)
    warnings = [w for w in [_safely(_calendar_coverage, config)] if w] if config else []
    return problems, warnings


def checklist() -> list[tuple[str, str, str | None]]:
    """(name, what was checked, problem or None) of each check, for `validate` to show."""
    return _run_checks()[0]


def _run_checks() -> tuple[list[tuple[str, str, str | None]], Settings | None]:
    """The settings check (building `Settings` as the code location does), then every other
    check on the object built; with bad variables, on the object the others give (each bad
    one at its default), so every problem is listed at once."""
    config, problem = _built_settings(os.environ)
    results = [("settings", _describe_settings(config), problem)]
    if config is None:
        return results, None
    results += [
        (name, _description(describe, config), _safely(check, config))
        for name, describe, check in _CHECKS
    ]
    return results, config


def _built_settings(environ: Mapping[str, str]) -> tuple[Settings | None, str | None]:
    """(settings, problem): every variable parsed at once (a bad one named with its value),
    and the partitions definition they give (the history start must be a trading day)."""
    try:
        config = Settings.from_env(environ)
    except SettingsError as exc:
        others = {k: v for k, v in environ.items() if k not in exc.variables}
        return _built_settings(others)[0], f"settings: {exc}"
    try:
        import stockmonitor_assets.trading_calendar  # noqa: F401  (the partitions definition)
    except ValueError as exc:
        return config, f"settings: {exc}"
    return config, None


def _description(describe: Callable[[Settings], str], config: Settings) -> str:
    """What a check looked at; a setting too broken to describe is that check's problem."""
    try:
        return describe(config)
    except Exception:  # noqa: BLE001 - reported by the check itself
        return "(see the problem below)"


def _describe_settings(config: Settings | None) -> str:
    named = f": source {config.source!r}, sync cron {config.sync_cron!r}, ..." if config else ""
    return f"every variable, as the code location loads them{named}"


def _describe_source(config: Settings) -> str:
    if config.source == "rqdatac":
        return "RQDatac login settings present and well-formed (never printed)"
    if config.source == "files":
        return f"{settings.FILES_DIR} is a directory; every file read as a run reads it"
    return "demo market (no credentials needed)"


def _describe_database(config: Settings) -> str:
    if not config.database_configured:
        return "no DB_HOST: scores stay in Parquet (stock_scores not written)"
    return f"{config.db_host}:{config.db_port} answers SELECT 1"


def _describe_dagster_home(config: Settings) -> str:
    home = config.dagster_home
    return f"{home}/dagster.yaml has its variables set" if home else "unset: ./dagster.yaml"


def _describe_webhook(config: Settings) -> str:
    return "set, https (never printed)" if config.alert_webhook else "not set"


def _safely(check: Check, config: Settings) -> str | None:
    try:
        return check(config)
    except Exception as exc:  # a crashing check is itself the problem to report
        return f"{check.__name__.strip('_').replace('_', ' ')}: {exc}"


def _source_credentials(config: Settings) -> str | None:
    if config.source == "rqdatac":
        from stockmonitor_assets.resources import (
            MarketDataResource,
            as_a_run_reads_it,
            rqdatac_login,
        )
        from stockmonitor_assets.sources.ricequant import Credentials

        # The login a run will use, read as the run reads it.
        source = as_a_run_reads_it(MarketDataResource(**rqdatac_login(config)))
        Credentials.from_settings(
            source.rqdatac_api_key,
            source.rqdatac_username,
            source.rqdatac_password,
            source.rqdatac_base_url,
        )
    if config.source == "files":
        if not config.files_dir or not Path(config.files_dir).is_dir():
            return f"source 'files' needs an existing directory in {settings.FILES_DIR}"
    return None


def _files_problems(config: Settings) -> list[str]:
    """With the files source, every file read and checked as a run would (schema, keys,
    values, vendor conventions, size limits), plus bar dates against the exchange calendar."""
    files_dir = config.files_dir
    if config.source != "files" or not files_dir or not Path(files_dir).is_dir():
        return []  # a missing directory is _source_credentials' problem
    from stockmonitor_assets import trading_calendar
    from stockmonitor_assets.sources.files import FilesSource
    from stockmonitor_assets.sources.files_layout import FileLimits

    source = FilesSource(Path(files_dir), FileLimits(config.files_max_rows, config.files_max_mb))
    span = source.date_range()
    since = trading_calendar.PARTITIONS_START
    sessions = trading_calendar.sessions(max(span[0], since), span[1]) if span else []
    problems = sorted(source.problems(sessions, since), key=lambda p: p.file)
    return [f"files source: {p}" for p in problems]


def _data_dir(config: Settings) -> str | None:
    from stockmonitor_assets.storage import check_local_data_dir

    if "://" not in config.data_dir:
        check_local_data_dir(config.data_dir)
    return None


def _cache_dir(config: Settings) -> str | None:
    """An unwritable cache fails no run (responses are used uncached), but every rerun
    fetches, and pays quota for, the same data again."""
    from stockmonitor_assets.sources.ricequant_cache import unwritable_reason

    if "://" in config.data_dir and not config.cache_dir_given:
        return None  # the default lives beside DATA_DIR, on the object store: nothing local
    reason = unwritable_reason(config.cache_dir)
    if reason is None:
        return None
    return (
        f"{settings.CACHE_DIR}={config.cache_dir} cannot be written ({reason}): "
        "RQDatac responses would not be cached, each rerun fetching them again"
    )


def _database_reachable(config: Settings) -> str | None:
    if not config.database_configured:
        return None
    from stockmonitor_assets.database import postgres_from
    from stockmonitor_assets.resources import as_a_run_reads_it

    db = as_a_run_reads_it(postgres_from(config))  # the connection a run will open
    try:
        with db.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"database {db.host}:{db.port}/{db.database} is not reachable: {first_line}"
    return None


def _alert_webhook(config: Settings) -> str | None:
    """The webhook URL is refused here as the sensor would refuse it (never printed)."""
    from stockmonitor_assets.webhook import check_webhook_url

    url = config.webhook_url()
    if url:
        check_webhook_url(url, config.alert_webhook_allow_http)
    return None


def _dagster_home(config: Settings) -> str | None:
    """The instance's dagster.yaml reads its own `{env: ...}` variables (Dagster's, not the
    code location's: checked here against the environment itself)."""
    home = config.dagster_home
    if not home:
        return None
    if not Path(home).is_dir():
        return f"DAGSTER_HOME={home} is not a directory"
    config_file = Path(home) / "dagster.yaml"
    if config_file.exists():
        unset = [v for v in _instance_env_vars(config_file.read_text()) if not os.environ.get(v)]
        if unset:
            return f"{config_file} reads unset environment variable(s) {unset}"
    return None


def _instance_env_vars(text: str) -> list[str]:
    import re

    return sorted(set(re.findall(r"\{\s*env:\s*([A-Z_][A-Z0-9_]*)\s*\}", text)))


def _calendar_coverage(config: Settings) -> str | None:
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


_CHECKS: list[tuple[str, Callable[[Settings], str], Check]] = [
    ("source", _describe_source, _source_credentials),
    ("data dir", lambda c: f"{c.data_dir} is a writable directory", _data_dir),
    ("cache dir", lambda c: f"{c.cache_dir} can be written", _cache_dir),
    ("database", _describe_database, _database_reachable),
    ("instance", _describe_dagster_home, _dagster_home),
    ("alert webhook", _describe_webhook, _alert_webhook),
]
