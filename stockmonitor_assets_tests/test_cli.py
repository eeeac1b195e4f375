"""The `stockmonitor` command: a range runs as one Dagster run with progress; bad input
(closed day, bad code, unknown key, reversed or future range) fails naming it and writes
nothing."""

import dagster as dg
import pytest
from click.testing import CliRunner

from stockmonitor_assets.cli import main
from stockmonitor_assets.trading_calendar import partition_date, sessions


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STOCKMONITOR_UNIVERSE_SIZE", "50")
    monkeypatch.delenv("DB_HOST", raising=False)
    (tmp_path / "home").mkdir()
    return tmp_path


def stockmonitor(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_month_runs_as_one_run_with_progress_and_materializes_every_partition(env):
    result = stockmonitor(
        "run", "daily_full_pipeline_job", "--start", "2024-01-02", "--end", "2024-01-31"
    )
    assert result.exit_code == 0, result.output
    assert "daily_full_pipeline_job 2024-01-02..2024-01-31 (22 days)" in result.output
    expected = [
        d.isoformat() for d in sessions(partition_date("2024-01-02"), partition_date("2024-01-31"))
    ]
    assert sorted(p.stem for p in (env / "data" / "scores").glob("*.parquet")) == expected
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
        assert run.tags["dagster/asset_partition_range_end"] == "2024-01-31"


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
        (["--partition", "2014-06-03"], "before the first partition"),
        (["--partition", "2099-06-03"], "in the future"),
        (["--partition", "2024-13-01"], "not a date"),
        (["--partition", "2024-10-08", "--config", "weights.momentum=-1"], "must be >= 0"),
    ],
)
def test_bad_input_fails_naming_it_and_writes_nothing(env, args, message):
    result = stockmonitor("run", "daily_full_pipeline_job", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert not (env / "data").exists()


def test_show_config_lists_target_stocks_and_default_weights(env):
    result = stockmonitor("show-config", "daily_full_pipeline_job")
    assert result.exit_code == 0
    assert "target_stocks: []" in result.output and "momentum: 0.15" in result.output


def test_list_names_the_five_jobs_and_validate_passes_on_the_demo(env):
    listed = stockmonitor("list").output
    for job in ("daily_data_sync_job", "data_completion_job", "indicator_calculation_job"):
        assert job in listed
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
