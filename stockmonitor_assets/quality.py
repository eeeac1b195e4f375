"""Data-quality rules of every asset, as pure functions on one partition's frames.

Schemas are pandera (polars backend) `DataFrameSchema`s derived from `schemas.py`, so a
column's dtype and nullability are stated once. Row rules (OHLC ordering, limit band,
indicator ranges) are pandera frame-level checks, whose failure cases name the offending
rows. Aggregate rules (coverage, fill share, ratio agreement) are plain polars. Every
function returns an `Outcome`; `assets/checks.py` turns outcomes into Dagster check results.
"""

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from stockmonitor_assets import schemas
from stockmonitor_assets.schemas import TableSchema

if TYPE_CHECKING:
    import pandera.polars as pa

# Exchange prices have two decimals: a close may sit a rounding step outside its limit.
PRICE_TOLERANCE = 0.01
# SMA vs min/max of its window: relative slack for floating-point division.
SMA_TOLERANCE = 1e-9
SMA_LENGTHS = (5, 10, 20, 60)
FAILURE_SAMPLE = 5

TABLES: dict[str, TableSchema] = {
    t.name: t for t in vars(schemas).values() if isinstance(t, TableSchema)
}


@dataclass(frozen=True)
class Outcome:
    """A rule's verdict on a frame, with plain metadata values (they plot in the UI)."""

    passed: bool
    metadata: dict[str, object] = field(default_factory=dict)
    description: str = ""


def _pandera():
    """pandera, imported on first use: it pulls in pandas (~1 s), which would otherwise be
    paid by every load of the code location, not only by runs that check data."""
    import pandera.polars

    return pandera.polars


def pandera_schema(table: TableSchema) -> "pa.DataFrameSchema":
    """The contract of `table` as a pandera schema: exact columns, order, dtypes, nulls, key."""
    pa = _pandera()
    return pa.DataFrameSchema(
        {c.name: pa.Column(c.dtype, nullable=c.nullable) for c in table.columns},
        strict=True,
        ordered=True,
        name=table.name,
    )


def check_schema(frame: pl.DataFrame, table: TableSchema) -> Outcome:
    """Columns, order, dtypes and nullability exactly as `schemas.py` declares them."""
    return _validate(pandera_schema(table), frame, "matches the contract of " + table.name)


def check_unique_key(frame: pl.DataFrame, table: TableSchema) -> Outcome:
    """At most one row per key, e.g. (order_book_id, date)."""
    schema = _pandera().DataFrameSchema(unique=list(table.key), name=table.name)
    return _validate(schema, frame.select(table.key), f"unique on {list(table.key)}")


def check_coverage(
    frame: pl.DataFrame, universe: pl.DataFrame, min_share: float, what: str
) -> Outcome:
    """Share of the day's listed stocks that have a row in `frame`, against `min_share`."""
    listed = set(listed_ids(universe))
    present = listed & set(frame["order_book_id"].to_list())
    share = len(present) / len(listed) if listed else 1.0
    missing = sorted(listed - present)
    return Outcome(
        passed=share >= min_share,
        metadata={
            "coverage": round(share, 6),
            "listed": len(listed),
            "missing": len(missing),
            "missing_sample": missing[:FAILURE_SAMPLE],
            "min_coverage": min_share,
        },
        description=f"{share:.2%} of {len(listed)} listed stocks have {what} (min {min_share:.0%})",
    )


def listed_ids(universe: pl.DataFrame) -> list[str]:
    """Stocks listed on their row's date: listed_date <= date < de_listed_date."""
    listed = (pl.col("listed_date") <= pl.col("date")) & (
        pl.col("de_listed_date").is_null() | (pl.col("de_listed_date") > pl.col("date"))
    )
    return universe.filter(listed)["order_book_id"].to_list()


def check_prices(frame: pl.DataFrame) -> Outcome:
    """OHLC ordering, non-negative volume and turnover, close inside the day's limit band.

    Rows without limits (first listing days, filled rows) skip the band; ex-dividend days
    need nothing special since the limits are computed from the ex-rights prev_close.
    """
    return _validate(price_rules(), frame, "prices are ordered, non-negative and within limits")


