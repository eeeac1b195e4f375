"""The `stockmonitor` command: validate the setup, list and run jobs through Dagster.

Runs execute in this process on the same Dagster instance the UI reads: $DAGSTER_HOME
when set, else ./.dagster_home (what `make ui` uses), so every run shows up in the UI with
its events. A date range is ONE run (a single-run backfill of the range).
"""

import os
import sys
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any

import click
import dagster as dg
import yaml

from stockmonitor_assets import settings
from stockmonitor_assets.run_request import (
    CONFIG_KEYS,
    PartitionRange,
    RunRequestError,
    default_run_config,
    parse_overrides,
    run_config,
    select_partitions,
)

# Step events go to the run's event log (and the UI); the terminal shows the progress bar.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@click.group()
def main() -> None:
    """Daily A-share data, indicators and scores, as Dagster assets."""
    # Dagster's API-lifecycle notices are for developers, not for someone running a job.
    for category in (dg.PreviewWarning, dg.BetaWarning, dg.SupersessionWarning):
        warnings.filterwarnings("ignore", category=category)


@main.command()
def validate() -> None:
    """Check configuration, credentials, database and calendar; exit 1 listing problems."""
    from stockmonitor_assets.checkup import check_setup

    problems, warnings = check_setup()
    for warning in warnings:
        click.echo(f"warning: {warning}")
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("ok: configuration is valid")


@main.command("list")
def list_definitions() -> None:
    """The jobs and assets of the code location."""
    defs = _defs()
    click.echo("jobs:")
    for job in _jobs(defs):
        click.echo(f"  {job.name:<28} {job.description or ''}")
    click.echo("assets:")
    graph = defs.resolve_asset_graph()
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        click.echo(f"  {key.to_user_string():<28} [{node.group_name}] {node.description or ''}")


@main.command("show-config")
@click.argument("job_name", metavar="JOB")
def show_config(job_name: str) -> None:
    """The job's default run config, as YAML (edit and pass values with --config)."""
    job = _job(_defs(), job_name)
    click.echo(yaml.safe_dump(default_run_config(_asset_names(job)), allow_unicode=True), nl=False)
    click.echo(f"# overridable with --config: {', '.join(CONFIG_KEYS)}")


@main.command()
@click.argument("job_name", metavar="JOB")
@click.option("--partition", help="One trading day, YYYY-MM-DD.")
@click.option("--start", help="First trading day of a range.")
@click.option("--end", help="Last trading day of a range (default: --start).")
@click.option("--days-back", type=int, help="The last N published trading days.")
@click.option(
    "--config",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="target_stocks=600000.SH,000001.SZ | days_back=N | weights.<factor>=W",
)
def run(
    job_name: str,
    partition: str | None,
    start: str | None,
    end: str | None,
    days_back: int | None,
    overrides: tuple[str, ...],
) -> None:
    """Materialize JOB for one day or a range, as one Dagster run."""
    defs = _defs()
    job = _job(defs, job_name)
    try:
        values = parse_overrides(overrides)
        if "days_back" in values:
            days_back = _int_option("days_back", values.pop("days_back"))
        selected = select_partitions(partition, start, end, days_back)
        config = run_config(values, _asset_names(job))
    except RunRequestError as exc:
        raise click.UsageError(str(exc)) from None
    with _instance() as instance:
        result = _execute(job, selected, config, instance)
    if not result.success:
        click.echo(f"run {result.run_id} failed: {_failure(result)}", err=True)
        raise SystemExit(1)
    click.echo(
        f"run {result.run_id} succeeded: {len(selected.days)} partition(s) "
        f"{selected.first}..{selected.last} of {job_name}"
    )


def _execute(
    job: dg.JobDefinition, selected: PartitionRange, config: dict, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    """One run for the whole selection, with a progress bar over its steps."""
    tags = {} if selected.is_single else _range_tags(selected)
    key = selected.first.isoformat() if selected.is_single else None
    run_id = str(uuid.uuid4())
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = job.execute_in_process(
                run_config={**config, **QUIET_CONSOLE},
                instance=instance,
                partition_key=key,
                tags=tags,
                run_id=run_id,
                raise_on_error=False,
            )
        except BaseException as exc:  # re-raised in the calling thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="stockmonitor-run")
    steps = len(job.nodes_in_topological_order)
    label = f"{job.name} {selected.first}..{selected.last} ({len(selected.days)} days)"
    with click.progressbar(length=steps, label=label, file=sys.stderr) as bar:
        worker.start()
        done = 0
        while worker.is_alive():
            worker.join(0.5)
            finished = _finished_steps(instance, run_id)
            bar.update(finished - done)
            done = finished
        bar.update(steps - done)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _finished_steps(instance: dg.DagsterInstance, run_id: str) -> int:
    if instance.get_run_by_id(run_id) is None:
        return 0
    records = instance.get_records_for_run(
        run_id, of_type={dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    ).records
    return len(records)


def _range_tags(selected: PartitionRange) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": selected.first.isoformat(),
        "dagster/asset_partition_range_end": selected.last.isoformat(),
    }


def _instance() -> dg.DagsterInstance:
    """The instance the UI reads: $DAGSTER_HOME's, else the dagster.yaml of this directory
    (the repo root's keeps everything under ./.dagster_home), as Dagster's own CLI does."""
    if settings.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    if not Path("dagster.yaml").exists():
        raise click.ClickException(
            "no Dagster instance: run from the repo root (its dagster.yaml) or set DAGSTER_HOME"
        )
    return dg.DagsterInstance.from_config(os.getcwd())


def _defs() -> dg.Definitions:
    """Definitions as the environment configures them now (not when first imported)."""
    try:
        from stockmonitor_assets.definitions import build_defs

        return build_defs()
    except ValueError as exc:
        raise click.ClickException(f"configuration: {exc} (run `stockmonitor validate`)") from None


def _jobs(defs: dg.Definitions) -> list[dg.JobDefinition]:
    return [j for j in defs.resolve_all_job_defs() if not j.name.startswith("__")]


def _job(defs: dg.Definitions, name: str) -> dg.JobDefinition:
    names = [j.name for j in _jobs(defs)]
    if name not in names:
        raise click.UsageError(f"unknown job {name!r}; jobs: {', '.join(names)}")
    return defs.resolve_job_def(name)


def _asset_names(job: dg.JobDefinition) -> list[str]:
    return sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys)


def _int_option(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise RunRequestError(f"{key}={value!r} is not an integer") from None


def _failure(result: dg.ExecuteInProcessResult) -> str:
    failures = result.get_step_failure_events()
    if not failures:
        return "see the run's events in the UI"
    event = failures[0]
    error = event.event_specific_data.error
    return f"step {event.step_key}: {error.message.strip() if error else 'failed'}"


if __name__ == "__main__":
    main()
