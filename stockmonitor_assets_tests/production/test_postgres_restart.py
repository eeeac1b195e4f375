"""The Postgres server restarts while a run saves stock_scores and the daemon ticks.

The run's save is held on a table lock, then the whole server is restarted
(`pg_ctl restart -m fast`, what `pg_ctlcluster ... restart` does: every connection of the
run worker, the daemon and the webserver is cut). The run fails cleanly, the day in
stock_scores is the old one whole (one transaction per day), the daemon, never restarted,
keeps ticking and retries the run (dagster.yaml `run_retries`), and the retry saves the
day whole.

The server is a cluster of this module's own (`throwaway_cluster.py`: initdb on a free
port), so the restart cuts no other test's connections and the module runs in parallel with
the rest of the suite.
"""

import contextlib
import time

import dagster as dg
import polars as pl
import psycopg2
import pytest

from stockmonitor_assets_tests.production.conftest import deployed, finished, recent_sessions
from stockmonitor_assets_tests.production.throwaway_cluster import throwaway_cluster

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

(DAY,) = recent_sessions(1)
AUTOMATION_TICKS = """
{ sensorOrError(sensorSelector: {repositoryLocationName: "stockmonitor",
      repositoryName: "__repository__", sensorName: "stockmonitor_automation"}) {
    ... on Sensor { sensorState { ticks(limit: 5) { timestamp status } } } } }"""


def wait_for_server(server: dict, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg2.OperationalError):
            psycopg2.connect(dbname="postgres", connect_timeout=2, **server).close()
            return
        time.sleep(0.2)
    pytest.fail("the Postgres server did not come back")


@pytest.fixture(scope="module")
def cluster():
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, cluster):
    root = tmp_path_factory.mktemp("restart")
    with deployed(root, [("*", DAY, DAY)], server=cluster.server) as deployment:
        yield deployment


def waiting_saves(server: dict, database: str) -> int:
    """Sessions of the project's Postgres client (application_name) waiting on a lock."""
    with contextlib.closing(psycopg2.connect(dbname="postgres", **server)) as conn:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                " AND application_name = 'stockmonitor' AND wait_event_type = 'Lock'",
                (database,),
            )
            return cur.fetchone()[0]


def test_a_restart_mid_save_fails_the_run_cleanly_and_the_daemon_retries_it(deployment, cluster):
    server = cluster.server
    day_rows = pl.read_parquet(deployment.data_dir / "scores" / f"{DAY}.parquet").height
    assert deployment.scores_rows(DAY) == day_rows
    lock = psycopg2.connect(dbname=deployment.database, **server)
    with lock.cursor() as cur:
        cur.execute("LOCK TABLE stock_scores IN ACCESS EXCLUSIVE MODE")
    run_id = deployment.launch("scoring_and_save_job", DAY)
    deployment.wait_until(
        lambda: waiting_saves(server, deployment.database), 120, "the save to wait"
    )

    started = time.time()
    cluster.restart()
    wait_for_server(server)
    restarted = time.time()
    lock.close()

    with deployment.instance() as instance:
        failed = deployment.wait_until(lambda: finished(instance, run_id), 120, "the run to end")
        assert failed.status == dg.DagsterRunStatus.FAILURE
        assert deployment.scores_rows(DAY) == day_rows  # the old day, whole
        retry = deployment.wait_until(lambda: _retry(instance, run_id), 180, "the retry")
        assert retry.status == dg.DagsterRunStatus.SUCCESS
    assert deployment.scores_rows(DAY) == day_rows
    assert restarted - started < 30


def test_the_daemon_keeps_ticking_after_the_restart_without_being_restarted(deployment):
    after = time.time()
    deployment.wait_until(
        lambda: any(
            t["timestamp"] > after and t["status"] in ("SKIPPED", "SUCCESS")
            for t in deployment.graphql(AUTOMATION_TICKS)["sensorOrError"]["sensorState"]["ticks"]
        ),
        120,
        "an automation tick after the restart",
    )
    assert all(process.poll() is None for process in deployment.processes)


def _retry(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    """The finished retry of `run_id`; fails at once, with Dagster's reason, when the daemon
    has given up retrying it (it tags the run `dagster/will_retry=false` and never tries
    again when creating the retry raised)."""
    retries = instance.get_runs(dg.RunsFilter(tags={"dagster/parent_run_id": run_id}))
    if retries:
        return finished(instance, retries[0].run_id)
    if instance.get_run_by_id(run_id).tags.get("dagster/will_retry") == "false":
        events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        errors = [e.dagster_event.engine_event_data.error for e in events]
        reasons = [error.to_string() for error in errors if error is not None]
        pytest.fail(f"the daemon gave up retrying run {run_id}: {reasons or 'no reason recorded'}")
    return None
