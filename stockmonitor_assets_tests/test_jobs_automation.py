"""Jobs and automation: the five jobs, the one sensor, and what the conditions request.

Conditions are evaluated with `dg.evaluate_automation_conditions` across simulated clock
ticks (Asia/Shanghai), on the real asset graph, with materializations reported to a temp
instance instead of running anything.
"""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import dotenv
import pytest
import yaml

from stockmonitor_assets.assets import database, indicators, market, qlib_export, scoring
from stockmonitor_assets.assets.partitions import SOURCE_POOL
from stockmonitor_assets.automation import SENSOR_NAME, sync_condition, with_automation
from stockmonitor_assets.definitions import build_defs, defs
from stockmonitor_assets.jobs import JOB_NAMES, SOURCE_ASSETS
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.trading_calendar import (
    latest_published_day,
    partition_key,
    trading_day_partitions,
)

REPO = Path(__file__).resolve().parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")
ALL_ASSETS = [
    "instruments", "raw_ohlcv", "completed_ohlcv", "fundamentals", "technical_indicators",
    "fundamental_indicators", "merged", "scores", "scores_table", "qlib_provider",
]  # fmt: skip


def at(day: str, time: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=SHANGHAI)


class Clock:
    """Evaluates every condition at successive times, carrying the cursor like the daemon."""

    def __init__(self, definitions: dg.Definitions, instance: dg.DagsterInstance):
        self.defs, self.instance, self.cursor = definitions, instance, None

    def tick(self, when: dt.datetime) -> dict[str, set[str]]:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, evaluation_time=when, cursor=self.cursor
        )
        self.cursor = result.cursor
        keys = self.defs.resolve_asset_graph().get_all_asset_keys()
        requested = {k.to_user_string(): result.get_requested_partitions(k) for k in keys}
        return {asset: parts for asset, parts in requested.items() if parts}


def graph_assets(cron: str | None = None, checks=()) -> dg.Definitions:
    assets = dg.load_assets_from_modules([market, indicators, scoring, database, qlib_export])
    return dg.Definitions(
        assets=with_automation(assets, cron or Settings.from_env().sync_cron),
        asset_checks=list(checks),
        resources=defs.resources,
    )


def report(instance: dg.DagsterInstance, asset: str, *keys: str) -> None:
    for key in keys:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=key))


def only_day(requested: dict[str, set[str]]) -> str:
    (day,) = set().union(*requested.values())
    return day


@pytest.fixture
def clock(instance) -> Clock:
    return Clock(graph_assets(), instance)


def test_the_five_jobs_are_partitioned_on_trading_days_and_source_assets_share_one_pool():
    jobs = {j.name: j for j in defs.resolve_all_job_defs() if not j.name.startswith("__")}
    assert sorted(jobs) == sorted(JOB_NAMES)
    for job in jobs.values():
        assert job.partitions_def == trading_day_partitions
    pools = {
        key.to_user_string(): defs.resolve_assets_def(key).op.pool
        # scores_table without a database and run_health are not executable: no op, no pool.
        for key in defs.resolve_asset_graph().materializable_asset_keys
    }
    calling = {"instruments", "raw_ohlcv", "completed_ohlcv", "fundamentals"}
    calling.add("technical_indicators")  # window days never stored come from the source
    assert {asset for asset, pool in pools.items() if pool == SOURCE_POOL} == calling
    assert {pool for asset, pool in pools.items() if asset not in calling} == {None}


def test_scores_table_is_saved_by_the_scoring_jobs_only_where_a_database_is_configured(
    monkeypatch,
):
    """Without DB_HOST it is in the graph but not executable: no run (a UI backfill of
    everything included) materializes nothing for it, nor claims a save."""
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey("scores_table") in graph.get_all_asset_keys()
    assert dg.AssetKey("scores_table") not in graph.materializable_asset_keys
    for name in ("scoring_and_save_job", "daily_full_pipeline_job"):
        keys = defs.resolve_job_def(name).asset_layer.executable_asset_keys
        assert dg.AssetKey("scores_table") not in keys, name
    monkeypatch.setenv("DB_HOST", "127.0.0.1")
    configured = build_defs()
    for name in ("scoring_and_save_job", "daily_full_pipeline_job"):
        keys = configured.resolve_job_def(name).asset_layer.executable_asset_keys
        assert dg.AssetKey("scores_table") in keys, name


def test_only_the_automation_sensor_triggers_runs_and_it_is_running_by_default():
    sensors = list(defs.sensors)
    automation = [s for s in sensors if isinstance(s, dg.AutomationConditionSensorDefinition)]
    assert [s.name for s in automation] == [SENSOR_NAME]
    assert automation[0].default_status == dg.DefaultSensorStatus.RUNNING
    # Other sensors (freshness checks, failure alerts) observe; none targets a job or asset.
    assert all(not s.targets for s in sensors if s not in automation)
    assert not list(defs.schedules or [])


