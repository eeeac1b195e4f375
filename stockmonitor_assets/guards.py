"""The code location's executor: every run passes its guard before any step, whatever door
launched it (the UI, a backfill, `dagster asset materialize`, `dagster job launch`, the
daemon, `stockmonitor run` in both modes).

A refused run is *canceled*, not failed, before anything is written: Dagster shows a
partition as failed when the latest run that planned it failed without materializing it,
so a failed bad-input run would paint good partitions red. The refusal is one line: an
ERROR event of the run, the run tag `stockmonitor/refused`, an alert (event `run_refused`)
and, in the terminal, the message of Dagster's interruption. Dagster itself refuses earlier
what its config schema expresses (unknown keys, wrong types) and partition keys outside the
set for `dagster asset materialize` (docs/cli.md).

After the steps, a run whose steps failed alerts at once when no dagster-daemon is running
(whose `run_failure_alert` sensor would alert it, with the retry tags, on its next tick).
"""

import datetime as dt

import dagster as dg
from pydantic import ValidationError

from stockmonitor_assets import alerts, run_request
from stockmonitor_assets.resources import as_a_run_reads_it, market_data_from
from stockmonitor_assets.run_request import RunRequestError
from stockmonitor_assets.settings_resource import Settings

REFUSED_TAG = "stockmonitor/refused"


def refusal(run: dg.DagsterRun, config: Settings, now: dt.datetime | None = None) -> str | None:
    """Why `run` must not start (one line), or None. The source (as `config` describes it)
    is asked only when the run names target stocks."""
    try:
        days = run_request.days_of_run(run.tags, now)
        targets = run_request.targets_of_run_config(run.run_config)
        _check_thresholds(run.run_config)
        if targets and days is not None:
            source = as_a_run_reads_it(market_data_from(config)).client()
            run_request.require_listed(
                targets, days.days, run_request.listed_codes(source), source.name
            )
    except RunRequestError as exc:
        reason = str(exc)
        return reason if "nothing was written" in reason else f"{reason}; nothing was written"
    return None


def _check_thresholds(run_config) -> None:
    """Run config may change the quality thresholds, within their documented bounds."""
    from stockmonitor_assets.thresholds import QualityThresholds

    override = (((run_config.get("resources") or {}).get("quality") or {}).get("config")) or {}
    if not override:
        return
    try:
        QualityThresholds(**override)
    except (ValidationError, TypeError) as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else [{"msg": str(exc)}]
        first = errors[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise RunRequestError(
            f"quality.{where}: {first['msg']} (got {first.get('input')!r})"
            if where
            else f"quality: {first['msg']}"
        ) from None


def refuse(context, run: dg.DagsterRun, reason: str, config: Settings) -> None:
    """Record the refusal where each door's user looks, then cancel the run before any step."""
    message = f"run refused: {reason}"
    context.log.error(message)
    instance = context.instance
    instance.add_run_tags(run.run_id, {REFUSED_TAG: reason[: alerts.MAX_MESSAGE_CHARS]})
    record = alerts.alert_record(
        run.job_name, run.run_id, run.tags, message, dt.datetime.now(dt.UTC), event="run_refused"
    )
    alerts.deliver(record, context.log, config)
    instance.run_coordinator.cancel_run(run.run_id)
    raise dg.DagsterExecutionInterruptedError(message)


class GuardedExecutor(dg.Executor):
    """Dagster's in-process executor, behind the run guard (module docstring)."""

    def __init__(self, inner: dg.Executor, config: Settings):
        self._inner, self._config = inner, config

    @property
    def retries(self):
        return self._inner.retries

    def execute(self, plan_context, execution_plan):
        run = plan_context.dagster_run
        reason = refusal(run, self._config)
        if reason is not None:
            refuse(plan_context, run, reason, self._config)
        failed = False
        try:
            for event in self._inner.execute(plan_context, execution_plan):
                failed = failed or event.is_step_failure
                yield event
        except (dg.DagsterExecutionInterruptedError, KeyboardInterrupt):
            raise  # a termination, not a failure
        except BaseException as exc:  # e.g. a resource failing to start: no step ran
            alerts.alert_now_unless_a_daemon_will(
                plan_context.instance, run, plan_context.log, self._config, _innermost_line(exc)
            )
            raise
        if failed:
            alerts.alert_now_unless_a_daemon_will(
                plan_context.instance, run, plan_context.log, self._config
            )


def _innermost_line(exc: BaseException) -> str:
    """`Type: first line` of the innermost cause (Dagster wraps resource errors)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def guarded_in_process_executor(config: Settings) -> dg.ExecutorDefinition:
    """In process: polars already uses every core; a subprocess per step costs ~0.7 s
    (DESIGN §6). Guarded (module docstring) with the code location's `config`."""

    @dg.executor(name="guarded_in_process", config_schema=dg.in_process_executor.config_schema)
    def guarded(init_context: dg.InitExecutorContext) -> dg.Executor:
        return GuardedExecutor(dg.in_process_executor.executor_creation_fn(init_context), config)

    return guarded
