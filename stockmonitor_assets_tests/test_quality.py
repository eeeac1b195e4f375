"""The data-quality rules of `quality.py` on tiny frames: each valid frame passes, and each
injected defect fails the rule that guards against it."""

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stockmonitor_assets import quality
from stockmonitor_assets.schemas import COMPLETED_OHLCV, FUNDAMENTALS, INSTRUMENTS, SCORES

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


def universe(ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        [dict(order_book_id=i, date=D, board="main", listed_date=dt.date(2020, 1, 2),
              is_st=False) for i in ids],
        schema=INSTRUMENTS.polars_schema,
    )  # fmt: skip


def test_valid_frame_passes_schema_key_and_price_rules():
    frame = bars()
    for outcome in (
        quality.check_schema(frame, COMPLETED_OHLCV),
        quality.check_unique_key(frame, COMPLETED_OHLCV),
        quality.check_prices(frame),
    ):
        assert outcome.passed, outcome.description


@pytest.mark.parametrize(
    "defect, rule",
    [
        (lambda f: f.with_columns(pl.col("volume").cast(pl.Int64)), "volume: dtype('Float64')"),
        (lambda f: f.drop("adj_factor"), "column_in_dataframe"),
        (lambda f: f.select(reversed(f.columns)), "column_ordered"),
        (lambda f: f.with_columns(is_filled=pl.lit(None, pl.Boolean)), "is_filled: not_nullable"),
    ],
)
def test_schema_defects_fail(defect, rule):
    outcome = quality.check_schema(defect(bars()), COMPLETED_OHLCV)
    assert not outcome.passed and any(rule in r for r in outcome.metadata["by_rule"])


def test_duplicate_key_fails():
    frame = bars()
    outcome = quality.check_unique_key(pl.concat([frame, frame.head(1)]), COMPLETED_OHLCV)
    assert not outcome.passed and outcome.metadata["failures"] == 2


@pytest.mark.parametrize(
    "override, rule",
    [
        (dict(low=10.1), "low <= min(open, close)"),
        (dict(high=10.1), "max(open, close) <= high"),
        (dict(volume=-1.0), "volume >= 0"),
        (dict(total_turnover=-5.0), "total_turnover >= 0"),
        (dict(close=11.02, high=11.02), "limit_down <= close <= limit_up"),
        (dict(close=8.98, low=8.98), "limit_down <= close <= limit_up"),
    ],
)
def test_price_defects_fail(override, rule):
    outcome = quality.check_prices(bars(**override))
    assert not outcome.passed and list(outcome.metadata["by_rule"]) == [rule]


@pytest.mark.parametrize(
    "override",
    [
        dict(close=11.005, high=11.005),  # rounding: within 0.01 of the limit
        dict(close=14.0, high=14.0, limit_up=None, limit_down=None),  # first listing day
    ],
)
def test_limit_band_allows_rounding_and_unlimited_days(override):
    assert quality.check_prices(bars(**override)).passed


def test_coverage_counts_listed_stocks_only():
    listed = universe(["600000.XSHG", "600001.XSHG", "600002.XSHG"])
    delisted = listed.with_columns(
        de_listed_date=pl.when(pl.col("order_book_id") == "600002.XSHG").then(pl.lit(D))
    )
    assert not quality.check_coverage(bars(), listed, 0.99, "a row").passed
    assert quality.check_coverage(bars(), delisted, 0.99, "a row").passed


def test_completion_warns_on_fill_share_and_long_gaps():
    frame = bars(is_filled=True, fill_reason="suspended", last_traded_date=dt.date(2024, 6, 3))
    outcome = quality.check_completion(frame, SESSIONS, 0.6, 500)
    assert outcome.passed and outcome.metadata["longest_gap_sessions"] == 4
    assert outcome.metadata["filled_suspended"] == 1
    assert not quality.check_completion(frame, SESSIONS, 0.4, 500).passed
    assert not quality.check_completion(frame, SESSIONS, 0.6, 3).passed


