"""The tables of the daily market report: breadth, scores, leaders, movers, coverage, boards.

Pure polars over one day's `merged` and `scores` (plus the previous session's ranks and the
top names' recent history); rendering lives in `stockmonitor_assets/report/`. A stock-day
is *traded* when its bar was not completed (`is_filled` false): suspended names carry
their last close and would count as unchanged otherwise.
"""

import datetime as dt
from dataclasses import dataclass

import polars as pl

from stockmonitor_assets.schemas import BOARDS, FACTORS, LEVELS
from stockmonitor_assets.transforms.scoring import LEVEL_BANDS, LIMIT_TOLERANCE

TOP_N = 20
MOVERS_N = 10
CHART_NAMES = 6
HISTORY_SESSIONS = 60
BIN_WIDTH = 5  # score points per histogram bin; the level bands (40/55/70/85) fall on edges
BREADTH_KEYS = (
    "stocks",
    "traded",
    "advancers",
    "decliners",
    "unchanged",
    "limit_up",
    "limit_down",
    "suspended",
    "newly_listed",
    "eligible",
    "withheld",
)
Z_COLUMNS = [f"z_{f}" for f in FACTORS]
# Columns the report reads from each asset (the others are not decoded).
MERGED_COLUMNS = (
    "order_book_id",
    "date",
    "symbol",
    "board",
    "listed_date",
    "close",
    "prev_close",
    "limit_up",
    "limit_down",
    "is_filled",
    "fill_reason",
    "is_suspended",
    "withheld_reason",
)
SCORES_COLUMNS = (
    "order_book_id",
    "date",
    "is_eligible",
    *Z_COLUMNS,
    "composite",
    "rank",
    "score",
    "level",
)
HISTORY_MERGED_COLUMNS = ("order_book_id", "date", "close", "adj_factor")
HISTORY_SCORES_COLUMNS = ("order_book_id", "date", "score")


@dataclass(frozen=True)
class DailyReport:
    """Everything the report shows for `day`, as small frames (no rendering decisions)."""

    day: dt.date
    previous_day: dt.date | None
    breadth: dict[str, int]
    histogram: pl.DataFrame  # bin_start, level, stocks
    levels: pl.DataFrame  # level, stocks
    top: pl.DataFrame
    bottom: pl.DataFrame
    movers_up: pl.DataFrame
    movers_down: pl.DataFrame
    coverage: pl.DataFrame  # factor, covered, eligible, share
    boards: pl.DataFrame
    history: pl.DataFrame  # order_book_id, symbol, date, close_adj, score


def day_frame(merged: pl.DataFrame, scores: pl.DataFrame) -> pl.DataFrame:
    """One row per stock of the day: merged's attributes and bar beside its scores."""
    return (
        merged.select(MERGED_COLUMNS)
        .join(scores.select(SCORES_COLUMNS).drop("date"), on="order_book_id", how="left")
        .with_columns(
            traded=~pl.col("is_filled"),
            pct_change=pl.when(~pl.col("is_filled") & (pl.col("prev_close") > 0)).then(
                pl.col("close") / pl.col("prev_close") - 1
            ),
            is_eligible=pl.col("is_eligible").fill_null(False),
        )
        .with_columns(**_flags())
    )


def _flags() -> dict[str, pl.Expr]:
    traded, close = pl.col("traded"), pl.col("close")
    return {
        "advancer": traded & (close > pl.col("prev_close")),
        "decliner": traded & (close < pl.col("prev_close")),
        "unchanged": traded & (close == pl.col("prev_close")),
        "at_limit_up": (traded & (close >= pl.col("limit_up") - LIMIT_TOLERANCE)).fill_null(False),
        "at_limit_down": (traded & (close <= pl.col("limit_down") + LIMIT_TOLERANCE)).fill_null(
            False
        ),
        "suspended": (pl.col("fill_reason") == "suspended").fill_null(False)
        | pl.col("is_suspended").fill_null(False),
        "newly_listed": pl.col("listed_date") == pl.col("date"),
        "withheld": pl.col("withheld_reason").is_not_null(),
    }


