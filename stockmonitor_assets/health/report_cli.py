"""`stockmonitor health`: the run-health table as text (runs, or one run's steps)."""

import polars as pl

from stockmonitor_assets.health import chart, store
from stockmonitor_assets.health.table import run_summary
from stockmonitor_assets.storage import PartitionStore

STEP_COLUMNS = (
    "step_key",
    "step_outcome",
    "wall_s",
    "cpu_s",
    "rows_read",
    "rows_written",
    "rows_per_s",
    "peak_rss_mib",
)


class HealthError(ValueError):
    """Nothing to show for the request; the message says why."""


def health_text(
    data_dir: str, last: int, job_name: str | None = None, run_id: str | None = None
) -> str:
    partition_store = PartitionStore(data_dir)
    steps = store.read_all(partition_store)
    if steps.is_empty():
        raise HealthError(
            f"no run health recorded in {partition_store.root / store.FOLDER} yet: run a job"
        )
    if run_id:
        return _run_steps(steps, run_id)
    runs = run_summary(steps)
    if job_name:
        runs = runs.filter(pl.col("job_name") == job_name)
        if runs.is_empty():
            raise HealthError(f"--job {job_name!r}: no recorded run of that job")
    return chart.text_table(runs, last)


def _run_steps(steps: pl.DataFrame, run_id: str) -> str:
    matches = steps.filter(pl.col("run_id").str.starts_with(run_id))
    ids = matches["run_id"].unique().to_list()
    if len(ids) != 1:
        raise HealthError(f"--run {run_id!r} matches {len(ids)} recorded runs; give more of it")
    run = matches.sort("started_at")
    head = f"run {ids[0]} ({run['job_name'][0]}, {run['run_outcome'][0]})"
    cells = [list(STEP_COLUMNS)] + [
        [chart.cell(v) for v in row] for row in run.select(STEP_COLUMNS).iter_rows()
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(STEP_COLUMNS))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join([head, *lines])
