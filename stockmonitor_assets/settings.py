"""Every environment variable the project reads, as one typed object: `Settings`.

Each variable has its type, bounds and default stated once, here. `Settings.from_env()`
parses all of them and raises one `SettingsError` naming every bad variable and its value.
It is built once when the code location loads (`definitions.build_defs`) and by
`stockmonitor validate`, and handed on: resources are built from its fields, and assets and
sensors that need a value mid-run receive it as the fixed resource `settings`. Nothing
reads the environment mid-run.

The one import-time use: what Dagster's decorators need when modules are defined, the
partitions definition (`history_start`, `user_holidays`: trading_calendar.py) and the
columns of users' factors (`factor_modules`: schemas.py), through the same parsers
`from_env` uses. Documented exceptions outside this module: the log-file handler, which
Dagster builds from dagster.yaml, outside any resource (`log_dir`: logfiles.py), and the
CLI handing the environment to Dagster's own processes (cli/launch.py, the instance's
`{env: ...}` variables in cli/checkup.py).

Secrets are not values here: they reach resources as `dagster.EnvVar` (hidden in the UI,
resolved by the run), and `secrets_set` records which are set. The alert webhook URL is
handled as one too, as it may embed a token.
"""

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import dagster as dg
from pydantic import Field, ValidationError, field_validator

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
DEFAULT_CHUNK_DAYS = 60  # also the IO manager's default (io_managers.py)
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