def check_completion(
    frame: pl.DataFrame,
    sessions: Sequence[dt.date],
    max_filled_share: float,
    max_gap_sessions: int,
) -> Outcome:
    """Share of filled rows and the longest carried-forward gap, in trading days."""
    gaps = _gap_sessions(frame, sessions)
    filled = int(frame["is_filled"].sum())
    share = filled / len(frame) if len(frame) else 0.0
    longest = int(gaps.max() or 0) if len(gaps) else 0
    by_reason = frame["fill_reason"].drop_nulls().value_counts()
    metadata: dict[str, object] = {
        "filled_rows": filled,
        "filled_share": round(share, 6),
        "longest_gap_sessions": longest,
        "never_traded": int(frame["last_traded_date"].null_count()),
        **{f"filled_{r}": int(n) for r, n in by_reason.iter_rows()},
    }
    passed = share <= max_filled_share and longest <= max_gap_sessions
    return Outcome(
        passed,
        metadata,
        f"{share:.1%} filled (max {max_filled_share:.0%}); longest gap {longest} trading days "
        f"(max {max_gap_sessions})",
    )


def check_indicator_ranges(
    indicators: pl.DataFrame, history: pl.DataFrame, window_days: int | None = None
) -> Outcome:
    """RSI in [0, 100]; each SMA_n within [min, max] of its last n traded adjusted closes.

    `history` is COMPLETED_OHLCV over enough days before the indicators' dates; a stock with
    fewer than n traded bars in it (in its last `window_days` days up to the indicators'
    day, if given) is not judged for SMA_n (the window loaded is too short).
    """
    return check_bounded_indicators(with_sma_bounds(indicators, history, window_days))


def check_bounded_indicators(bounded: pl.DataFrame) -> Outcome:
    """`check_indicator_ranges` on indicators already joined with their `sma_bounds`."""
    return _validate(indicator_rules(), bounded, "RSI and SMAs within their ranges")


def with_sma_bounds(
    indicators: pl.DataFrame, history: pl.DataFrame, window_days: int | None = None
) -> pl.DataFrame:
    """`indicators` with the `sma_bounds` of their stock and day (null where not judged)."""
    bounds = sma_bounds(history, indicators["date"].unique().to_list(), window_days)
    return indicators.join(bounds, on=["order_book_id", "date"], how="left")


def sma_bounds(
    history: pl.DataFrame, days: Sequence[dt.date], window_days: int | None = None
) -> pl.DataFrame:
    """Per stock and day: min/max of the last n traded closes, forward-adjusted to the day.

    One pass for any number of days (rolling min/max per stock, then an as-of join), not
    one group-by per day. Null when the stock has fewer than n traded bars on or before the
    day, or when the n-th last of them is older than the `window_days` days of `history`
    up to the day: so a range judges each day as a one-day run, which loads that window.
    """
    traded = (
        history.filter(~pl.col("is_filled") & pl.col("close").is_not_null())
        .select("order_book_id", "date", back=pl.col("close") * pl.col("adj_factor"))
        .sort("order_book_id", "date")
    )
    by_stock = [
        e.over("order_book_id")
        for n in SMA_LENGTHS
        for e in (
            pl.col("back").rolling_min(n).alias(f"min_{n}"),
            pl.col("back").rolling_max(n).alias(f"max_{n}"),
            pl.col("date").shift(n - 1).alias(f"since_{n}"),
        )
    ]
    rolled = traded.with_columns(by_stock).drop("back").sort("date")
    on_days = (
        history.filter(pl.col("date").is_in(list(days)))
        .select("order_book_id", "date", "adj_factor")
        .join(_window_starts(history, days, window_days), on="date")
        .sort("date")
    )
    joined = on_days.join_asof(  # both sorted by date above; polars cannot verify it per stock
        rolled, on="date", by="order_book_id", strategy="backward", check_sortedness=False
    )
    bounds = []
    for n in SMA_LENGTHS:
        inside = pl.col(f"since_{n}") >= pl.col("window_start")
        for end in ("min", "max"):
            value = pl.col(f"{end}_{n}") / pl.col("adj_factor")
            bounds.append(pl.when(inside).then(value).alias(f"sma_{n}_{end}"))
    return joined.select("order_book_id", "date", *bounds)


