"""Log files: every run writes $LOG_DIR/dagster.log (all of its records) and
$LOG_DIR/stockmonitor.log (the project's loggers), through dagster.yaml's `python_logs`
handlers, the same in the repo's instance and the production one."""

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from stockmonitor_assets import logfiles
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets_tests.conftest import DEMO_CACHE, MARKET_ASSETS, Pipeline

REPO = Path(__file__).resolve().parents[1]
DAY = "2024-06-07"


def python_logs(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["python_logs"]


def test_both_instances_configure_the_same_log_files():
    assert python_logs(REPO / "dagster.yaml") == python_logs(REPO / "deploy" / "dagster.yaml")


def test_a_run_writes_both_files_in_log_dir(tmp_path, monkeypatch):
    """The in-process door (`stockmonitor run --in-process`, tests, execute_job)."""
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("STOCKMONITOR_RUN_HEALTH", "on")  # and a run-health line
    overrides = {"python_logs": python_logs(REPO / "dagster.yaml")}
    with dg.instance_for_test(overrides=overrides) as instance:
        source = DemoMarket(cache_dir=DEMO_CACHE, seed=3, universe_size=40)
        pipeline = Pipeline(tmp_path / "data", source, instance, chunk_days=1)  # a line a day
        run = pipeline.materialize(MARKET_ASSETS, "2024-06-05", DAY)
    dagster_log = (tmp_path / "logs" / "dagster.log").read_text()
    project_log = (tmp_path / "logs" / "stockmonitor.log").read_text().splitlines()
    assert f"{run.run_id} - " in dagster_log
    assert "RUN_START" in dagster_log and "STEP_SUCCESS" in dagster_log
    assert any("completed_ohlcv: 3/3 days written" in line for line in project_log)
    assert any("run health:" in line for line in project_log)
    assert all(" stockmonitor_assets." in line for line in project_log)  # no Dagster events


def test_dagster_asset_materialize_writes_the_logs_of_its_working_directory(tmp_path):
    """The CLI door, with the repo's dagster.yaml and LOG_DIR unset: ./logs."""
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DB_", "LOG_"))}
    env |= {"DATA_DIR": str(tmp_path / "data"), "STOCKMONITOR_UNIVERSE_SIZE": "30"}
    env |= {"STOCKMONITOR_RUN_HEALTH": "on"}
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "asset", "materialize", "-m", "stockmonitor_assets.definitions"]
    command += ["--select", "instruments", "--partition", DAY]
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    assert "RUN_SUCCESS" in (tmp_path / "logs" / "dagster.log").read_text()
    assert "run health:" in (tmp_path / "logs" / "stockmonitor.log").read_text()


def test_handlers_built_per_run_share_one_open_file_that_rotates(tmp_path, monkeypatch):
    monkeypatch.setenv("LOG_DIR", str(tmp_path))
    handlers = [logfiles.LogDirFileHandler("x.log", max_bytes=2_000, backup_count=2) for _ in "ab"]
    for i in range(100):
        handlers[i % 2].handle(logging.makeLogRecord({"msg": f"line {i:03d} " + "." * 40}))
    assert len({id(logfiles._files[h.path]) for h in handlers}) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.log", "x.log.1", "x.log.2"]
    assert "line 099" in (tmp_path / "x.log").read_text()