class Settings(dg.ConfigurableResource):
    """Every non-secret setting (variable in each field's description), typed and bounded.

    Built by `from_env`; given to assets and sensors as the fixed resource `settings`.
    """

    source: str = Field("demo", description=SOURCE)
    demo_seed: int = Field(42, ge=0, description=DEMO_SEED)
    universe_size: int = Field(300, ge=1, description=UNIVERSE_SIZE)
    files_dir: str | None = Field(None, description=FILES_DIR)
    files_max_rows: int = Field(10_000_000, ge=1, description=FILES_MAX_ROWS)
    files_max_mb: int = Field(1_000, ge=1, description=FILES_MAX_MB)
    sync_cron: str = Field("0 9 * * 1-5", description=f"{SYNC_CRON} (Asia/Shanghai)")
    lookback_days: int = Field(250, ge=60, description=LOOKBACK_DAYS)
    chunk_days: int = Field(DEFAULT_CHUNK_DAYS, ge=1, description=CHUNK_DAYS)
    history_start: str = Field(DEFAULT_HISTORY_START.isoformat(), description=HISTORY_START)
    holidays: str = Field("", description=HOLIDAYS)
    holidays_file: str | None = Field(None, description=HOLIDAYS_FILE)
    factors: str | None = Field(None, description=FACTORS)
    data_dir: str = Field("data", description=DATA_DIR)
    cache_dir_given: str | None = Field(None, description=CACHE_DIR)
    xdg_cache_home: str | None = Field(None, description=XDG_CACHE_HOME)
    qlib_dir_given: str | None = Field(None, description=QLIB_DIR)
    log_dir: str = Field("logs", description=LOG_DIR)
    run_health: bool = Field(True, description=RUN_HEALTH)
    min_bar_coverage: Share = Field(0.9, description=MIN_BAR_COVERAGE)
    max_filled_share: Share = Field(0.2, description=MAX_FILLED_SHARE)
    max_gap_days: GapDays = Field(500, description=MAX_GAP_DAYS)
    ratio_tolerance: Share = Field(0.01, description=RATIO_TOLERANCE)
    scores_due: str = Field("10:30", description=f"{SCORES_DUE} (HH:MM, Asia/Shanghai)")
    alert_webhook: str | None = Field(None, description=f"{ALERT_WEBHOOK} (an EnvVar)")
    alert_webhook_allow_http: bool = Field(False, description=ALERT_WEBHOOK_ALLOW_HTTP)
    db_host: str | None = Field(None, description=DB_HOST)
    db_port: int = Field(5432, ge=1, le=65535, description=DB_PORT)
    db_name: str = Field("stockmonitor", description=DB_NAME)
    db_user: str = Field("postgres", description=DB_USER)
    db_scores_user: str | None = Field(None, description=DB_SCORES_USER)
    db_sslmode: str | None = Field(None, description=DB_SSLMODE)
    db_sslrootcert: str | None = Field(None, description=DB_SSLROOTCERT)
    db_lock_timeout_s: Seconds = Field(30.0, description=DB_LOCK_TIMEOUT)
    db_statement_timeout_s: Seconds = Field(300.0, description=DB_STATEMENT_TIMEOUT)
    rqdatac_base_url: str | None = Field(None, description=RQDATAC_BASE_URL)
    dagster_home: str | None = Field(None, description=DAGSTER_HOME)
    secrets_set: list[str] = Field(default_factory=list, description="secrets that are set")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """The settings `environ` gives (empty values are unset), or SettingsError naming
        every bad variable and its value (secrets by name only)."""
        given = {name: environ.get(var, "").strip() for name, var in VARIABLES.items()}
        values: dict[str, Any] = {name: raw for name, raw in given.items() if raw}
        if given["alert_webhook"]:
            values["alert_webhook"] = dg.EnvVar(ALERT_WEBHOOK)
        values["secrets_set"] = [var for var in SECRETS if environ.get(var, "").strip()]
        try:
            return cls(**values)
        except ValidationError as error:
            raise SettingsError(_problems(error, given)) from None

    # --- derived values ------------------------------------------------------------------

    @property
    def cache_dir(self) -> Path:
        """RQDatac's response cache: CACHE_DIR, default `<DATA_DIR>/.cache`."""
        return Path(self.cache_dir_given or Path(self.data_dir) / ".cache")

    @property
    def demo_cache_dir(self) -> Path:
        """The demo market's simulated years: `$CACHE_DIR/demo`, else the user's cache
        (`$XDG_CACHE_HOME`, default ~/.cache) `/stockmonitor/demo`, shared by checkouts."""
        if self.cache_dir_given:
            return Path(self.cache_dir_given) / "demo"
        return user_cache_home(self.xdg_cache_home) / "stockmonitor" / "demo"

    @property
    def qlib_dir(self) -> str | None:
        """Where the qlib provider directory lives (None: not kept).

        Default `<DATA_DIR>/qlib` on a local DATA_DIR; not kept by default when DATA_DIR is
        an object store (qlib reads local files only) or when STOCKMONITOR_QLIB_DIR=off.
        """
        if self.qlib_dir_given is not None:
            return None if self.qlib_dir_given.lower() == "off" else self.qlib_dir_given
        return None if "://" in self.data_dir else str(Path(self.data_dir) / "qlib")

    @property
    def database_configured(self) -> bool:
        return self.db_host is not None

    @property
    def scores_due_time(self) -> dt.time:
        return parse_time(self.scores_due, SCORES_DUE)

    def webhook_url(self) -> str | None:
        """The alert webhook URL. The resource a run or sensor receives holds it resolved;
        the object `from_env` built holds an `EnvVar`, read here as Dagster reads one."""
        value = self.alert_webhook
        return value.get_value() if isinstance(value, dg.EnvVar) else value

    # --- validation of the values no type states -----------------------------------------

    @field_validator("source")
    @classmethod
    def _known_source(cls, kind: str) -> str:
        from stockmonitor_assets import plugins

        kind = kind.lower()
        known = [*SOURCES, *plugins.source_names()]  # built-ins, then `stockmonitor.sources`
        if kind not in known:
            raise ValueError(f"is not a known source; use one of {known}")
        return kind

    @field_validator("sync_cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        try:  # Dagster's own cron parser, through its public API
            dg.ScheduleDefinition(name="cron", cron_schedule=cron, target=dg.AssetSelection.all())
        except dg.DagsterInvalidDefinitionError:
            raise ValueError("is not a valid cron expression") from None
        return cron

    @field_validator("history_start")
    @classmethod
    def _valid_start(cls, raw: str) -> str:
        return parse_history_start(raw).isoformat()

    @field_validator("holidays")
    @classmethod
    def _valid_holidays(cls, raw: str) -> str:
        parse_holidays(raw, HOLIDAYS)
        return raw

    @field_validator("holidays_file")
    @classmethod
    def _valid_holidays_file(cls, path: str | None) -> str | None:
        if path is not None:
            read_holidays_file(path)
        return path

    @field_validator("scores_due")
    @classmethod
    def _valid_due(cls, raw: str) -> str:
        return parse_time(raw, SCORES_DUE).strftime("%H:%M")

    @field_validator("run_health", "alert_webhook_allow_http", mode="before")
    @classmethod
    def _switch(cls, raw: object) -> object:
        if isinstance(raw, str):
            if raw.lower() not in SWITCH:
                raise ValueError(f"is not a switch; use one of {sorted(SWITCH)}")
            return SWITCH[raw.lower()]
        return raw

    @field_validator("db_sslmode")
    @classmethod
    def _known_sslmode(cls, mode: str | None) -> str | None:
        if mode is not None and mode not in SSL_MODES:
            raise ValueError(f"is not one of {list(SSL_MODES)}")
        return mode


def default(name: str) -> Any:
    """The default of the setting `name` (a field of Settings), for resources that repeat it."""
    return Settings.model_fields[name].default


# Each field's variable (secrets_set has none: it is derived).
VARIABLES = {
    name: field.description.split(" ")[0]
    for name, field in Settings.model_fields.items()
    if name != "secrets_set"
}


def _problems(error: ValidationError, given: Mapping[str, str]) -> dict[str, str]:
    """Per bad variable, `NAME='value' why` (a secret's value never shown)."""
    problems = {}
    for entry in error.errors():
        name = str(entry["loc"][0]) if entry.get("loc") else ""
        var = VARIABLES.get(name, name)
        why = _why(entry)
        shown = "(set)" if var in SECRETS else repr(given.get(name, entry.get("input")))
        problems[var] = why if why.startswith(var) else f"{var}={shown} {why}"
    return problems


def _why(entry: Mapping[str, Any]) -> str:
    """Pydantic's reason, in the words of the variable's documentation."""
    bound = entry.get("ctx") or {}
    reasons = {
        "int_parsing": "is not an integer",
        "int_from_float": "is not an integer",
        "float_parsing": "is not a number",
        "greater_than_equal": f"must be >= {bound.get('ge')}",
        "less_than_equal": f"must be <= {bound.get('le')}",
    }
    return reasons.get(entry["type"], entry["msg"].removeprefix("Value error, "))


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
    return Path(_raw(LOG_DIR, environ) or default("log_dir"))
