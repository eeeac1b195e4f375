"""Every environment variable the project reads, with its default, in one place.

Values are read when called (never at import), except the holiday list, which the
partitions definition needs when the code location loads. Secrets are not read here:
they reach resources through `dagster.EnvVar`, so Dagster hides them in the UI.
"""

import datetime as dt
import os
from pathlib import Path

SOURCE = "STOCKMONITOR_SOURCE"
DEMO_SEED = "STOCKMONITOR_DEMO_SEED"
UNIVERSE_SIZE = "STOCKMONITOR_UNIVERSE_SIZE"
FILES_DIR = "STOCKMONITOR_FILES_DIR"
SYNC_CRON = "STOCKMONITOR_SYNC_CRON"
LOOKBACK_DAYS = "STOCKMONITOR_LOOKBACK_DAYS"
CHUNK_DAYS = "STOCKMONITOR_CHUNK_DAYS"
HOLIDAYS = "STOCKMONITOR_HOLIDAYS"
HOLIDAYS_FILE = "STOCKMONITOR_HOLIDAYS_FILE"
QLIB_DIR = "STOCKMONITOR_QLIB_DIR"
FACTORS = "STOCKMONITOR_FACTORS"  # modules of users' factors (plugins.py)
DATA_DIR = "DATA_DIR"
CACHE_DIR = "CACHE_DIR"
LOG_DIR = "LOG_DIR"
RUN_HEALTH = "STOCKMONITOR_RUN_HEALTH"  # "off": runs do not measure their health
DB_VARS = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD")
# stock_scores' own login where it differs from the Dagster instance's DB_USER (deploy/: a
# writer role that cannot touch Dagster's tables, in the container that also holds the
# instance's login); unset: DB_USER/DB_PASSWORD.
DB_SCORES_USER = "DB_SCORES_USER"
DB_SCORES_PASSWORD = "DB_SCORES_PASSWORD"
RQDATAC_SECRETS = ("RQDATAC_API_KEY", "RQDATAC_USERNAME", "RQDATAC_PASSWORD")
RQDATAC_BASE_URL = "RQDATAC_BASE_URL"

SOURCES = ("demo", "rqdatac", "files")
DEFAULT_SYNC_CRON = "0 9 * * 1-5"
DEFAULT_LOOKBACK_DAYS = 250
DEFAULT_CHUNK_DAYS = 60
DEFAULT_UNIVERSE_SIZE = 300
DEFAULT_DEMO_SEED = 42


def get(name: str, default: str | None = None) -> str | None:
    """An environment value, with empty strings treated as unset."""
    value = os.environ.get(name, "").strip()
    return value or default


def data_dir() -> str:
    return get(DATA_DIR, "data")


def cache_dir() -> Path:
    return Path(get(CACHE_DIR, str(Path(data_dir()) / ".cache")))


def qlib_dir() -> str | None:
    """Where the qlib provider directory lives (None: not kept).

    Default `<DATA_DIR>/qlib` on a local DATA_DIR; not kept by default when DATA_DIR is an
    object store (qlib reads local files only) or when STOCKMONITOR_QLIB_DIR=off.
    """
    explicit = get(QLIB_DIR)
    if explicit is not None:
        return None if explicit.lower() == "off" else explicit
    base = data_dir()
    return None if "://" in base else str(Path(base) / "qlib")


def log_dir() -> Path:
    return Path(get(LOG_DIR, "logs"))


def chunk_days() -> int:
    """Days a step computes and writes at once in a range run (memory follows it)."""
    return int_setting(CHUNK_DAYS, DEFAULT_CHUNK_DAYS)


def source_kind() -> str:
    from stockmonitor_assets import plugins

    kind = get(SOURCE, "demo").lower()
    known = [*SOURCES, *plugins.source_names()]  # built-ins, then `stockmonitor.sources`
    if kind not in known:
        raise ValueError(f"{SOURCE}={kind!r} is not a known source; use one of {known}")
    return kind


def int_setting(name: str, default: int, minimum: int = 1) -> int:
    return _number_setting(name, default, int, "an integer", minimum, None)