def _window_starts(
    history: pl.DataFrame, days: Sequence[dt.date], window_days: int | None
) -> pl.DataFrame:
    """Each day's first day of its window: `window_days` days of `history` ending there."""
    available = history["date"].unique().sort()
    target = pl.Series("date", sorted(days), dtype=pl.Date)
    if window_days is None or available.is_empty():
        return pl.DataFrame({"date": target, "window_start": [dt.date.min] * len(target)})
    last = available.search_sorted(target, side="right").cast(pl.Int64) - 1
    first = (last - (window_days - 1)).clip(lower_bound=0)
    return pl.DataFrame({"date": target, "window_start": available.gather(first)})


def check_source_ratios(
    indicators: pl.DataFrame, fundamentals: pl.DataFrame, rel_tolerance: float
) -> Outcome:
    """Computed PE TTM and PB agree with the source's own ratios where it provides them."""
    joined = indicators.join(fundamentals, on=["order_book_id", "date"], how="left")
    metadata: dict[str, object] = {"rel_tolerance": rel_tolerance}
    bad_total = 0
    for ours, theirs in (("pe_ttm", "source_pe_ttm"), ("pb", "source_pb")):
        both = joined.filter(pl.col(ours).is_not_null() & pl.col(theirs).is_not_null())
        diff = ((both[ours] / both[theirs]) - 1.0).abs()
        bad = both.filter(diff > rel_tolerance)["order_book_id"].to_list()
        bad_total += len(bad)
        metadata |= {
            f"{ours}_compared": len(both),
            f"{ours}_mismatched": len(bad),
            f"{ours}_max_rel_diff": float(diff.max() or 0.0) if len(both) else 0.0,
            f"{ours}_mismatch_sample": bad[:FAILURE_SAMPLE],
        }
    return Outcome(
        bad_total == 0, metadata, f"{bad_total} ratio(s) off the source's by > {rel_tolerance:g}"
    )


def check_scores(frame: pl.DataFrame) -> Outcome:
    """Scores in [0, 100]; only eligible stocks scored; eligible exactly when no reason."""
    return _validate(score_rules(), frame, "scores in range and consistent with eligibility")


def combine(outcomes: Mapping[str, Outcome]) -> Outcome:
    """One verdict for a range of partitions: failing partitions named, numbers per partition.

    A single partition keeps its own metadata unchanged (so values plot per partition).
    """
    if len(outcomes) == 1:
        return next(iter(outcomes.values()))
    failing = sorted(k for k, o in outcomes.items() if not o.passed)
    descriptions = [f"{k}: {outcomes[k].description}" for k in failing[:FAILURE_SAMPLE]]
    return Outcome(
        passed=not failing,
        metadata={
            "partitions_checked": len(outcomes),
            "failing_partitions": failing,
            "by_partition": {k: _plain(o.metadata) for k, o in sorted(outcomes.items())},
        },
        description="; ".join(descriptions) or f"all {len(outcomes)} partitions pass",
    )


def _validate(schema: "pa.DataFrameSchema", frame: pl.DataFrame, ok: str) -> Outcome:
    try:
        schema.validate(frame, lazy=True)
    except _pandera().errors.SchemaErrors as errors:
        return _failure(errors.failure_cases, len(frame))
    return passing(len(frame), ok)


def passing(rows: int, description: str) -> Outcome:
    """The verdict of a row rule that found nothing wrong in `rows` rows."""
    return Outcome(True, {"rows_checked": rows, "failures": 0}, description)


