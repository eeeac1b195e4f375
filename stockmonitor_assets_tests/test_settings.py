"""One typed Settings object: every variable parsed at once, when the code location loads
and by `stockmonitor validate` alike, so no variable passes `validate` and fails a run; and
nothing reads the environment mid-run."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from stockmonitor_assets import settings_resource
from stockmonitor_assets.cli.main import main
from stockmonitor_assets.definitions import build_defs
from stockmonitor_assets.settings import SettingsError
from stockmonitor_assets.settings_resource import Settings

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "stockmonitor_assets"
# Variables a bad value of which `validate` missed before Settings (its own hand-made list).
ONCE_MISSED = [
    ("STOCKMONITOR_CHUNK_DAYS", "0", "STOCKMONITOR_CHUNK_DAYS='0' must be >= 1"),
    ("STOCKMONITOR_SCORES_DUE", "half past ten", "STOCKMONITOR_SCORES_DUE='half past ten'"),
    ("STOCKMONITOR_MAX_FILLED_SHARE", "1.5", "STOCKMONITOR_MAX_FILLED_SHARE='1.5' must be <= 1"),
    ("STOCKMONITOR_MIN_BAR_COVERAGE", "most", "STOCKMONITOR_MIN_BAR_COVERAGE='most' is not a"),
]


def test_defaults_are_those_documented_and_every_variable_is_in_the_readme():
    config = Settings.from_env({})
    assert (config.chunk_days, config.lookback_days, config.db_port) == (60, 250, 5432)
    assert config.cache_dir == Path("data/.cache") and config.qlib_dir == "data/qlib"
    assert not config.database_configured and config.run_health
    readme = (ROOT / "README.md").read_text()
    assert [var for var in settings_resource.VARIABLES.values() if f"`{var}`" not in readme] == [
        "XDG_CACHE_HOME",  # the user's cache directory, a standard, not ours to document
        "DAGSTER_HOME",  # Dagster's own (docs/cli.md, docs/production.md)
    ]


def test_one_error_names_every_bad_variable_and_its_value():
    environ = {name: value for name, value, _ in ONCE_MISSED} | {"DB_PORT": "5432x"}
    with pytest.raises(SettingsError) as bad:
        Settings.from_env(environ)
    assert bad.value.variables == [
        "STOCKMONITOR_CHUNK_DAYS",
        "STOCKMONITOR_MIN_BAR_COVERAGE",
        "STOCKMONITOR_MAX_FILLED_SHARE",
        "STOCKMONITOR_SCORES_DUE",
        "DB_PORT",
    ]
    for _, _, expected in ONCE_MISSED:
        assert expected in str(bad.value)
    assert "DB_PORT='5432x' is not an integer" in str(bad.value)


def test_a_secret_is_named_never_shown_and_stays_an_env_var():
    config = Settings.from_env(
        {"STOCKMONITOR_ALERT_WEBHOOK": "https://h/T0KEN", "DB_PASSWORD": "p"}
    )
    assert config.secrets_set == ["DB_PASSWORD", "STOCKMONITOR_ALERT_WEBHOOK"]
    assert "T0KEN" not in str(config.model_dump()) and "p" not in config.secrets_set
    assert config.webhook_url() is None  # an EnvVar, read from the real environment


def test_settings_are_frozen():
    config = Settings.from_env({})
    with pytest.raises(Exception, match="frozen|immutable|cannot"):
        config.chunk_days = 1  # type: ignore[misc]


@pytest.mark.parametrize(("name", "value", "expected"), ONCE_MISSED, ids=lambda v: str(v)[:30])
def test_validate_fails_on_a_bad_value_naming_the_variable(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["validate"], catch_exceptions=False)
    assert result.exit_code == 1
    assert expected in result.output


@pytest.mark.parametrize(("name", "value", "expected"), ONCE_MISSED[:3], ids=lambda v: str(v)[:30])
def test_the_code_location_load_fails_with_the_same_message(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=re.escape(expected)):
        build_defs()


def test_an_unknown_source_fails_validate_and_load_alike(monkeypatch):
    monkeypatch.setenv("STOCKMONITOR_SOURCE", "bloomberg")
    expected = "STOCKMONITOR_SOURCE='bloomberg' is not a known source"
    assert expected in CliRunner().invoke(main, ["validate"], catch_exceptions=False).output
    with pytest.raises(SettingsError, match=expected):
        build_defs()


def test_validate_still_checks_the_rest_when_a_variable_is_bad(monkeypatch, tmp_path):
    monkeypatch.setenv("STOCKMONITOR_CHUNK_DAYS", "-1")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "file"))
    (tmp_path / "file").write_text("not a directory")
    result = CliRunner().invoke(main, ["validate"], catch_exceptions=False)
    assert "STOCKMONITOR_CHUNK_DAYS='-1' must be >= 1" in result.output
    assert "file' is not a writable directory" in result.output


def test_the_built_settings_are_handed_to_the_resources():
    config = Settings.from_env(
        {"DATA_DIR": "/srv/d", "DB_HOST": "db", "DB_PORT": "6543", "STOCKMONITOR_MAX_GAP_DAYS": "7"}
    )
    defs = build_defs(config)
    assert defs.resources["settings"] is not None
    job = defs.resolve_job_def("daily_full_pipeline_job")
    resources = job.resource_defs
    assert {"settings", "io_manager", "database", "quality"} <= set(resources)
    quality = defs.resources["quality"]
    assert quality.max_gap_days == 7


# Where the environment may be read, and why (settings.py's docstring).
ALLOWED = {
    "settings.py": "the parsers, and the import-time uses they serve",
    "settings_resource.py": "Settings.from_env, the one reading of every variable",
    "cli/launch.py": "hands the environment to Dagster's own processes",
    "cli/checkup.py": "the instance's dagster.yaml `{env: ...}` variables",
}


def test_nothing_reads_the_environment_outside_settings_and_the_documented_exceptions():
    reads = re.compile(r"os\.environ|os\.getenv|getenv\(|settings\.get\(")
    found = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if reads.search(path.read_text())
    }
    assert found <= set(ALLOWED), found - set(ALLOWED)
