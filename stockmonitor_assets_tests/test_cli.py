"""The `stockmonitor` command: a run is a run of its job, submitted like the UI submits it
(listed under the job with the code location's origin); a range is one run with progress;
the original script's words work; bad input (closed day, bad or unknown code, unknown key,
reversed or future range) fails in one line naming it and writes nothing."""

import dagster as dg
import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from stockmonitor_assets.cli.launch import LOCATION_NAME
from stockmonitor_assets.cli.main import main
from stockmonitor_assets.trading_calendar import partition_date, sessions

# Runs start as soon as they are submitted (the queued default needs a dagster-daemon).
STARTS_AT_ONCE = {
    "run_coordinator": {
        "module": "dagster.core.run_coordinator",
        "class": "DefaultRunCoordinator",
    },
    "telemetry": {"enabled": False},
}


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STOCKMONITOR_UNIVERSE_SIZE", "50")
    monkeypatch.delenv("DB_HOST", raising=False)
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text(yaml.safe_dump(STARTS_AT_ONCE))
    return tmp_path


def stockmonitor(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.slow
def test_a_month_runs_as_one_run_with_progress_and_materializes_every_partition(env):
    result = stockmonitor("run", "full", "--start", "2024-01-02", "--end", "2024-01-31")
    assert result.exit_code == 0, result.output
    assert "daily_full_pipeline_job 2024-01-02..2024-01-31 (22 days)" in result.output
    expected = [
        d.isoformat() for d in sessions(partition_date("2024-01-02"), partition_date("2024-01-31"))
    ]
    assert sorted(p.stem for p in (env / "data" / "scores").glob("*.parquet")) == expected
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
        assert run.tags["dagster/asset_partition_range_end"] == "2024-01-31"


def test_a_cli_run_is_listed_under_its_job_with_the_code_location_origin(env):
    assert stockmonitor("run", "sync", "--partition", "2024-10-08").exit_code == 0
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(filters=dg.RunsFilter(job_name="daily_data_sync_job"))
    assert run.is_success and run.tags["dagster/partition"] == "2024-10-08"
    origin = run.remote_job_origin
    assert origin is not None and origin.job_name == "daily_data_sync_job"
    assert origin.repository_origin.code_location_origin.location_name == LOCATION_NAME
    # The UI lists a job's runs by this label (job page: runs of the job in this location).
    assert origin.repository_origin.get_label() == f"__repository__@{LOCATION_NAME}"


def test_the_cli_launches_into_the_location_the_workspace_file_names(env):
    workspace = yaml.safe_load(open("workspace.yaml"))
    (entry,) = workspace["load_from"]
    assert entry["python_module"]["location_name"] == LOCATION_NAME


def test_an_in_process_run_needs_no_daemon_and_is_still_a_run_of_the_job(env):
    (env / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # queued
    refused = stockmonitor("run", "sync", "--partition", "2024-10-08")
    assert refused.exit_code == 1
    assert "no dagster-daemon is running" in refused.output
    assert "--in-process" in refused.output
    result = stockmonitor("run", "sync", "--partition", "2024-10-08", "--in-process")
    assert result.exit_code == 0, result.output
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(filters=dg.RunsFilter(job_name="daily_data_sync_job"))
    assert run.is_success


@pytest.mark.slow
def test_the_readme_subset_sync_example_works_on_the_default_demo(env, monkeypatch):
    monkeypatch.delenv("STOCKMONITOR_UNIVERSE_SIZE")  # the default demo market
    assert stockmonitor("run", "sync", "--days-back", "2").exit_code == 0  # the whole market
    result = stockmonitor(
        "run",
        "daily_data_sync_job",
        "--days-back",
        "2",
        "--config",
        "target_stocks=600000.SH,000001.SZ",
    )
    assert result.exit_code == 0, result.output
    raw = pl.read_parquet(env / "data" / "raw_ohlcv" / "*.parquet")
    assert {"600000.XSHG", "000001.XSHE"} <= set(raw["order_book_id"])


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["--list"], "daily_full_pipeline_job"),
        (["--show-config"], "momentum: 0.15"),
        (["--validate"], "ok: configuration is valid"),
    ],
)
def test_the_original_scripts_option_forms_are_accepted(env, words, expected):
    result = stockmonitor(*words)
    assert result.exit_code == 0, result.output
    assert expected in result.output


def test_a_job_word_without_run_is_answered_with_the_right_command(env):
    result = stockmonitor("sync", "--days-back", "5")
    assert result.exit_code == 2
    assert "stockmonitor run sync --days-back 5" in result.output


def test_an_unknown_stock_code_is_a_one_line_error_with_exit_code_2(env):
    result = stockmonitor(
        "run", "sync", "--partition", "2024-10-08", "--config", "target_stocks=600001.SH"
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: target stock(s) ['600001.XSHG'] are not listed at source 'demo' on "
        "2024-10-08; nothing was written"
    ]
    assert not (env / "data").exists()
    with dg.DagsterInstance.get() as instance:
        assert not instance.get_runs()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--partition", "2024-10-01"],
            "2024-10-01 is not an XSHG trading day; "
            "nearest trading days: 2024-09-30 and 2024-10-08",
        ),
        (["--partition", "2024-10-08", "--config", "target_stocks=600000.SH,XYZ"], "'XYZ'"),
        (
            ["--partition", "2024-10-08", "--config", "colour=red"],
            "unknown config key 'colour'; valid keys: target_stocks, days_back, weights.trend",
        ),
        (
            ["--start", "2024-10-10", "--end", "2024-10-08"],
            "--start 2024-10-10 is after --end 2024-10-08",
        ),
        (["--partition", "2004-06-03"], "before the first partition 2005-01-04"),
        (["--partition", "2099-06-03"], "in the future"),
        (["--partition", "2024-13-01"], "not a date"),
        (["--partition", "2024-10-08", "--config", "weights.momentum=-1"], "must be >= 0"),
    ],
)
def test_bad_input_fails_naming_it_and_writes_nothing(env, args, message):
    result = stockmonitor("run", "daily_full_pipeline_job", *args)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (env / "data").exists()


def test_show_config_lists_target_stocks_and_default_weights(env):
    result = stockmonitor("show-config", "daily_full_pipeline_job")
    assert result.exit_code == 0
    assert "target_stocks: []" in result.output and "momentum: 0.15" in result.output


def test_list_names_the_five_jobs_with_their_words_and_validate_passes_on_the_demo(env):
    listed = stockmonitor("list").output
    for job in ("daily_data_sync_job", "data_completion_job", "indicator_calculation_job"):
        assert job in listed
    for word in ("sync", "completion", "calculation", "scoring", "full"):
        assert f" {word} " in listed
    assert "scoring_and_save_job" in listed and "daily_full_pipeline_job" in listed
    assert stockmonitor("validate").exit_code == 0


def test_validate_lists_every_problem(env, monkeypatch):
    monkeypatch.setenv("STOCKMONITOR_SOURCE", "rqdatac")
    monkeypatch.setenv("STOCKMONITOR_UNIVERSE_SIZE", "lots")
    for name in ("RQDATAC_API_KEY", "RQDATAC_USERNAME", "RQDATAC_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    result = stockmonitor("validate")
    assert result.exit_code == 1
    assert "STOCKMONITOR_UNIVERSE_SIZE='lots' is not an integer" in result.output
    assert "RQDatac credentials are missing" in result.output