def float_setting(name: str, default: float, low: float = 0.0, high: float = 1.0) -> float:
    return _number_setting(name, default, float, "a number", low, high)


def _number_setting(name, default, parse, kind: str, low, high):
    """A numeric environment value within [low, high] (high None: no upper bound)."""
    raw = get(name)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not {kind}") from None
    if high is None and value < low:
        raise ValueError(f"{name}={value} must be >= {low}")
    if high is not None and not low <= value <= high:
        raise ValueError(f"{name}={value} must be in [{low}, {high}]")
    return value


def database_configured() -> bool:
    return get("DB_HOST") is not None


def sync_cron() -> str:
    """The cron (Asia/Shanghai) on which source assets sync the latest published trading day."""
    import dagster as dg

    cron = get(SYNC_CRON, DEFAULT_SYNC_CRON)
    try:  # Dagster's own cron parser, through its public API
        dg.ScheduleDefinition(name="sync_cron", cron_schedule=cron, target=dg.AssetSelection.all())
    except dg.DagsterInvalidDefinitionError:
        raise ValueError(f"{SYNC_CRON}={cron!r} is not a valid cron expression") from None
    return cron


# Limits per file of the files source (sources/files_layout.py, docs/files-source.md): a
# file over either is refused by name before it is read (memory follows rows, not bytes:
# a 116 KB Parquet of 5 M rows took 893 MiB).
FILES_MAX_ROWS = "STOCKMONITOR_FILES_MAX_ROWS"
FILES_MAX_MB = "STOCKMONITOR_FILES_MAX_MB"
DEFAULT_FILES_MAX_ROWS = 10_000_000
DEFAULT_FILES_MAX_MB = 1_000


# Data quality and alerting (thresholds.py, assets/freshness.py, alerts.py, webhook.py).
MIN_BAR_COVERAGE = "STOCKMONITOR_MIN_BAR_COVERAGE"
MAX_FILLED_SHARE = "STOCKMONITOR_MAX_FILLED_SHARE"
MAX_GAP_DAYS = "STOCKMONITOR_MAX_GAP_DAYS"
RATIO_TOLERANCE = "STOCKMONITOR_RATIO_TOLERANCE"
SCORES_DUE = "STOCKMONITOR_SCORES_DUE"
ALERT_WEBHOOK = "STOCKMONITOR_ALERT_WEBHOOK"
DEFAULT_MIN_BAR_COVERAGE = 0.9
DEFAULT_MAX_FILLED_SHARE = 0.2
DEFAULT_MAX_GAP_DAYS = 500
DEFAULT_RATIO_TOLERANCE = 0.01
DEFAULT_SCORES_DUE = "10:30"


def time_setting(name: str, default: str) -> dt.time:
    """An HH:MM time of day (Asia/Shanghai)."""
    raw = get(name, default)
    try:
        return dt.datetime.strptime(raw, "%H:%M").time()
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a time of day (expected HH:MM)") from None


# Postgres connection security and timeouts for stock_scores (database.py). The Dagster
# instance reads the same TLS mode through libpq's PGSSLMODE (docs/production.md).
DB_SSLMODE = "DB_SSLMODE"
DB_SSLROOTCERT = "DB_SSLROOTCERT"
DB_LOCK_TIMEOUT = "DB_LOCK_TIMEOUT_S"
DB_STATEMENT_TIMEOUT = "DB_STATEMENT_TIMEOUT_S"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_DB_LOCK_TIMEOUT_S = 30
DEFAULT_DB_STATEMENT_TIMEOUT_S = 300

# Alert webhook transport (webhook.py): https only, unless a local receiver is allowed.
ALERT_WEBHOOK_ALLOW_HTTP = "STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP"

# The first partition (trading_calendar.py validates that it is an XSHG trading day).
HISTORY_START = "STOCKMONITOR_HISTORY_START"
DEFAULT_HISTORY_START = dt.date(2005, 1, 4)


def history_start() -> dt.date:
    """The first trading day of the partition set (default: RQDatac's daily bars, 2005)."""
    raw = get(HISTORY_START)
    if raw is None:
        return DEFAULT_HISTORY_START
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{HISTORY_START}={raw!r} is not a date (expected YYYY-MM-DD)") from None
