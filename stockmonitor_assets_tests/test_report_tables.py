"""The daily report's tables (transforms/report.py) on a hand-made five-stock day."""

import datetime as dt

import polars as pl

from stockmonitor_assets.schemas import FACTORS, LEVELS
from stockmonitor_assets.transforms import report

DAY, PREVIOUS = dt.date(2024, 6, 3), dt.date(2024, 5, 31)


def merged_day() -> pl.DataFrame:
    """A: limit-up main; B: down on ChiNext; C: suspended; D: listed today (STAR); E: flat."""
    return pl.DataFrame(
        {
            "order_book_id": ["A.XSHG", "B.XSHE", "C.XSHG", "D.XSHG", "E.XSHE"],
            "date": [DAY] * 5,
            "symbol": ["甲", "乙", "丙", "丁", "戊"],
            "board": ["main", "chinext", "main", "star", "main"],
            "listed_date": [dt.date(2010, 1, 4)] * 3 + [DAY, dt.date(2012, 1, 4)],
            "close": [11.0, 9.0, 5.0, 30.0, 7.0],
            "prev_close": [10.0, 10.0, 5.0, 20.0, 7.0],
            "limit_up": [11.0, 12.0, 5.5, None, 7.7],
            "limit_down": [9.0, 8.0, 4.5, None, 6.3],
            "is_filled": [False, False, True, False, False],
            "fill_reason": [None, None, "suspended", None, None],
            "is_suspended": [False, False, True, False, False],
            "withheld_reason": [None, None, None, None, "price outside limits"],
        }
    )


def scores_day(ranks: list[int | None], scores: list[float | None]) -> pl.DataFrame:
    eligible = [r is not None for r in ranks]
    levels = [None if s is None else _level(s) for s in scores]
    z = {f"z_{f}": [0.5 if e else None for e in eligible] for f in FACTORS}
    z["z_value"] = [0.5, None, None, None, None]  # value known for A only
    return pl.DataFrame(
        {
            "order_book_id": ["A.XSHG", "B.XSHE", "C.XSHG", "D.XSHG", "E.XSHE"],
            "date": [DAY] * 5,
            "is_eligible": eligible,
            **z,
            "composite": [None if s is None else s / 100 for s in scores],
            "rank": pl.Series(ranks, dtype=pl.UInt32),
            "score": scores,
            "level": pl.Series(levels, dtype=pl.Enum(LEVELS)),
        }
    )


def _level(score: float) -> str:
    for bound, label in ((85, "强势股"), (70, "潜力股"), (55, "震荡股"), (40, "弱势股")):
        if score >= bound:
            return label
    return "高风险股"


def build(previous=None):
    scores = scores_day([1, 2, None, None, None], [100.0, 0.0, None, None, None])
    return report.build_report(
        DAY, merged_day(), scores, previous, PREVIOUS if previous is not None else None
    )


def test_breadth_counts_traded_limit_suspended_new_and_withheld_stocks():
    assert build().breadth == {
        "stocks": 5,
        "traded": 4,
        "advancers": 2,  # A (at its limit) and D (new listing, no limit)
        "decliners": 1,
        "unchanged": 1,  # E; C is suspended, not unchanged
        "limit_up": 1,
        "limit_down": 0,
        "suspended": 1,
        "newly_listed": 1,
        "eligible": 2,
        "withheld": 1,
    }


def test_every_board_is_listed_with_its_own_counts():
    boards = build().boards
    assert boards["board"].to_list() == ["main", "chinext", "star", "bse"]
    assert boards["stocks"].to_list() == [3, 1, 1, 0]
    assert boards["limit_up"].to_list() == [1, 0, 0, 0]
    assert boards["advancers"].to_list() == [1, 0, 1, 0]


def test_histogram_bins_carry_their_level_and_count_scored_stocks_only():
    r = build()
    assert len(r.histogram) == 20 and r.histogram["stocks"].sum() == 2
    assert r.histogram.filter(pl.col("bin_start") == 95)["stocks"].item() == 1  # score 100
    assert r.histogram.filter(pl.col("bin_start") == 85)["level"].item() == "强势股"
    assert r.histogram.filter(pl.col("bin_start") == 80)["level"].item() == "潜力股"
    assert dict(r.levels.iter_rows()) == {
        "强势股": 1,
        "潜力股": 0,
        "震荡股": 0,
        "弱势股": 0,
        "高风险股": 1,
    }


def test_top_and_bottom_list_eligible_stocks_with_their_z_scores():
    r = build()
    assert r.top["order_book_id"].to_list() == ["A.XSHG", "B.XSHE"]
    assert r.bottom["order_book_id"].to_list() == ["B.XSHE", "A.XSHG"]
    assert {f"z_{f}" for f in FACTORS} <= set(r.top.columns)


def test_rank_movers_compare_with_the_previous_session():
    previous = pl.DataFrame(
        {"order_book_id": ["A.XSHG", "B.XSHE"], "rank": pl.Series([2, 1], dtype=pl.UInt32)}
    )
    r = build(previous)
    assert r.movers_up.select("order_book_id", "rank_change").rows() == [("A.XSHG", 1)]
    assert r.movers_down.select("order_book_id", "rank_change").rows() == [("B.XSHE", -1)]
    assert build().movers_up.is_empty()


def test_factor_coverage_is_the_share_of_eligible_stocks_with_a_z_score():
    coverage = dict(build().coverage.select("factor", "share").iter_rows())
    assert coverage["value"] == 0.5 and coverage["trend"] == 1.0


def test_history_is_forward_adjusted_to_the_report_day():
    merged = pl.DataFrame(
        {
            "order_book_id": ["A.XSHG"] * 2,
            "date": [PREVIOUS, DAY],
            "close": [20.0, 11.0],
            "adj_factor": [1.0, 2.0],  # a 1:1 bonus issue on DAY halves the price
        }
    )
    scores = pl.DataFrame({"order_book_id": ["A.XSHG"], "date": [DAY], "score": [100.0]})
    names = pl.DataFrame({"order_book_id": ["A.XSHG"], "symbol": ["甲"]})
    history = report.name_history(merged, scores, names, DAY)
    assert history["close_adj"].to_list() == [10.0, 11.0]
    assert history["score"].to_list() == [None, 100.0]
