"""The data rules of `quality.py` on tiny frames: each row rule that withholds a stock-day
from scores fails on the defect it guards against and passes on a valid or filled row; a thin
day is withheld whole; and the judgements behind the asset checks (coverage, completion,
ratios vs the source, withheld stock-days, and `combine` over a range)."""

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stockmonitor_assets import quality
from stockmonitor_assets.schemas import COMPLETED_OHLCV, FUNDAMENTALS

D = dt.date(2024, 6, 7)
SESSIONS = [dt.date(2024, 6, d) for d in (3, 4, 5, 6, 7)]


def bars(**overrides) -> pl.DataFrame:
    """Two traded stocks on D, valid, with one override applied to the first row."""
    rows = [
        dict(order_book_id="600000.XSHG", open=10.0, high=10.5, low=9.8, close=10.2),
        dict(order_book_id="600001.XSHG", open=5.0, high=5.2, low=4.9, close=5.1),
    ]
    common = dict(
        date=D, prev_close=10.0, volume=1e6, total_turnover=1e7, limit_up=11.0,
        limit_down=9.0, adj_factor=1.0, is_filled=False, fill_reason=None, last_traded_date=D,
    )  # fmt: skip
    rows = [{**common, **r} for r in rows]
    rows[1] |= dict(prev_close=5.0, limit_up=5.5, limit_down=4.5)
    rows[0] |= overrides
    return pl.DataFrame(rows, schema=COMPLETED_OHLCV.polars_schema)


def stock_days(rsi_14: float | None = 55.0, **overrides) -> pl.DataFrame:
    """`bars` with the RSI that `merged` carries (first row: `rsi_14`, second: 45)."""
    return bars(**overrides).with_columns(rsi_14=pl.Series([rsi_14, 45.0], dtype=pl.Float64))


def met(frame: pl.DataFrame, float_tolerance: float = quality.FLOAT_TOLERANCE) -> dict:
    """Per row rule, whether each row meets it (None: not judged)."""
    rules = quality.row_rules(float_tolerance)
    return frame.select(**rules).to_dict(as_series=False)


def reasons(frame: pl.DataFrame, float_tolerance: float = quality.FLOAT_TOLERANCE) -> list:
    return frame.select(reason=quality.withheld_reason(float_tolerance))["reason"].to_list()


# One stock-day breaking exactly one rule, per rule: removing a rule fails its case.
VIOLATIONS = {
    "low <= min(open, close)": dict(low=10.1),
    "max(open, close) <= high": dict(high=10.1),
    "volume >= 0": dict(volume=-1.0),
    "total_turnover >= 0": dict(total_turnover=-5.0),
    "close <= limit_up": dict(close=11.02, high=11.02),
    "close >= limit_down": dict(close=8.98, low=8.98),
    "rsi_14 >= 0": dict(rsi_14=-0.5),
    "rsi_14 <= 100": dict(rsi_14=100.5),
}


def test_every_row_rule_has_a_violating_case():
    assert list(VIOLATIONS) == list(quality.row_rules())


def test_a_valid_stock_day_meets_every_row_rule():
    assert all(values == [True, True] for values in met(stock_days()).values())
    assert reasons(stock_days()) == [None, None]


@pytest.mark.parametrize("rule", VIOLATIONS)
def test_a_row_rule_fails_exactly_on_the_stock_day_breaking_it(rule):
    frame = stock_days(**VIOLATIONS[rule])
    broken = {name: values for name, values in met(frame).items() if values != [True, True]}
    assert broken == {rule: [False, True]}
    assert reasons(frame) == [rule, None]


@pytest.mark.parametrize("rule", VIOLATIONS)
def test_a_filled_row_is_not_judged(rule):
    frame = stock_days(**VIOLATIONS[rule], is_filled=True, fill_reason="suspended")
    assert reasons(frame) == [None, None]


def test_withheld_reason_names_the_first_rule_broken():
    frame = stock_days(volume=-1.0, rsi_14=101.0)
    assert reasons(frame) == ["volume >= 0", None]


@pytest.mark.parametrize(
    "override",
    [
        dict(close=11.005, high=11.005),  # rounding: within a price tick of the limit
        dict(close=14.0, high=14.0, limit_up=None, limit_down=None),  # first listing day
        dict(rsi_14=None),  # no movement in the window: RSI undefined
    ],
)
def test_rounding_unlimited_days_and_undefined_rsi_are_not_withheld(override):
    assert reasons(stock_days(**override)) == [None, None]


@pytest.mark.parametrize(
    "override",
    [dict(rsi_14=100.0 * (1 + 1e-12)), dict(low=10.0 * (1 + 1e-12)), dict(high=10.2 * (1 - 1e-12))],
)
def test_float_comparisons_allow_the_configured_tolerance(override):
    assert reasons(stock_days(**override)) == [None, None]
    assert reasons(stock_days(**override), float_tolerance=0.0)[0] is not None


def thin_and_full_days(min_reason: str | None = None) -> pl.DataFrame:
    """Day A: 4 stocks, 1 bar missing (coverage 0.75); day B: 4 stocks, 3 missing (0.25).

    A suspension counts as delivered (the market made no bar). One row of day A already
    carries a row rule's reason.
    """
    day_a, day_b = dt.date(2024, 6, 6), D
    fills = {
        day_a: ["missing_row", "suspended", None, None],
        day_b: ["missing_row", "missing_row", "missing_row", "suspended"],
    }
    rows = [
        dict(order_book_id=f"60000{i}.XSHG", date=day, fill_reason=fill, withheld_reason=None)
        for day, day_fills in fills.items()
        for i, fill in enumerate(day_fills)
    ]
    rows[2]["withheld_reason"] = "volume >= 0"
    schema = {"order_book_id": pl.String, "date": pl.Date, "withheld_reason": pl.String}
    return pl.DataFrame(rows, schema=schema | {"fill_reason": COMPLETED_OHLCV.polars_schema[
        "fill_reason"]})  # fmt: skip


