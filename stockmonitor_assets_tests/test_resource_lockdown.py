"""Run config cannot redirect a resource: destinations and credentials come from the environment.

Dagster's UI has no login; a run whose config pointed `database.host` at another server with
`password: {env: DB_PASSWORD}` would hand the password over. Such runs are refused before
they start, by the job's config schema (what the UI's launchpad and `dagster job launch`
check) and by `execute_in_process` / `materialize`.
"""

import dagster as dg
import pytest

from stockmonitor_assets.database import PostgresResource
from stockmonitor_assets.definitions import build_defs
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.resources import MarketDataResource, fixed_by_environment
from stockmonitor_assets.settings_resource import Settings

ATTACKS = {
    "database": {"host": "attacker.example", "password": {"env": "DB_PASSWORD"}},
    "market_data": {
        "rqdatac_base_url": "attacker.example:16011",
        "rqdatac_api_key": {"env": "RQDATAC_API_KEY"},
    },
    "io_manager": {"base_dir": "/elsewhere"},
    # The settings assets and sensors read mid-run: the qlib directory, the alerts' log dir.
    "settings": {"qlib_dir_given": "/elsewhere", "log_dir": "/elsewhere"},
}
FILES_DIR_ATTACK = ("market_data", {"files_dir": "/elsewhere"})
CASES = [*ATTACKS.items(), FILES_DIR_ATTACK]


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    for name, value in {
        "DB_HOST": "db.internal",
        "DB_PASSWORD": "pg-secret",
        "RQDATAC_API_KEY": "rq-secret",
        "DATA_DIR": str(tmp_path / "data"),
        "STOCKMONITOR_SOURCE": "demo",
    }.items():
        monkeypatch.setenv(name, value)


def _overriding(resource: str, config: dict) -> dict:
    return {"resources": {resource: {"config": config}}}


@pytest.mark.parametrize(("resource", "config"), CASES, ids=lambda c: str(c)[:40])
def test_the_jobs_config_schema_refuses_a_resource_override_naming_the_field(
    production_env, resource, config
):
    job = build_defs().resolve_job_def("daily_full_pipeline_job")
    with pytest.raises(dg.DagsterInvalidConfigError) as refused:
        dg.validate_run_config(job, _overriding(resource, config))
    message = str(refused.value)
    assert f"root:resources:{resource}:config" in message
    assert all(field in message for field in config)


def test_execute_in_process_refuses_a_database_override_before_the_run_starts(production_env):
    job = build_defs().resolve_job_def("scoring_and_save_job")
    with dg.DagsterInstance.ephemeral() as instance:
        with pytest.raises(dg.DagsterInvalidConfigError, match="host"):
            job.execute_in_process(
                run_config=_overriding("database", ATTACKS["database"]),
                instance=instance,
                partition_key="2024-01-02",
            )
        assert instance.get_runs() == []


def test_jobs_still_take_their_asset_config(production_env):
    job = build_defs().resolve_job_def("daily_full_pipeline_job")
    assert dg.validate_run_config(job, {"ops": {"scores": {"config": {"weights": {"trend": 0.5}}}}})


SEEN: dict[str, str | None] = {}


@dg.asset
def destinations(
    database: PostgresResource, market_data: MarketDataResource, settings: Settings
) -> None:
    SEEN.update(host=database.host, password=database.password, url=market_data.rqdatac_base_url)
    SEEN.update(qlib_dir=settings.qlib_dir)


def _fixed(tmp_path) -> dict:
    return fixed_by_environment(
        {
            "database": PostgresResource(host="db.internal", password=dg.EnvVar("DB_PASSWORD")),
            "market_data": MarketDataResource(source="demo", rqdatac_base_url="rq.internal:16011"),
            "io_manager": PartitionedParquetIOManager(base_dir=str(tmp_path / "data")),
            "settings": Settings.from_env({"DATA_DIR": str(tmp_path / "data")}),
        }
    )


@pytest.mark.parametrize(("resource", "config"), CASES, ids=lambda c: str(c)[:40])
def test_materialize_refuses_an_override_of_a_fixed_resource(tmp_path, resource, config):
    with pytest.raises(dg.DagsterInvalidConfigError) as refused:
        dg.materialize(
            [destinations], resources=_fixed(tmp_path), run_config=_overriding(resource, config)
        )
    assert all(field in str(refused.value) for field in config)


def test_fixed_resources_keep_their_values_and_resolve_secrets_at_run_time(tmp_path, monkeypatch):
    resources = _fixed(tmp_path)
    monkeypatch.setenv("DB_PASSWORD", "read-when-the-run-starts")
    SEEN.clear()
    assert dg.materialize([destinations], resources=resources).success
    assert SEEN == {
        "host": "db.internal",
        "password": "read-when-the-run-starts",
        "url": "rq.internal:16011",
        "qlib_dir": str(tmp_path / "data" / "qlib"),
    }
