"""Launch a job run the way the UI does, and follow it until it finishes.

A `stockmonitor run` is submitted through a Dagster workspace with Dagster's public
`dagster job launch` command, so the run carries the code location's origin and is listed
under its job in the UI, goes through the instance's run coordinator (a queued coordinator
applies its per-source limit; it needs a running dagster-daemon, as runs launched from the
UI do) and executes in the instance's run launcher. `execute_in_process`/`execute_job`
would run it here but record no code location, so the UI could not link the run to its job.

The run is then followed through the instance's event log: one progress unit per asset
and partition materialized (per day of a range, as the assets land them).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import yaml

from stockmonitor_assets.alerts import daemon_alive
from stockmonitor_assets.errors import root_cause

# Must equal the location name in workspace.yaml (what `make ui` / `dagster dev -w` load),
# so runs launched here are listed under the same location's jobs.
LOCATION_NAME = "stockmonitor"
DEFINITIONS_MODULE = "stockmonitor_assets.definitions"
REQUEST_TAG = "stockmonitor/cli_request"
# Step events go to the run's event log (and the UI); the terminal shows the progress bar.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DAEMON_HINT_AFTER = 10.0  # seconds queued before saying that no daemon takes the run
_POLL = 0.5


class LaunchError(RuntimeError):
    """The run cannot be launched; the message says why and what to do."""


def require_a_runner(instance: dg.DagsterInstance) -> None:
    """Refuse, before anything is queued, a run that nothing would ever start: a queued
    coordinator (Dagster's default) needs a running dagster-daemon."""
    if isinstance(instance.run_coordinator, dg.QueuedRunCoordinator) and not daemon_alive(instance):
        raise LaunchError(
            "this Dagster instance queues runs and no dagster-daemon is running to start "
            "them: start `make ui` (or `dagster-daemon run`) in this directory, or add "
            "--in-process to run here (then the run is not linked to the job's code location)"
        )


def job_named(name: str) -> dg.JobDefinition:
    """The job `name` of the definitions as the environment configures them; the target of
    the reconstructable job an --in-process run executes."""
    from stockmonitor_assets.definitions import build_defs

    return build_defs().resolve_job_def(name)


def execute_here(
    job_name: str, request_id: str, run_config: dict, tags: dict[str, str]
) -> dg.JobExecutionResult:
    """Execute the run in this process on the instance (`dagster asset materialize`'s way).

    The run is found by the tag REQUEST_TAG=request_id (execute_job takes no run id).
    """
    job = dg.build_reconstructable_job(
        "stockmonitor_assets.cli.launch", "job_named", reconstructable_args=(job_name,)
    )
    with open_instance() as instance:
        return dg.execute_job(
            job,
            instance=instance,
            run_config={**run_config, **QUIET_CONSOLE},
            tags={**tags, REQUEST_TAG: request_id},
        )


def instance_home() -> str:
    """Where the instance's dagster.yaml is: $DAGSTER_HOME, else this directory's (the repo
    root's keeps everything under ./.dagster_home), as Dagster's own CLI reads it."""
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if home:
        return home
    if not Path("dagster.yaml").exists():
        raise LaunchError(
            "no Dagster instance: run from the repo root (its dagster.yaml) or set DAGSTER_HOME"
        )
    return os.getcwd()


def open_instance() -> dg.DagsterInstance:
    """The instance `make ui` and `dagster asset materialize` use here."""
    return dg.DagsterInstance.from_config(instance_home())


def run_id_for_request(instance: dg.DagsterInstance, request_id: str) -> str | None:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={REQUEST_TAG: request_id}), limit=1)
    return runs[0].run_id if runs else None


@dataclass(frozen=True)
class RunOutcome:
    run: dg.DagsterRun
    failure: str | None  # the first step failure's message, when the run failed


def launch(job_name: str, run_id: str, run_config: dict, tags: dict[str, str]) -> None:
    """Submit one run of `job_name` to the instance of $DAGSTER_HOME through a workspace."""
    with _workspace() as workspace:
        command = [
            sys.executable,
            "-m",
            "dagster",
            "job",
            "launch",
            "-w",
            str(workspace),
            "-l",
            LOCATION_NAME,
            "-j",
            job_name,
            "--run-id",
            run_id,
            "--tags",
            json.dumps(tags),
            "--config-json",
            json.dumps(run_config),
        ]
        # `dagster job launch` reads the instance from DAGSTER_HOME only.
        env = {**os.environ, "DAGSTER_HOME": instance_home()}
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise LaunchError(lines[-1] if lines else f"dagster job launch exited {done.returncode}")


def follow(
    instance: dg.DagsterInstance,
    run_id: str,
    on_materialized: Callable[[str, str], None],
    on_waiting: Callable[[str], None],
) -> RunOutcome:
    """Poll the run until it finishes; report each asset partition materialized.

    `on_materialized(asset, partition)` is called per materialization event;
    `on_waiting(message)` once if the run stays queued with no daemon to start it.
    """
    cursor, queued_since, hinted = None, time.monotonic(), False
    while True:
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise LaunchError(f"run {run_id} was not created")
        cursor = _report_materializations(instance, run_id, cursor, on_materialized)
        if run.is_finished:
            return RunOutcome(run, None if run.is_success else _first_failure(instance, run_id))
        waited = time.monotonic() - queued_since
        if run.status == dg.DagsterRunStatus.QUEUED and waited > DAEMON_HINT_AFTER and not hinted:
            hinted = True
            if not daemon_alive(instance):
                on_waiting(
                    "the run is queued and no dagster-daemon is running to start it: start "
                    "`dagster-daemon run` (or `make ui`) in this directory; waiting"
                )
        time.sleep(_POLL)


def _report_materializations(instance, run_id, cursor, on_materialized) -> str | None:
    connection = instance.get_records_for_run(
        run_id, cursor=cursor, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    for record in connection.records:
        event = record.event_log_entry.dagster_event
        on_materialized(event.asset_key.to_user_string(), event.partition or "")
    return connection.cursor or cursor


def _first_failure(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.get_records_for_run(
        run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        error = getattr(event.event_specific_data, "error", None)
        if error is not None:
            where = f"step {event.step_key}: " if event.step_key else ""
            return where + root_cause(error).message.strip().splitlines()[0]
        if record.event_log_entry.message:
            return record.event_log_entry.message
    return "see the run's events in the UI"


@contextmanager
def _workspace() -> Iterator[Path]:
    """A workspace file loading the definitions module as LOCATION_NAME, from this directory
    (where DATA_DIR and friends are resolved, like `make ui` in the repo root)."""
    workspace = {
        "load_from": [
            {
                "python_module": {
                    "module_name": DEFINITIONS_MODULE,
                    "working_directory": str(Path.cwd()),
                    "location_name": LOCATION_NAME,
                }
            }
        ]
    }
    with tempfile.TemporaryDirectory(prefix="stockmonitor-workspace-") as directory:
        path = Path(directory) / "workspace.yaml"
        path.write_text(yaml.safe_dump(workspace))
        yield path