_COUNTS = {
    "stocks": pl.len(),
    "traded": pl.col("traded").sum(),
    "advancers": pl.col("advancer").sum(),
    "decliners": pl.col("decliner").sum(),
    "unchanged": pl.col("unchanged").sum(),
    "limit_up": pl.col("at_limit_up").sum(),
    "limit_down": pl.col("at_limit_down").sum(),
    "suspended": pl.col("suspended").sum(),
    "newly_listed": pl.col("newly_listed").sum(),
    "eligible": pl.col("is_eligible").sum(),
    "withheld": pl.col("withheld").sum(),
}


def breadth(frame: pl.DataFrame) -> dict[str, int]:
    """Market-wide counts of the day (BREADTH_KEYS)."""
    row = frame.select(**{k: e.cast(pl.Int64) for k, e in _COUNTS.items()}).row(0, named=True)
    return {k: int(row[k] or 0) for k in BREADTH_KEYS}


def board_breakdown(frame: pl.DataFrame) -> pl.DataFrame:
    """The breadth counts per board (every board listed, zero when absent), with the mean
    score of its eligible stocks and its median change."""
    counts = frame.group_by("board").agg(
        **{k: e.cast(pl.Int64) for k, e in _COUNTS.items()},
        mean_score=pl.col("score").mean(),
        median_change=pl.col("pct_change").median(),
    )
    boards = pl.DataFrame({"board": list(BOARDS)}, schema={"board": pl.Enum(BOARDS)})
    return (
        boards.join(
            counts.with_columns(pl.col("board").cast(pl.Enum(BOARDS))), on="board", how="left"
        )
        .with_columns(pl.col(k).fill_null(0) for k in _COUNTS)
        .select("board", *BREADTH_KEYS, "mean_score", "median_change")
    )


