"""The `stockmonitor` command: validate the setup, list and run jobs through Dagster.

`stockmonitor run JOB` submits ONE run of the job (a date range is a single-run backfill of
the range) the way the UI does: through a workspace and the instance's run coordinator
(`launch.py`), so the run is listed under its job in the UI with the code location's
origin. The instance is $DAGSTER_HOME when set, else ./.dagster_home (what `make ui` uses).
The terminal shows a progress bar over the run's asset partitions (per day of a range).

The original `run_jobs.py` words work: `stockmonitor run sync --days-back 5`, `full`, ...;
`stockmonitor --list`, `--validate` and `--show-config` do what `list`, `validate` and
`show-config` do.
"""

import sys
import threading
import time
import uuid
import warnings

import click
import dagster as dg
import yaml

FULL_PIPELINE = "daily_full_pipeline_job"


class InputError(click.ClickException):
    """A bad argument: one line on stderr, exit code 2 (like click's usage errors)."""

    exit_code = 2


class StockmonitorGroup(click.Group):
    """Answers `stockmonitor sync ...` (the original script's form) with the right command."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and args[0] not in self.commands:
            words = _run_request().JOB_ALIASES
            if args[0] in words or args[0] in words.values():
                raise InputError(f"jobs run with: stockmonitor run {' '.join(args)}")
        return super().resolve_command(ctx, args)


@click.group(cls=StockmonitorGroup, invoke_without_command=True)
@click.option("--list", "list_", is_flag=True, help="Same as `stockmonitor list`.")
@click.option("--validate", "validate_", is_flag=True, help="Same as `stockmonitor validate`.")
@click.option("--show-config", "show_config_", is_flag=True, help=f"`show-config {FULL_PIPELINE}`.")
@click.pass_context
def main(ctx: click.Context, list_: bool, validate_: bool, show_config_: bool) -> None:
    """Daily A-share data, indicators and scores, as Dagster assets."""
    # Dagster's API-lifecycle notices are for developers, not for someone running a job.
    for category in (dg.PreviewWarning, dg.BetaWarning, dg.SupersessionWarning):
        warnings.filterwarnings("ignore", category=category)
    if ctx.invoked_subcommand is not None:
        return
    if list_:
        ctx.invoke(list_definitions)
    elif validate_:
        ctx.invoke(validate)
    elif show_config_:
        ctx.invoke(show_config, job_name=FULL_PIPELINE)
    else:
        click.echo(ctx.get_help())


@main.command()
def validate() -> None:
    """Check configuration, credentials, database and calendar; exit 1 listing problems."""
    from stockmonitor_assets.cli.checkup import check_setup, checklist

    for name, checked, problem in checklist():
        click.echo(f"{'ok' if problem is None else 'PROBLEM':<8} {name:<14} {checked}")
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
    words = {job: word for word, job in _run_request().JOB_ALIASES.items()}
    click.echo("jobs (name, or the word `stockmonitor run` also takes):")
    for job in _jobs(defs):
        click.echo(f"  {job.name:<28} {words.get(job.name, ''):<12} {_first_line(job.description)}")
    click.echo("assets:")
    graph = defs.resolve_asset_graph()
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        summary = _first_line(node.description)
        click.echo(f"  {key.to_user_string():<28} [{node.group_name}] {summary}")


@main.command("show-config")
@click.argument("job_name", metavar="JOB")
def show_config(job_name: str) -> None:
    """The job's default run config, as YAML (edit and pass values with --config)."""
    request = _run_request()
    job = _job(_defs(), job_name)
    config = request.default_run_config(_asset_names(job))
    click.echo(yaml.safe_dump(config, allow_unicode=True), nl=False)
    click.echo(f"# overridable with --config: {', '.join(request.CONFIG_KEYS)}")


@main.command()
@click.argument("job_name", metavar="JOB")
@click.option("--partition", help="One trading day, YYYY-MM-DD.")
@click.option("--start", help="First trading day of a range.")
@click.option("--end", help="Last trading day of a range (default: --start).")
@click.option("--days-back", type=int, help="The last N trading days before today.")
@click.option(
    "--config",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="target_stocks=600000.SH,000001.SZ | days_back=N | weights.<factor>=W",
)
@click.option(
    "--in-process",
    is_flag=True,
    help="Execute here instead of submitting to the instance (no daemon needed; the run "
    "is not linked to the job's code location in the UI).",
)
def run(
    job_name: str,
    partition: str | None,
    start: str | None,
    end: str | None,
    days_back: int | None,
    overrides: tuple[str, ...],
    in_process: bool,
) -> None:
    """Materialize JOB for one day or a range, as one Dagster run.

    JOB is a job name or the original script's word for it: sync, completion,
    calculation, scoring, full.
    """
    request = _run_request()
    name = _job_name(job_name)
    try:
        values = request.parse_overrides(overrides)
        if "days_back" in values:
            days_back = _int_option("days_back", values.pop("days_back"))
        selected = request.select_partitions(partition, start, end, days_back)
        # The arguments are answered above, before the code location loads (~0.5 s).
        job = _defs().resolve_job_def(name)
        config = request.run_config(values, _asset_names(job))
        _require_known_targets(request, request.target_stocks(values), selected.days)
    except request.RunRequestError as exc:
        raise InputError(str(exc)) from None
    with _instance() as instance:
        outcome = _launch_and_follow(job, selected, config, instance, in_process)
    run_id = outcome.run.run_id
    if outcome.failure is not None:
        click.echo(f"run {run_id} failed: {outcome.failure}", err=True)
        raise SystemExit(1)
    click.echo(
        f"run {run_id} succeeded: {len(selected.days)} partition(s) "
        f"{selected.first}..{selected.last} of {job.name}"
    )


