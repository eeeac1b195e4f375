"""Every environment variable the project reads, as one typed object: `Settings`
(settings_resource.py: a Dagster resource, in its own module so that the modules needing
only the names and parsers here, such as schemas, sources and webhook, import no Dagster).

Each variable has its type, bounds and default stated once, in `Settings`. `Settings.from_env()`
parses all of them and raises one `SettingsError` naming every bad variable and its value.
It is built once when the code location loads (`definitions.build_defs`) and by
`stockmonitor validate`, and handed on: resources are built from its fields, and assets and
sensors that need a value mid-run receive it as the fixed resource `settings`. Nothing
reads the environment mid-run.

The one import-time use: what Dagster's decorators need when modules are defined, the
partitions definition (`history_start`, `user_holidays`: trading_calendar.py) and the
columns of users' factors (`factor_modules`: schemas.py), through the same parsers
`from_env` uses (and `cache_home`, where the calendar caches exchange_calendars' holidays).
Documented exceptions outside this module: the log-file handler, which Dagster builds from
dagster.yaml, outside any resource (`log_dir`: logfiles.py), and the CLI handing the
environment to Dagster's own processes (cli/launch.py, the instance's `{env: ...}`
variables in cli/checkup.py).

Secrets are not values here: they reach resources as `dagster.EnvVar` (hidden in the UI,
resolved by the run), and `secrets_set` records which are set. The alert webhook URL is
handled as one too, as it may embed a token.
"""

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import Field

SOURCE = "STOCKMONITOR_SOURCE"
DEMO_SEED = "STOCKMONITOR_DEMO_SEED"
UNIVERSE_SIZE = "STOCKMONITOR_UNIVERSE_SIZE"
FILES_DIR = "STOCKMONITOR_FILES_DIR"
# Limits per file of the files source (sources/files_layout.py, docs/files-source.md): a
# file over either is refused by name before it is read (memory follows rows, not bytes:
# a 116 KB Parquet of 5 M rows took 893 MiB).
FILES_MAX_ROWS = "STOCKMONITOR_FILES_MAX_ROWS"
FILES_MAX_MB = "STOCKMONITOR_FILES_MAX_MB"
SYNC_CRON = "STOCKMONITOR_SYNC_CRON"
LOOKBACK_DAYS = "STOCKMONITOR_LOOKBACK_DAYS"
CHUNK_DAYS = "STOCKMONITOR_CHUNK_DAYS"
HISTORY_START = "STOCKMONITOR_HISTORY_START"
HOLIDAYS = "STOCKMONITOR_HOLIDAYS"
HOLIDAYS_FILE = "STOCKMONITOR_HOLIDAYS_FILE"
FACTORS = "STOCKMONITOR_FACTORS"  # modules of users' factors (plugins.py)
QLIB_DIR = "STOCKMONITOR_QLIB_DIR"
DATA_DIR = "DATA_DIR"
CACHE_DIR = "CACHE_DIR"
XDG_CACHE_HOME = "XDG_CACHE_HOME"
LOG_DIR = "LOG_DIR"
RUN_HEALTH = "STOCKMONITOR_RUN_HEALTH"  # "off": runs do not measure their health
# Data quality and alerting (thresholds.py, assets/freshness.py, alerts.py, webhook.py).
MIN_BAR_COVERAGE = "STOCKMONITOR_MIN_BAR_COVERAGE"
MAX_FILLED_SHARE = "STOCKMONITOR_MAX_FILLED_SHARE"
MAX_GAP_DAYS = "STOCKMONITOR_MAX_GAP_DAYS"
RATIO_TOLERANCE = "STOCKMONITOR_RATIO_TOLERANCE"
SCORES_DUE = "STOCKMONITOR_SCORES_DUE"
ALERT_WEBHOOK = "STOCKMONITOR_ALERT_WEBHOOK"
ALERT_WEBHOOK_ALLOW_HTTP = "STOCKMONITOR_ALERT_WEBHOOK_ALLOW_HTTP"
# Postgres for stock_scores (database.py). The Dagster instance reads the same TLS mode
# through libpq's PGSSLMODE (docs/production.md).
DB_HOST = "DB_HOST"
DB_PORT = "DB_PORT"
DB_NAME = "DB_NAME"
DB_USER = "DB_USER"
DB_PASSWORD = "DB_PASSWORD"
# stock_scores' own login where it differs from the Dagster instance's DB_USER (deploy/: a
# writer role that cannot touch Dagster's tables, in the container that also holds the
# instance's login); unset: DB_USER/DB_PASSWORD.
DB_SCORES_USER = "DB_SCORES_USER"
DB_SCORES_PASSWORD = "DB_SCORES_PASSWORD"
DB_SSLMODE = "DB_SSLMODE"
DB_SSLROOTCERT = "DB_SSLROOTCERT"
DB_LOCK_TIMEOUT = "DB_LOCK_TIMEOUT_S"
DB_STATEMENT_TIMEOUT = "DB_STATEMENT_TIMEOUT_S"
RQDATAC_SECRETS = ("RQDATAC_API_KEY", "RQDATAC_USERNAME", "RQDATAC_PASSWORD")
RQDATAC_BASE_URL = "RQDATAC_BASE_URL"
DAGSTER_HOME = "DAGSTER_HOME"
SECRETS = (*RQDATAC_SECRETS, DB_PASSWORD, DB_SCORES_PASSWORD, ALERT_WEBHOOK)
DB_VARS = (DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD)