def score_histogram(frame: pl.DataFrame) -> pl.DataFrame:
    """Eligible stocks per BIN_WIDTH-point score bin (every bin listed), with the bin's level."""
    starts = list(range(0, 100, BIN_WIDTH))
    bins = (
        frame.filter(pl.col("score").is_not_null())
        .select(
            bin_start=(pl.col("score") // BIN_WIDTH * BIN_WIDTH)
            .clip(0, 100 - BIN_WIDTH)
            .cast(pl.Int64)
        )
        .group_by("bin_start")
        .len("stocks")
    )
    every = pl.DataFrame({"bin_start": starts}, schema={"bin_start": pl.Int64})
    return (
        every.join(bins, on="bin_start", how="left")
        .with_columns(pl.col("stocks").fill_null(0).cast(pl.Int64), level=_bin_level())
        .sort("bin_start")
        .select("bin_start", "level", "stocks")
    )


def _bin_level() -> pl.Expr:
    expr = pl.lit(LEVELS[-1])
    for bound, label in reversed(LEVEL_BANDS):
        expr = pl.when(pl.col("bin_start") >= bound).then(pl.lit(label)).otherwise(expr)
    return expr


def level_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """Stocks per level label, in band order (every level listed)."""
    counts = (
        frame.filter(pl.col("level").is_not_null())
        .group_by(pl.col("level").cast(pl.String))
        .len("stocks")
    )
    every = pl.DataFrame({"level": list(LEVELS)})
    return every.join(counts, on="level", how="left").with_columns(
        pl.col("stocks").fill_null(0).cast(pl.Int64)
    )


def leaders(frame: pl.DataFrame, n: int = TOP_N, best: bool = True) -> pl.DataFrame:
    """The `n` best (or worst) ranked eligible stocks with their factor z-scores."""
    ranked = frame.filter(pl.col("is_eligible") & pl.col("rank").is_not_null())
    ordered = ranked.sort("rank", descending=not best).head(n)
    return ordered.select(
        "rank",
        "order_book_id",
        "symbol",
        "board",
        "close",
        "pct_change",
        "score",
        "level",
        "composite",
        *Z_COLUMNS,
    ).with_columns(pl.col("level").cast(pl.String))


def rank_movers(
    frame: pl.DataFrame, previous: pl.DataFrame | None, n: int = MOVERS_N
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(biggest climbers, biggest fallers) by rank since the previous session's scores.

    `previous` holds `order_book_id` and `rank`; stocks ranked on both days only.
    """
    columns = [
        "order_book_id",
        "symbol",
        "board",
        "previous_rank",
        "rank",
        "rank_change",
        "score",
        "level",
    ]
    if previous is None:
        empty = frame.head(0).with_columns(
            previous_rank=pl.lit(None, pl.UInt32), rank_change=pl.lit(None, pl.Int64)
        )
        return (empty.select(columns),) * 2
    joined = frame.filter(pl.col("rank").is_not_null()).join(
        previous.select("order_book_id", previous_rank="rank").filter(
            pl.col("previous_rank").is_not_null()
        ),
        on="order_book_id",
    )
    moved = joined.with_columns(
        rank_change=pl.col("previous_rank").cast(pl.Int64) - pl.col("rank").cast(pl.Int64),
        level=pl.col("level").cast(pl.String),
    ).select(columns)
    up = moved.filter(pl.col("rank_change") > 0).sort(
        ["rank_change", "order_book_id"], descending=[True, False]
    )
    down = moved.filter(pl.col("rank_change") < 0).sort(["rank_change", "order_book_id"])
    return up.head(n), down.head(n)


def factor_coverage(frame: pl.DataFrame) -> pl.DataFrame:
    """Per factor: eligible stocks with a z-score, out of all eligible ones."""
    eligible = frame.filter(pl.col("is_eligible"))
    total = len(eligible)
    covered = eligible.select(pl.col(Z_COLUMNS).is_not_null().sum().cast(pl.Int64)).row(0)
    return pl.DataFrame(
        {
            "factor": list(FACTORS),
            "covered": list(covered),
            "eligible": [total] * len(FACTORS),
        },
        schema={"factor": pl.String, "covered": pl.Int64, "eligible": pl.Int64},
    ).with_columns(
        share=pl.when(pl.col("eligible") > 0).then(pl.col("covered") / pl.col("eligible"))
    )


def name_history(
    merged: pl.DataFrame, scores: pl.DataFrame, names: pl.DataFrame, day: dt.date
) -> pl.DataFrame:
    """Close (forward-adjusted to `day`, so dividends make no jumps) and score per session.

    Args:
        merged: HISTORY_MERGED_COLUMNS of the charted stocks over the sessions shown.
        scores: HISTORY_SCORES_COLUMNS of the same.
        names: `order_book_id` and `symbol` of the charted stocks (their chart order).
    """
    base = merged.filter(pl.col("date") == day).select("order_book_id", base_factor="adj_factor")
    return (
        merged.join(scores, on=["order_book_id", "date"], how="left")
        .join(base, on="order_book_id", how="left")
        .with_columns(close_adj=pl.col("close") * pl.col("adj_factor") / pl.col("base_factor"))
        .join(names.with_row_index("order"), on="order_book_id")
        .sort("order", "date")
        .select("order_book_id", "symbol", "date", "close_adj", "score")
    )


def build_report(
    day: dt.date,
    merged: pl.DataFrame,
    scores: pl.DataFrame,
    previous_scores: pl.DataFrame | None = None,
    previous_day: dt.date | None = None,
    history: pl.DataFrame | None = None,
) -> DailyReport:
    """The report's tables for `day` (history: `name_history`'s frame, or None)."""
    frame = day_frame(merged, scores)
    movers_up, movers_down = rank_movers(frame, previous_scores)
    empty_history = pl.DataFrame(
        schema={
            "order_book_id": pl.String,
            "symbol": pl.String,
            "date": pl.Date,
            "close_adj": pl.Float64,
            "score": pl.Float64,
        }
    )
    return DailyReport(
        day=day,
        previous_day=previous_day,
        breadth=breadth(frame),
        histogram=score_histogram(frame),
        levels=level_counts(frame),
        top=leaders(frame),
        bottom=leaders(frame, best=False),
        movers_up=movers_up,
        movers_down=movers_down,
        coverage=factor_coverage(frame),
        boards=board_breakdown(frame),
        history=history if history is not None else empty_history,
    )