def test_a_day_with_too_few_delivered_bars_is_withheld_whole():
    out = quality.withhold_thin_days(thin_and_full_days(), min_bar_coverage=0.5)
    by_day = {d: g["withheld_reason"].to_list() for (d,), g in out.group_by("date")}
    assert by_day[D] == ["bar_coverage 0.25 < 0.5"] * 4
    assert by_day[dt.date(2024, 6, 6)] == [None, None, "volume >= 0", None]
    unchanged = quality.withhold_thin_days(thin_and_full_days(), min_bar_coverage=0.25)
    assert_frame_equal(unchanged, thin_and_full_days())


def test_the_thin_day_rule_judges_a_range_exactly_as_day_by_day():
    frame = thin_and_full_days()
    range_at_once = quality.withhold_thin_days(frame, 0.8)
    day_by_day = pl.concat(
        quality.withhold_thin_days(day, 0.8) for day in frame.partition_by("date")
    )
    assert_frame_equal(range_at_once, day_by_day)
    assert range_at_once["withheld_reason"].null_count() == 0  # 0.75 < 0.8 too


def test_check_withheld_lists_the_stock_days_and_counts_by_rule():
    assert quality.check_withheld(thin_and_full_days().with_columns(withheld_reason=None)).passed
    outcome = quality.check_withheld(quality.withhold_thin_days(thin_and_full_days(), 0.5))
    assert not outcome.passed
    assert outcome.metadata["withheld"] == 5 and outcome.metadata["rows_checked"] == 8
    assert outcome.metadata["withheld_by_rule"] == {"bar_coverage 0.25 < 0.5": 4, "volume >= 0": 1}
    assert "2024-06-06 600002.XSHG: volume >= 0" in outcome.metadata["withheld_sample"]
    assert "volume >= 0 (1)" in outcome.description


def test_completion_warns_on_fill_share_and_long_gaps():
    frame = bars(is_filled=True, fill_reason="suspended", last_traded_date=dt.date(2024, 6, 3))
    outcome = quality.check_completion(frame, SESSIONS, 0.6, 500)
    assert outcome.passed and outcome.metadata["longest_gap_sessions"] == 4
    assert outcome.metadata["filled_suspended"] == 1
    assert not quality.check_completion(frame, SESSIONS, 0.4, 500).passed
    assert not quality.check_completion(frame, SESSIONS, 0.6, 3).passed


def ratios(pe: float, source_pe: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    indicators = pl.DataFrame([dict(order_book_id="A", date=D, pe_ttm=pe, pb=2.0)])
    fundamentals = pl.DataFrame(
        [dict(order_book_id="A", date=D, source_pe_ttm=source_pe, source_pb=2.0)],
        schema={k: FUNDAMENTALS.polars_schema[k] for k in
                ("order_book_id", "date", "source_pe_ttm", "source_pb")},
    )  # fmt: skip
    return indicators, fundamentals


def test_source_ratios_within_tolerance():
    assert quality.check_source_ratios(*ratios(20.0, 20.0 * (1 + 1e-9)), 0.01).passed
    outcome = quality.check_source_ratios(*ratios(20.0, 20.5), 0.01)
    assert not outcome.passed and outcome.metadata["pe_ttm_mismatch_sample"] == ["A"]


def _days(n: int, failing: set[int]) -> dict[str, quality.Outcome]:
    start = dt.date(2020, 1, 1)
    return {
        (start + dt.timedelta(days=i)).isoformat(): quality.Outcome(
            i not in failing, {"n": i, "sample": ["x"]}, f"day {i}"
        )
        for i in range(n)
    }


def test_combine_keeps_a_single_days_own_metadata():
    ok = quality.Outcome(True, {"n": 1})
    assert quality.combine({"2024-06-07": ok}) is ok


def test_combine_of_a_short_range_names_failing_days_and_lists_each_days_numbers():
    combined = quality.combine(_days(31, failing={3, 7}))
    assert not combined.passed
    assert combined.metadata["partitions_checked"] == 31
    assert combined.metadata["first_partition"] == "2020-01-01"
    assert combined.metadata["last_partition"] == "2020-01-31"
    assert combined.metadata["failing_partitions"] == ["2020-01-04", "2020-01-08"]
    assert combined.metadata["failing_partitions_count"] == 2
    by_day = combined.metadata["by_partition"]
    assert len(by_day) == 31 and by_day["2020-01-08"] == {"n": 7}  # numbers only
    assert combined.description == "2020-01-04: day 3; 2020-01-08: day 7"


def test_combine_of_a_long_range_stays_small():
    combined = quality.combine(_days(5000, failing=set(range(0, 5000, 40))))
    assert "by_partition" not in combined.metadata
    assert combined.metadata["failing_partitions_count"] == 125
    assert len(combined.metadata["failing_partitions"]) == quality.WITHHELD_SAMPLE
    assert combined.description.count("day ") == quality.FAILURE_SAMPLE
    assert len(str(combined.metadata)) < 5000


def test_combine_of_a_clean_range_passes():
    combined = quality.combine(_days(3, failing=set()))
    assert combined.passed and combined.description == "all 3 partitions pass"
    assert combined.metadata["failing_partitions"] == []
