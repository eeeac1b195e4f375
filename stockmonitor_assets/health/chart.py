"""Run health as the UI shows it: one PNG (the last N runs' duration, throughput and failure
rate, and the withheld stock-days per day) and markdown tables, for the `run_health` asset's
metadata; and the plain-text table `stockmonitor health` prints."""

import base64

import polars as pl

from stockmonitor_assets import pngchart
from stockmonitor_assets.health.table import FAILURE_WINDOW

LAST_RUNS = 30
OK, FAILED, NEUTRAL = "#27ae60", "#c0392b", "#34495e"
TABLE_COLUMNS = (
    "started_at",
    "job_name",
    "run_outcome",
    "partitions",
    "wall_s",
    "cpu_s",
    "rows_written",
    "rows_per_s",
    "peak_rss_mib",
    "failure_rate",
)


def chart_png(runs: pl.DataFrame, withheld: pl.DataFrame, last: int = LAST_RUNS) -> bytes:
    """Four panels over the last `last` runs (oldest left) and the stored days' withheld rows."""
    recent = runs.tail(last)
    image, draw = pngchart.canvas(860, 420)
    outcome_colors = [[OK if o == "success" else FAILED] for o in recent["run_outcome"]]
    labels = [""] * len(recent)
    pngchart.columns(
        draw,
        (50, 30, 400, 180),
        [[v or 0.0] for v in recent["wall_s"]],
        outcome_colors,
        labels,
        title=f"run duration, s (last {len(recent)} runs; red: failed)",
        value_format="{:,.1f}",
    )
    pngchart.columns(
        draw,
        (490, 30, 820, 180),
        [[v or 0.0] for v in recent["rows_per_s"]],
        [[NEUTRAL]] * len(recent),
        labels,
        title="throughput, rows written per second",
    )
    pngchart.line(
        draw,
        (50, 240, 400, 390),
        recent["failure_rate"].to_list(),
        FAILED,
        high=1.0,
        title=f"failure rate over the job's last {FAILURE_WINDOW} runs",
        high_label="100%",
    )
    days = withheld.tail(last)
    pngchart.columns(
        draw,
        (490, 240, 820, 390),
        [[v] for v in days["withheld"]],
        [["#e67e22"]] * len(days),
        [d if i in (0, len(days) - 1) else "" for i, d in enumerate(days["day"])],
        title="withheld stock-days per day",
    )
    return pngchart.png(image)


def runs_markdown(runs: pl.DataFrame, n: int = 10) -> str:
    """The latest `n` runs, newest first, as a markdown table."""
    recent = runs.tail(n).reverse().select(TABLE_COLUMNS)
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in recent.iter_rows()]
    return "\n".join(lines)


def preview_markdown(runs: pl.DataFrame, withheld: pl.DataFrame) -> str:
    png = base64.b64encode(chart_png(runs, withheld)).decode("ascii")
    return f"![run health](data:image/png;base64,{png})\n\n{runs_markdown(runs)}"


def text_table(runs: pl.DataFrame, n: int) -> str:
    """The latest `n` runs as aligned text, newest first (for the terminal)."""
    recent = runs.tail(n).reverse().select(TABLE_COLUMNS)
    cells = [list(TABLE_COLUMNS)] + [[cell(v) for v in row] for row in recent.iter_rows()]
    widths = [max(len(r[i]) for r in cells) for i in range(len(TABLE_COLUMNS))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells)


def cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)