def history_and_indicators(sma_5: float, rsi: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    closes = [10.0, 11.0, 12.0, 13.0, 14.0]
    history = pl.concat(
        bars(date=d, close=c, open=c, high=c, low=c, adj_factor=2.0 if d == D else 1.0).head(1)
        for d, c in zip(SESSIONS, closes, strict=True)
    )
    values = {"order_book_id": "600000.XSHG", "date": D, "sma_5": sma_5, "rsi_14": rsi}
    values |= {f"sma_{n}": None for n in (10, 20, 60)}  # not enough bars
    return pl.DataFrame([values]), history


def test_indicator_ranges_of_an_empty_day_pass():
    empty = pl.DataFrame(schema=history_and_indicators(6.0, 55.0)[0].schema)
    assert quality.check_indicator_ranges(empty, bars().clear()).passed


def test_indicator_ranges():
    # Forward-adjusted to D (factor 2 on D): the window spans [5, 14].
    assert quality.check_indicator_ranges(*history_and_indicators(6.0, 55.0)).passed
    assert not quality.check_indicator_ranges(*history_and_indicators(15.0, 55.0)).passed
    assert not quality.check_indicator_ranges(*history_and_indicators(6.0, 100.5)).passed


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


def scores(**override) -> pl.DataFrame:
    row = dict(order_book_id="A", date=D, is_eligible=True, score=80.0, rank=1)
    return pl.DataFrame([row | override]).with_columns(
        ineligible_reason=pl.lit(override.get("ineligible_reason"), SCORES.polars_schema[
            "ineligible_reason"])
    )  # fmt: skip


@pytest.mark.parametrize(
    "override",
    [dict(score=100.5), dict(is_eligible=False, ineligible_reason="st"), dict(is_eligible=False)],
)
def test_score_defects_fail(override):
    assert quality.check_scores(scores()).passed
    assert not quality.check_scores(scores(**override)).passed


def test_combine_names_failing_partitions():
    ok, bad = quality.Outcome(True, {"n": 1}), quality.Outcome(False, {"n": 2}, "broken")
    combined = quality.combine({"2024-06-06": bad, "2024-06-07": ok})
    assert not combined.passed and combined.metadata["failing_partitions"] == ["2024-06-06"]
    assert combined.metadata["by_partition"]["2024-06-07"] == {"n": 1}
    assert quality.combine({"2024-06-07": ok}) is ok


def _bounds_day_by_day(history: pl.DataFrame, day: dt.date, window_days: int) -> pl.DataFrame:
    """Reference: the last `window_days` days of history up to `day`, tail(n) per stock."""
    window = sorted(d for d in history["date"].unique() if d <= day)[-window_days:]
    traded = history.filter(
        pl.col("date").is_in(window) & ~pl.col("is_filled") & pl.col("close").is_not_null()
    ).sort("date")
    factor = history.filter(pl.col("date") == day).select("order_book_id", "adj_factor")
    rows = []
    for (stock,), bars_ in traded.group_by("order_book_id"):
        back = (bars_["close"] * bars_["adj_factor"]).to_list()
        row = {"order_book_id": stock}
        for n in quality.SMA_LENGTHS:
            last = back[-n:] if len(back) >= n else None
            row |= {f"sma_{n}_min": min(last) if last else None,
                    f"sma_{n}_max": max(last) if last else None}  # fmt: skip
        rows.append(row)
    bounds = {f"sma_{n}_{e}": pl.Float64 for n in quality.SMA_LENGTHS for e in ("min", "max")}
    frame = pl.DataFrame(rows, schema={"order_book_id": pl.String, **bounds})
    fwd = [pl.col(c) / pl.col("adj_factor") for c in frame.columns if c.startswith("sma_")]
    return factor.join(frame, on="order_book_id").select("order_book_id", *fwd)


def test_sma_bounds_of_a_range_equal_day_by_day_windows():
    rng = np.random.default_rng(7)
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(150)]
    rows = []
    for s in range(6):
        factor = 1.0
        for i, day in enumerate(days[s * 7 :]):  # staggered listings
            factor *= 1.1 if rng.random() < 0.02 else 1.0  # ex-dividend steps
            suspended = 40 <= i < 40 + 30 * (s % 3)  # 0, 30 or 60 days without trading
            rows.append(dict(order_book_id=f"S{s}", date=day, close=float(rng.uniform(5, 15)),
                             adj_factor=factor, is_filled=suspended))  # fmt: skip
    history = pl.DataFrame(rows)
    targets = days[100:]
    got = quality.sma_bounds(history, targets, window_days=80)
    for day in targets:
        expected = _bounds_day_by_day(history, day, 80).sort("order_book_id")
        mine = got.filter(pl.col("date") == day).drop("date").sort("order_book_id")
        mine = mine.filter(pl.col("order_book_id").is_in(expected["order_book_id"].implode()))
        assert_frame_equal(mine, expected, check_exact=True)
    judged = got.filter(pl.col("sma_60_min").is_not_null())
    assert 0 < len(judged) < len(got)  # the window both admits and excludes stocks