@pytest.mark.parametrize(
    ("now", "day"),
    [
        (("2024-06-12", "09:00"), "2024-06-11"),
        (("2024-06-11", "09:00"), "2024-06-07"),  # 06-10 Dragon Boat
        # A session's partition exists from 00:00 after it (trading_calendar.py), so an
        # evening tick still syncs the previous session, and the next morning's tick this one.
        (("2024-06-12", "16:00"), "2024-06-11"),
        (("2024-06-13", "00:30"), "2024-06-12"),
        (("2024-10-01", "09:00"), "2024-09-30"),  # National Day
        (("2024-06-15", "09:00"), "2024-06-14"),  # Saturday
    ],
)
def test_sync_targets_the_latest_published_session_on_any_day(now, day):
    """The condition's day (Dagster's latest time window) is the calendar's published day."""
    when = at(*now)
    assert partition_key(latest_published_day(when)) == day
    clock = Clock(dg.Definitions(assets=[_synced_every_minute()]), dg.DagsterInstance.ephemeral())
    clock.tick(when - dt.timedelta(seconds=50))  # a cron minute passes between the two ticks
    assert clock.tick(when + dt.timedelta(seconds=10)) == {"synced": {day}}


def _synced_every_minute() -> dg.AssetsDefinition:
    @dg.asset(
        partitions_def=trading_day_partitions,
        automation_condition=sync_condition("* * * * *"),
    )
    def synced() -> None: ...

    return synced


def test_trading_day_requests_the_previous_day_once_at_the_first_tick_after_nine(clock):
    assert clock.tick(at("2024-06-12", "08:59")) == {}
    requested = clock.tick(at("2024-06-12", "09:00:30"))
    assert only_day(requested) == "2024-06-11"
    assert set(SOURCE_ASSETS) <= set(requested)
    # Everything downstream follows in the same tick (eager): no asset depends on another
    # partition of itself (completed_ohlcv reads its previous day, technical_indicators its
    # window, from the store), so the whole day is requested at once.
    assert set(requested) == set(ALL_ASSETS)
    assert clock.tick(at("2024-06-12", "14:00")) == {}


def test_upstream_update_mid_day_requests_downstream_eagerly(clock, instance):
    report(instance, "instruments", "2024-06-11")
    report(instance, "completed_ohlcv", "2024-06-07")
    assert clock.tick(at("2024-06-12", "10:00")) == {}
    report(instance, "raw_ohlcv", "2024-06-11")
    # completed_ohlcv has both its inputs; its indicators follow it in the same tick.
    assert clock.tick(at("2024-06-12", "11:00")) == {
        "completed_ohlcv": {"2024-06-11"},
        "technical_indicators": {"2024-06-11"},
    }


def deployment_dagster_settings() -> dict[str, str]:
    """Dagster's own variables every Dagster process of a deployment gets: the repo-root
    `.env` (Dagster's commands load it from where they start) and docker-compose's."""
    env = REPO / ".env"
    values = dict(dotenv.dotenv_values(env)) if env.exists() else {}
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    values.update(compose["x-instance-env"])
    return {name: str(value) for name, value in values.items() if name.startswith("DAGSTER_")}


def test_a_day_already_in_a_run_is_not_synced_again_at_the_next_tick(clock, instance, monkeypatch):
    """The sensor must see a run in flight (`in_progress`) under the settings a deployment's
    daemon runs with: a sync queued behind another, or slower than the cron, is not launched
    twice. (DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true hides every partitioned run
    from `in_progress`: its planned events name no partition.)"""
    for name, value in deployment_dagster_settings().items():
        monkeypatch.setenv(name, value)
    sync = defs.resolve_job_def("daily_data_sync_job")
    instance.create_run_for_job(
        sync,
        asset_selection={dg.AssetKey(asset) for asset in SOURCE_ASSETS},
        tags={"dagster/partition": "2024-06-11"},
    )
    assert clock.tick(at("2024-06-12", "08:59")) == {}
    assert clock.tick(at("2024-06-12", "09:00:30")) == {}


@dg.asset_check(asset="merged", blocking=True, partitions_def=trading_day_partitions)
def merged_is_sane() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def materialize_merged_with_its_check(instance: dg.DagsterInstance, day: str, passed: bool) -> list:
    """A run materializing a stand-in `merged` for `day` whose `merged_is_sane` gives `passed`:
    the check evaluation targets that materialization, as in a real run."""

    @dg.asset(
        name="merged",
        partitions_def=trading_day_partitions,
        check_specs=[
            dg.AssetCheckSpec(
                "merged_is_sane", asset="merged", blocking=True,
                partitions_def=trading_day_partitions,
            )
        ],
    )  # fmt: skip
    def stand_in() -> dg.MaterializeResult:
        return dg.MaterializeResult(
            check_results=[dg.AssetCheckResult(check_name="merged_is_sane", passed=passed)]
        )

    result = dg.materialize([stand_in], partition_key=day, instance=instance, raise_on_error=False)
    return result.get_asset_check_evaluations()


@pytest.mark.parametrize("passed", [True, False])
def test_scores_wait_while_a_blocking_check_upstream_has_failed(instance, passed):
    clock = Clock(graph_assets(checks=[merged_is_sane]), instance)
    assert clock.tick(at("2024-06-12", "10:00")) == {}
    (evaluation,) = materialize_merged_with_its_check(instance, "2024-06-11", passed)
    assert evaluation.passed is passed and evaluation.partition == "2024-06-11"
    requested = clock.tick(at("2024-06-12", "11:00"))
    followers = {s: {"2024-06-11"} for s in ("scores", "scores_table", "qlib_provider")}
    assert requested == (followers if passed else {})