@main.command()
@click.option("--date", "day", help="Trading day YYYY-MM-DD (default: the latest scored day).")
@click.option("--open", "open_", is_flag=True, help="Open it in a web browser, if there is one.")
def report(day: str | None, open_: bool) -> None:
    """Write (or locate, when it is newer than its inputs) a day's market report (HTML)."""
    from stockmonitor_assets.cli import report_files

    try:
        path, written = report_files.ensure_report(day, _settings().data_dir)
    except report_files.ReportError as exc:
        raise InputError(str(exc)) from None
    click.echo(f"{'wrote' if written else 'report'} {path}")
    if open_ and not report_files.open_in_browser(path):
        click.echo("no web browser available here; open the file above", err=True)


@main.command()
@click.option("--last", "last", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--job", "job_name", help="Only runs of this job (e.g. daily_full_pipeline_job).")
@click.option("--run", "run_id", help="The steps of one run (its id, or the id's first chars).")
def health(last: int, job_name: str | None, run_id: str | None) -> None:
    """Run health: wall and CPU time, rows, rows/s, peak memory and outcome of recent runs."""
    from stockmonitor_assets.health import report_cli

    try:
        click.echo(report_cli.health_text(_settings().data_dir, last, job_name, run_id))
    except report_cli.HealthError as exc:
        raise InputError(str(exc)) from None


def _launch_and_follow(job: dg.JobDefinition, selected, config: dict, instance, in_process: bool):
    """Start one run for the whole selection and follow it with a progress bar."""
    from stockmonitor_assets.cli import launch as cli_launch

    tags = _range_tags(selected) if not selected.is_single else _partition_tag(selected)
    try:
        run_id, worker = _start(cli_launch, job.name, config, tags, instance, in_process)
    except cli_launch.LaunchError as exc:
        raise click.ClickException(f"could not launch {job.name}: {exc}") from None
    total = len(_asset_names(job)) * len(selected.days)
    count = len(selected.days)
    label = f"{job.name} {selected.first}..{selected.last} ({count} day{'s' * (count != 1)})"
    with click.progressbar(
        length=total, label=label, file=sys.stderr, item_show_func=lambda item: item
    ) as bar:
        outcome = cli_launch.follow(
            instance,
            run_id,
            on_materialized=lambda asset, day: bar.update(1, f"{asset} {day}"),
            on_waiting=lambda message: click.echo(f"\n{message}", err=True),
        )
        if outcome.failure is None:
            bar.update(total - bar.pos)
    if worker is not None:
        worker.join()
    return outcome


def _start(cli_launch, job_name: str, config: dict, tags: dict, instance, in_process: bool):
    """Submit the run (or execute it in a thread here); returns its id and the thread."""
    if not in_process:
        cli_launch.require_a_runner(instance)
        run_id = str(uuid.uuid4())
        cli_launch.launch(job_name, run_id, config, tags)
        return run_id, None
    request_id = str(uuid.uuid4())
    worker = threading.Thread(
        target=cli_launch.execute_here,
        args=(job_name, request_id, config, tags),
        name="stockmonitor-run",
        daemon=True,
    )
    worker.start()
    while (run_id := cli_launch.run_id_for_request(instance, request_id)) is None:
        if not worker.is_alive():
            raise cli_launch.LaunchError("the run could not be created; see the log above")
        time.sleep(0.2)
    return run_id, worker


def _require_known_targets(request, targets: list[str], days) -> None:
    """An unknown code fails here, before any run exists (the run guard would refuse it)."""
    if not targets:
        return
    from stockmonitor_assets.resources import as_a_run_reads_it, market_data_from

    source = as_a_run_reads_it(market_data_from(_settings())).client()
    request.require_listed(targets, days, request.listed_codes(source), source.name)


def _settings():
    """The settings of the environment, as the code location builds them; a bad variable is
    an input error naming it (and every other bad one)."""
    from stockmonitor_assets.settings import SettingsError
    from stockmonitor_assets.settings_resource import Settings

    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise InputError(str(exc)) from None


def _partition_tag(selected) -> dict[str, str]:
    return {"dagster/partition": selected.first.isoformat()}


def _range_tags(selected) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": selected.first.isoformat(),
        "dagster/asset_partition_range_end": selected.last.isoformat(),
    }


def _instance() -> dg.DagsterInstance:
    from stockmonitor_assets.cli import launch as cli_launch

    try:
        return cli_launch.open_instance()
    except cli_launch.LaunchError as exc:
        raise click.ClickException(str(exc)) from None


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
    return defs.resolve_job_def(_job_name(name))


def _job_name(name: str) -> str:
    """The job a name or word means: the code location defines exactly `jobs.JOB_NAMES`."""
    from stockmonitor_assets.jobs import JOB_NAMES

    request = _run_request()
    try:
        return request.resolve_job_name(name, JOB_NAMES)
    except request.RunRequestError as exc:
        raise InputError(str(exc)) from None


def _run_request():
    """The request module, imported late: it loads the calendar, whose settings
    (STOCKMONITOR_HISTORY_START, holiday lists) may be wrong; say so in one line."""
    try:
        from stockmonitor_assets import run_request
    except ValueError as exc:
        raise click.ClickException(f"configuration: {exc} (run `stockmonitor validate`)") from None
    return run_request


def _asset_names(job: dg.JobDefinition) -> list[str]:
    return sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys)


def _first_line(text: str | None) -> str:
    """A docstring's summary line: `list` is a table, not a manual."""
    return (text or "").strip().split("\n", 1)[0]


def _int_option(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _run_request().RunRequestError(f"{key}={value!r} is not an integer") from None


if __name__ == "__main__":
    main()
