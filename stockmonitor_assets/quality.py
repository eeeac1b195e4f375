"""Data-quality rules, as pure polars: which stock-days to withhold, and the judgements.

See docs/data-rules.md for where each kind of rule runs. Contracts (columns, dtypes, keys)
live in `schemas.py`. Here: row and day rules, which decide the stock-days withheld from
scores (`withheld_reason`), and the judgements behind the asset checks (coverage, filled
share and gaps, ratios vs the source), each returning an `Outcome`.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

# Relative slack of every rule comparing computed floats (RSI vs 100, low vs open, ...).
FLOAT_TOLERANCE = 1e-9
# Exchange prices have two decimals: a close may sit a rounding step outside its limit.
PRICE_TOLERANCE = 0.01
FAILURE_SAMPLE = 5
WITHHELD_SAMPLE = 50


@dataclass(frozen=True)
class Outcome:
    """A rule's verdict on a frame, with plain metadata values (they plot in the UI)."""

    passed: bool
    metadata: dict[str, object] = field(default_factory=dict)
    description: str = ""


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


def combine(outcomes: Mapping[str, Outcome]) -> Outcome:
    """One verdict for a range of partitions: failing partitions named, counts summed.

    A single partition keeps its own metadata unchanged (so values plot per partition);
    a short range also lists each day's numbers; a long one (a 20-year backfill) names at
    most WITHHELD_SAMPLE failing days, so the check's event stays small.
    """
    if len(outcomes) == 1:
        return next(iter(outcomes.values()))
    failing = sorted(k for k, o in outcomes.items() if not o.passed)
    descriptions = [f"{k}: {outcomes[k].description}" for k in failing[:FAILURE_SAMPLE]]
    metadata: dict[str, object] = {
        "partitions_checked": len(outcomes),
        "first_partition": min(outcomes),
        "last_partition": max(outcomes),
        "failing_partitions_count": len(failing),
        "failing_partitions": failing[:WITHHELD_SAMPLE],
    }
    if len(outcomes) <= 31:
        metadata["by_partition"] = {k: _plain(o.metadata) for k, o in sorted(outcomes.items())}
    return Outcome(
        passed=not failing,
        metadata=metadata,
        description="; ".join(descriptions) or f"all {len(outcomes)} partitions pass",
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


def _at_most(value: pl.Expr, bound: pl.Expr | float, rel: float) -> pl.Expr:
    """value <= bound, with a relative slack `rel` of |bound| (null: not judged)."""
    bound = bound if isinstance(bound, pl.Expr) else pl.lit(bound)
    return value <= bound + rel * bound.abs()


def row_rules(float_tolerance: float = FLOAT_TOLERANCE) -> dict[str, pl.Expr]:
    """Rules every stock-day of `merged` must meet: name -> True when met (null: not judged).

    Judged on traded bars only (filled rows carry a close by construction). The limit band
    allows one price tick; float comparisons allow `float_tolerance` relative.
    """
    traded = ~pl.col("is_filled")
    low_open_close = pl.min_horizontal("open", "close")
    high_open_close = pl.max_horizontal("open", "close")
    rules = {
        "low <= min(open, close)": _at_most(pl.col("low"), low_open_close, float_tolerance),
        "max(open, close) <= high": _at_most(high_open_close, pl.col("high"), float_tolerance),
        "volume >= 0": pl.col("volume") >= 0,
        "total_turnover >= 0": pl.col("total_turnover") >= 0,
        "close <= limit_up": pl.col("close") <= pl.col("limit_up") + PRICE_TOLERANCE,
        "close >= limit_down": pl.col("close") >= pl.col("limit_down") - PRICE_TOLERANCE,
        "rsi_14 >= 0": pl.col("rsi_14") >= 0.0,
        "rsi_14 <= 100": _at_most(pl.col("rsi_14"), 100.0, float_tolerance),
    }
    return {name: (~traded) | rule for name, rule in rules.items()}


def withheld_reason(float_tolerance: float = FLOAT_TOLERANCE) -> pl.Expr:
    """The first row rule a stock-day fails, or null: what `merged` records and scores skip."""
    reason = pl.lit(None, dtype=pl.String)
    for name, met in reversed(row_rules(float_tolerance).items()):
        reason = pl.when(met.fill_null(True).not_()).then(pl.lit(name)).otherwise(reason)
    return reason


def withhold_thin_days(frame: pl.DataFrame, min_bar_coverage: float) -> pl.DataFrame:
    """Withhold every stock of a day on which the source delivered too few bars.

    Coverage is the share of the day's stocks that are not `missing_row` (a suspension is
    a bar the market did not make, not a gap in the delivery).
    """
    delivered = (pl.col("fill_reason") != "missing_row").fill_null(True)
    coverage = delivered.mean().over("date")
    reason = pl.format("bar_coverage {} < {}", coverage.round(4), pl.lit(min_bar_coverage))
    thin = coverage < min_bar_coverage
    return frame.with_columns(
        withheld_reason=pl.when(thin).then(reason).otherwise(pl.col("withheld_reason"))
    )


def check_withheld(frame: pl.DataFrame) -> Outcome:
    """No stock-day of the partition was withheld; else which, and by which rule."""
    withheld = frame.filter(pl.col("withheld_reason").is_not_null())
    by_rule = dict(withheld["withheld_reason"].value_counts().iter_rows())
    sample = withheld.head(WITHHELD_SAMPLE).select("date", "order_book_id", "withheld_reason")
    return Outcome(
        passed=withheld.is_empty(),
        metadata={
            "rows_checked": len(frame),
            "withheld": len(withheld),
            "withheld_by_rule": by_rule,
            "withheld_sample": [
                f"{r['date']} {r['order_book_id']}: {r['withheld_reason']}"
                for r in sample.iter_rows(named=True)
            ],
        },
        description=(
            f"{len(withheld)} stock-day(s) withheld from scores: "
            + ", ".join(f"{rule} ({n})" for rule, n in sorted(by_rule.items()))
            if len(withheld)
            else f"all {len(frame)} stock-days sound"
        ),
    )