SOURCES = ("demo", "rqdatac", "files")
# Defaults that modules importing no Dagster repeat (Settings' fields state the others).
DEFAULT_CHUNK_DAYS = 60  # also the IO manager's default (io_managers.py)
DEFAULT_DEMO_SEED = 42
DEFAULT_UNIVERSE_SIZE = 300
DEFAULT_FILES_MAX_ROWS = 10_000_000
DEFAULT_FILES_MAX_MB = 1_000
DEFAULT_LOG_DIR = "logs"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_HISTORY_START = dt.date(2005, 1, 4)  # RQDatac's daily bars
EXCHANGE_FIRST_SESSION = dt.date(1990, 12, 19)
SWITCH = {"1": True, "on": True, "true": True, "yes": True}
SWITCH |= {"0": False, "off": False, "false": False, "no": False}

# The quality thresholds' types, shared with the run-config resource (thresholds.py).
Share = Annotated[float, Field(ge=0.0, le=1.0)]
GapDays = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(ge=0.001, le=86400.0)]


class SettingsError(ValueError):
    """Bad environment values; the message names every bad variable and its value."""

    def __init__(self, problems: dict[str, str]):
        self.variables = list(problems)  # the bad variables, in field order
        self.problems = list(problems.values())
        super().__init__("; ".join(self.problems))


# --- parsers, shared by `Settings` and the import-time uses ------------------------------


def _raw(name: str, environ: Mapping[str, str]) -> str | None:
    return environ.get(name, "").strip() or None


def parse_time(raw: str, name: str) -> dt.time:
    """An HH:MM time of day (Asia/Shanghai)."""
    try:
        return dt.datetime.strptime(raw, "%H:%M").time()
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a time of day (expected HH:MM)") from None


def parse_history_start(raw: str) -> dt.date:
    """The first day of the partition set: an ISO date, not before XSHG's first session
    (trading_calendar.py checks that it is a trading day)."""
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{HISTORY_START}={raw!r} is not a date (expected YYYY-MM-DD)") from None
    if day < EXCHANGE_FIRST_SESSION:
        raise ValueError(
            f"{HISTORY_START}={day} is before the first XSHG session {EXCHANGE_FIRST_SESSION}"
        )
    return day


def parse_holidays(text: str, origin: str) -> list[dt.date]:
    """Dates separated by commas, whitespace or newlines; `#` starts a comment."""
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    tokens = [t for line in lines for t in line.replace(",", " ").split()]
    try:
        return [dt.date.fromisoformat(t) for t in tokens]
    except ValueError as exc:
        raise ValueError(f"{origin}: bad holiday date ({exc}); use YYYY-MM-DD") from None


def read_holidays_file(path: str) -> list[dt.date]:
    try:
        return parse_holidays(Path(path).read_text(), path)
    except OSError as exc:
        raise ValueError(f"{HOLIDAYS_FILE}={path!r} cannot be read: {exc}") from None


def user_cache_home(xdg_cache_home: str | None) -> Path:
    return Path(xdg_cache_home or Path.home() / ".cache")


def history_start(environ: Mapping[str, str] = os.environ) -> dt.date:
    """Import time (the partitions definition): STOCKMONITOR_HISTORY_START."""
    raw = _raw(HISTORY_START, environ)
    return DEFAULT_HISTORY_START if raw is None else parse_history_start(raw)


def user_holidays(environ: Mapping[str, str] = os.environ) -> list[dt.date]:
    """Import time (the partitions definition): STOCKMONITOR_HOLIDAYS and _HOLIDAYS_FILE."""
    days = parse_holidays(_raw(HOLIDAYS, environ) or "", HOLIDAYS)
    path = _raw(HOLIDAYS_FILE, environ)
    return days + (read_holidays_file(path) if path else [])


def cache_home(environ: Mapping[str, str] = os.environ) -> Path:
    """Import time (the calendar's holiday cache): $XDG_CACHE_HOME, default ~/.cache."""
    return user_cache_home(_raw(XDG_CACHE_HOME, environ))


def factor_modules(environ: Mapping[str, str] = os.environ) -> str | None:
    """Import time (the factor columns of the schemas): STOCKMONITOR_FACTORS."""
    return _raw(FACTORS, environ)


def log_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """When Dagster builds the log-file handlers from dagster.yaml (logfiles.py): LOG_DIR."""
    return Path(_raw(LOG_DIR, environ) or DEFAULT_LOG_DIR)
