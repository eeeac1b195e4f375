"""The run-health table and what is read off it: per-run figures, failure rate, withheld
stock-days. Pure polars, no Dagster import."""

import polars as pl

from stockmonitor_assets.schemas import RUN_HEALTH

RUN_ROW = "(run)"  # step_key of a run that recorded no step (failed before any step ran)
FAILURE_WINDOW = 10  # runs in the sliding window of the failure rate
MIB = 2**20


def health_frame(rows: list[dict]) -> pl.DataFrame:
    """RUN_HEALTH columns and dtypes from plain dicts (figures derived: rows/s, MiB); the
    rows are checked when the store writes them."""
    frame = (
        pl.DataFrame(
            rows,
            schema_overrides={
                "started_at": pl.Datetime("us", "UTC"),
                "ended_at": pl.Datetime("us", "UTC"),
            },
            infer_schema_length=None,
        )
        if rows
        else RUN_HEALTH.empty()
    )
    if "peak_rss_bytes" in frame.columns:
        frame = frame.with_columns(peak_rss_mib=pl.col("peak_rss_bytes") / MIB)
    frame = frame.with_columns(
        rows_per_s=pl.when(pl.col("wall_s") > 0).then(pl.col("rows_written") / pl.col("wall_s"))
    )
    return RUN_HEALTH.align(frame)


def run_summary(steps: pl.DataFrame, window: int = FAILURE_WINDOW) -> pl.DataFrame:
    """One row per run, oldest first: its wall time (first step start to last step end),
    CPU, rows, throughput, peak RSS, outcome, and the failure rate of the job's last
    `window` runs up to it."""
    runs = (
        steps.group_by("run_id")
        .agg(
            pl.col("job_name").first(),
            pl.col("run_outcome").first(),
            pl.col("started_at").min(),
            pl.col("ended_at").max(),
            pl.col("cpu_s").sum(),
            pl.col("rows_read").sum(),
            pl.col("rows_written").sum(),
            pl.col("peak_rss_mib").max(),
            pl.col("first_partition").first(),
            pl.col("last_partition").first(),
            pl.col("partitions").first(),
            steps=(pl.col("step_key") != RUN_ROW).sum(),
        )
        .with_columns(
            wall_s=(pl.col("ended_at") - pl.col("started_at")).dt.total_microseconds() / 1e6
        )
        .with_columns(
            rows_per_s=pl.when(pl.col("wall_s") > 0).then(
                pl.col("rows_written") / pl.col("wall_s")
            ),
            failed=(pl.col("run_outcome") != "success").cast(pl.Float64),
        )
        .sort("started_at", "run_id", nulls_last=False)
    )
    return runs.with_columns(
        failure_rate=pl.col("failed").rolling_mean(window, min_samples=1).over("job_name")
    ).drop("failed")


def withheld_per_day(merged_withheld: dict[str, int]) -> pl.DataFrame:
    """(day, withheld stock-days) from per-day counts, oldest first."""
    return pl.DataFrame(
        {"day": list(merged_withheld), "withheld": list(merged_withheld.values())},
        schema={"day": pl.String, "withheld": pl.Int64},
    ).sort("day")