def _failure(cases: pl.DataFrame, rows: int) -> Outcome:
    """Failure counts per rule, and a few offending values, from pandera's failure cases."""
    on_column = pl.col("schema_context") == "Column"
    label = pl.when(on_column).then(pl.col("column") + ": " + pl.col("check")).otherwise("check")
    counts = cases.group_by(label.alias("rule")).len().sort("rule")
    per_rule = dict(counts.iter_rows())
    sample = cases.head(FAILURE_SAMPLE).select("check", "column", "failure_case").to_dicts()
    summary = ", ".join(f"{rule} ({n})" for rule, n in per_rule.items())
    return Outcome(
        False,
        {"rows_checked": rows, "failures": len(cases), "by_rule": per_rule, "sample": sample},
        f"failed: {summary}",
    )


def _rule(name: str, expr: pl.Expr) -> "pa.Check":
    """A pandera frame-level check from a boolean polars expression (null = not judged)."""
    return _pandera().Check(lambda data: data.lazyframe.select(expr.fill_null(True)), name=name)


def _within(value: str, low: pl.Expr, high: pl.Expr, tol: float | pl.Expr) -> pl.Expr:
    return (pl.col(value) >= low - tol) & (pl.col(value) <= high + tol)


@functools.cache
def price_rules() -> "pa.DataFrameSchema":
    return _pandera().DataFrameSchema(
        name="price rules",
        checks=[
            _rule("low <= min(open, close)", pl.col("low") <= pl.min_horizontal("open", "close")),
            _rule("max(open, close) <= high", pl.max_horizontal("open", "close") <= pl.col("high")),
            _rule("volume >= 0", pl.col("volume") >= 0),
            _rule("total_turnover >= 0", pl.col("total_turnover") >= 0),
            _rule(
                "limit_down <= close <= limit_up",
                _within("close", pl.col("limit_down"), pl.col("limit_up"), PRICE_TOLERANCE),
            ),
        ],
    )


def _sma_rule(n: int) -> "pa.Check":
    low, high = pl.col(f"sma_{n}_min"), pl.col(f"sma_{n}_max")
    judged = pl.col(f"sma_{n}").is_null() | low.is_null()
    slack = SMA_TOLERANCE * high.abs()
    return _rule(f"sma_{n} within its window", judged | _within(f"sma_{n}", low, high, slack))


@functools.cache
def indicator_rules() -> "pa.DataFrameSchema":
    return _pandera().DataFrameSchema(
        name="indicator ranges",
        checks=[
            _rule("0 <= rsi_14 <= 100", pl.col("rsi_14").is_between(0.0, 100.0)),
            *(_sma_rule(n) for n in SMA_LENGTHS),
        ],
    )


@functools.cache
def score_rules() -> "pa.DataFrameSchema":
    return _pandera().DataFrameSchema(
        name="score rules",
        checks=[
            _rule("0 <= score <= 100", pl.col("score").is_between(0.0, 100.0)),
            _rule("only eligible stocks scored", pl.col("is_eligible") | pl.col("score").is_null()),
            _rule(
                "eligible == no ineligible_reason",
                pl.col("is_eligible") == pl.col("ineligible_reason").is_null(),
            ),
        ],
    )


def _gap_sessions(frame: pl.DataFrame, sessions: Sequence[dt.date]) -> pl.Series:
    """Trading days between each row's date and its last traded date (0 when traded)."""
    calendar = pl.Series(sessions, dtype=pl.Date)
    on_day = calendar.search_sorted(frame["date"], side="left")
    last = calendar.search_sorted(frame["last_traded_date"].drop_nulls(), side="left")
    traded = frame["last_traded_date"].is_not_null()
    return (on_day.filter(traded).cast(pl.Int64) - last.cast(pl.Int64)).alias("gap")


def _plain(metadata: Mapping[str, object]) -> dict[str, object]:
    """Numbers and short strings only, for the per-partition table of a range."""
    return {k: v for k, v in metadata.items() if isinstance(v, int | float | str)}
