"""`Settings`, the one typed object of every setting (settings.py says why and how).

Its own module because it is a Dagster resource: `settings` itself (names and parsers)
stays free of Dagster for the modules that import no Dagster.
"""

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, ValidationError, field_validator

from stockmonitor_assets.settings import (
    ALERT_WEBHOOK,
    ALERT_WEBHOOK_ALLOW_HTTP,
    CACHE_DIR,
    CHUNK_DAYS,
    DAGSTER_HOME,
    DATA_DIR,
    DB_HOST,
    DB_LOCK_TIMEOUT,
    DB_NAME,
    DB_PORT,
    DB_SCORES_USER,
    DB_SSLMODE,
    DB_SSLROOTCERT,
    DB_STATEMENT_TIMEOUT,
    DB_USER,
    DEFAULT_CHUNK_DAYS,
    DEFAULT_DEMO_SEED,
    DEFAULT_FILES_MAX_MB,
    DEFAULT_FILES_MAX_ROWS,
    DEFAULT_HISTORY_START,
    DEFAULT_LOG_DIR,
    DEFAULT_UNIVERSE_SIZE,
    DEMO_SEED,
    FACTORS,
    FILES_DIR,
    FILES_MAX_MB,
    FILES_MAX_ROWS,
    HISTORY_START,
    HOLIDAYS,
    HOLIDAYS_FILE,
    LOG_DIR,
    LOOKBACK_DAYS,
    MAX_FILLED_SHARE,
    MAX_GAP_DAYS,
    MIN_BAR_COVERAGE,
    QLIB_DIR,
    RATIO_TOLERANCE,
    RQDATAC_BASE_URL,
    RUN_HEALTH,
    SCORES_DUE,
    SECRETS,
    SOURCE,
    SOURCES,
    SSL_MODES,
    SWITCH,
    SYNC_CRON,
    UNIVERSE_SIZE,
    XDG_CACHE_HOME,
    GapDays,
    Seconds,
    SettingsError,
    Share,
    parse_history_start,
    parse_holidays,
    parse_time,
    read_holidays_file,
    user_cache_home,
)


class Settings(dg.ConfigurableResource):
    """Every non-secret setting (variable in each field's description), typed and bounded.

    Built by `from_env`; given to assets and sensors as the fixed resource `settings`.
    """

    source: str = Field("demo", description=SOURCE)
    demo_seed: int = Field(DEFAULT_DEMO_SEED, ge=0, description=DEMO_SEED)
    universe_size: int = Field(DEFAULT_UNIVERSE_SIZE, ge=1, description=UNIVERSE_SIZE)
    files_dir: str | None = Field(None, description=FILES_DIR)
    files_max_rows: int = Field(DEFAULT_FILES_MAX_ROWS, ge=1, description=FILES_MAX_ROWS)
    files_max_mb: int = Field(DEFAULT_FILES_MAX_MB, ge=1, description=FILES_MAX_MB)
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
    log_dir: str = Field(DEFAULT_LOG_DIR, description=LOG_DIR)
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
