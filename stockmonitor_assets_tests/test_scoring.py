"""Scores: eligibility rules, winsorized z-scores, weights, ranks and level bands.

Small explicit frames for the rules; a random 500-stock market over two dates for the
cross-sectional properties (mean 0 / std 1 among eligible, ranks a permutation per date).
"""

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stockmonitor_assets.schemas import FACTORS, MERGED, SCORES
from stockmonitor_assets.transforms import scoring
from stockmonitor_assets.transforms.scoring import (
    DEFAULT_WEIGHTS,
    score_level,
    validate_weights,
)


def score_stocks(*args) -> pl.DataFrame:
    """`scoring.score_stocks`, conformed as the write conforms it (proving the contract)."""
    return SCORES.conform(scoring.score_stocks(*args))


DAY = dt.date(2024, 3, 1)
DAYS = [DAY, dt.date(2024, 3, 4)]
Z_COLUMNS = [f"z_{f}" for f in FACTORS]
# A healthy, tradeable stock: every factor input present.
BASE = {
    "date": DAY,
    "board": "main",
    "listed_date": dt.date(2015, 1, 5),
    "listed_trading_days": 2000,
    "is_st": False,
    "is_filled": False,
    "adj_factor": 1.0,
    "close": 10.0,
    "limit_up": 11.0,
    "sma_5": 9.9,
    "sma_10": 9.8,
    "sma_20": 9.7,
    "sma_60": 9.5,
    "rsi_14": 55.0,
    "macd_hist": 0.05,
    "return_20d": 0.02,
    "volatility_20d": 0.02,
    "roe_ttm": 0.1,
    "ep": 0.05,
    "bp": 0.5,
    "total_turnover": 1e8,
    "float_market_cap": 1e10,
}


def merged(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame([{**BASE, **r} for r in rows], schema=MERGED.polars_schema)


def only(factor: str) -> dict[str, float]:
    return {f: float(f == factor) for f in FACTORS}


def ranked_ids(scores: pl.DataFrame) -> list[str]:
    return scores.filter(pl.col("rank").is_not_null()).sort("rank")["order_book_id"].to_list()


def random_market(n: int = 500, seed: int = 7) -> pl.DataFrame:
    """n stocks on two dates, lognormal-ish inputs, some nulls, ST and suspended names."""
    rng = np.random.default_rng(seed)
    frames = []
    for day in DAYS:
        close = rng.lognormal(2.5, 0.8, n)
        sma = {k: close * rng.normal(1, s, n) for k, s in (("5", 0.02), ("10", 0.04))}
        sma |= {k: close * rng.normal(1, s, n) for k, s in (("20", 0.06), ("60", 0.1))}
        values = {
            "order_book_id": [f"{i:06d}.XSHE" for i in range(n)],
            "date": [day] * n,
            "close": close,
            "limit_up": np.where(rng.random(n) < 0.03, close, np.round(close * 1.1, 2)),
            **{f"sma_{k}": v for k, v in sma.items()},
            "rsi_14": rng.uniform(10, 90, n),
            "macd_hist": rng.normal(0, 0.2, n),
            "return_20d": rng.standard_t(3, n) * 0.08,  # fat tails: winsorization bites
            "volatility_20d": rng.lognormal(-3.8, 0.4, n),
            "roe_ttm": np.where(rng.random(n) < 0.1, np.nan, rng.normal(0.08, 0.1, n)),
            "ep": rng.normal(0.04, 0.05, n),
            "bp": rng.lognormal(-0.8, 0.6, n),
            "total_turnover": rng.lognormal(18, 1.2, n),
            "float_market_cap": rng.lognormal(22, 1, n),
            "is_st": rng.random(n) < 0.05,
            "is_filled": rng.random(n) < 0.05,
        }
        frames.append(pl.DataFrame(values).with_columns(pl.col("roe_ttm").fill_nan(None)))
    market = pl.concat(frames)
    defaults = {k: v for k, v in BASE.items() if k not in market.columns}
    return market.with_columns(**{k: pl.lit(v) for k, v in defaults.items()}).select(
        pl.col(c).cast(t) if c in market.columns or c in defaults else pl.lit(None, t).alias(c)
        for c, t in MERGED.polars_schema.items()
    )


@pytest.fixture(scope="module")
def market_scores() -> pl.DataFrame:
    return score_stocks(random_market())


def test_scores_follow_the_contract_and_keep_every_row(market_scores):
    assert market_scores.schema == SCORES.polars_schema
    assert len(market_scores) == 1000


def test_eligible_z_scores_have_mean_0_and_std_1_per_factor_and_date(market_scores):
    stats = (
        market_scores.filter("is_eligible")
        .group_by("date")
        .agg(
            *(pl.col(z).mean().alias(f"{z}_mean") for z in Z_COLUMNS),
            *(pl.col(z).std(ddof=1).alias(f"{z}_std") for z in Z_COLUMNS),
            *(pl.col(z).count().alias(f"{z}_n") for z in Z_COLUMNS),
        )
    )
    assert len(stats) == 2
    for row in stats.iter_rows(named=True):
        for z in Z_COLUMNS:
            assert row[f"{z}_n"] > 400
            assert abs(row[f"{z}_mean"]) < 1e-12, z
            assert row[f"{z}_std"] == pytest.approx(1.0, abs=1e-12), z


def test_null_factor_input_stays_null_after_standardization(market_scores):
    quality = market_scores.filter("is_eligible")["z_quality"]
    assert 0 < quality.null_count() < len(quality)


def test_ineligible_stocks_have_no_z_scores_or_rank(market_scores):
    ineligible = market_scores.filter(~pl.col("is_eligible"))
    assert len(ineligible) > 20
    scored = ["composite", "rank", "percentile", "score", "level", *Z_COLUMNS]
    assert ineligible.select(pl.all_horizontal(pl.col(scored).is_null())).to_series().all()


def test_ranks_are_a_permutation_of_1_to_n_eligible_per_date(market_scores):
    for (_day,), group in market_scores.filter("is_eligible").group_by("date"):
        assert sorted(group["rank"].to_list()) == list(range(1, len(group) + 1))
        best = group.sort("rank")
        assert best["composite"].is_sorted(descending=True)
        assert best["score"][0] == 100.0 and best["score"][-1] == 0.0


def test_scoring_a_range_at_once_equals_scoring_each_day(market_scores):
    market = random_market()
    per_day = pl.concat(score_stocks(market.filter(pl.col("date") == d)) for d in DAYS)
    assert_frame_equal(market_scores, per_day.sort("order_book_id", "date"))


def test_winsorization_clips_an_outlier_to_the_99th_percentile():
    returns = [*range(100), 1e6]
    scores = score_stocks(
        merged([{"order_book_id": f"{i:03d}", "return_20d": r} for i, r in enumerate(returns)])
    )
    x = np.array(returns, dtype=float)
    low, high = np.quantile(x, [0.01, 0.99])  # numpy's default is linear interpolation
    clipped = np.clip(x, low, high)
    expected = (clipped - clipped.mean()) / clipped.std(ddof=1)
    np.testing.assert_allclose(scores.sort("order_book_id")["z_momentum"], expected, atol=1e-12)
    assert scores["z_momentum"].max() < 2.0  # unclipped, the outlier would be z = 10


def test_a_factor_without_dispersion_has_z_0_for_everyone():
    scores = score_stocks(merged([{"order_book_id": f"{i}"} for i in range(5)]))
    assert scores["z_quality"].to_list() == [0.0] * 5


def test_weighting_only_momentum_ranks_by_momentum():
    rows = [{"order_book_id": s, "return_20d": r} for s, r in [("a", 0.1), ("b", 0.3), ("c", -0.2)]]
    rows = [{**r, "volatility_20d": v} for r, v in zip(rows, [0.01, 0.05, 0.03], strict=True)]
    assert ranked_ids(score_stocks(merged(rows), only("momentum"))) == ["b", "a", "c"]
    # Lower volatility is better: weighting only volatility reorders the same stocks.
    assert ranked_ids(score_stocks(merged(rows), only("volatility"))) == ["a", "c", "b"]


def test_rsi_factor_prefers_55_and_penalizes_overbought_more_than_oversold():
    rows = [{"order_book_id": s, "rsi_14": r} for s, r in [("hot", 75), ("mid", 55), ("cold", 35)]]
    assert ranked_ids(score_stocks(merged(rows), only("rsi"))) == ["mid", "cold", "hot"]


def test_trend_factor_prefers_rising_aligned_averages():
    up = {"order_book_id": "up", "close": 10.0}
    down = {"order_book_id": "down", "close": 9.0, "sma_5": 9.5, "sma_10": 9.6, "sma_20": 9.8}
    down["sma_60"] = 10.0
    flat = {"order_book_id": "flat", "close": 9.7, "sma_5": 9.7, "sma_10": 9.7, "sma_20": 9.7}
    flat["sma_60"] = 9.7
    assert ranked_ids(score_stocks(merged([down, flat, up]), only("trend"))) == [
        "up",
        "flat",
        "down",
    ]


def test_equal_composites_rank_by_order_book_id():
    rows = [{"order_book_id": s} for s in ["c", "a", "b"]]
    assert ranked_ids(score_stocks(merged(rows))) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"is_filled": True}, "suspended"),
        ({"is_filled": True, "is_st": True, "listed_trading_days": 3}, "suspended"),
        ({"is_st": True}, "st"),
        ({"is_st": True, "listed_trading_days": 3}, "st"),
        ({"listed_trading_days": 59}, "new_listing"),
        ({"close": 11.0, "limit_up": 11.0}, "limit_up"),
        ({"listed_trading_days": 1, "close": 11.0, "limit_up": 11.0}, "new_listing"),
        ({k: None for k in BASE if k not in MERGED.key and k != "board"}, "no_data"),
        ({"listed_trading_days": 60}, None),
        ({"close": 10.99, "limit_up": 11.0}, None),
        ({"close": 11.0, "limit_up": None}, None),
    ],
)
def test_eligibility_takes_the_first_applicable_reason(row, reason):
    others = [{"order_book_id": f"peer{i}", "return_20d": i / 100} for i in range(3)]
    scores = score_stocks(merged([{"order_book_id": "x", **row}, *others]))
    x = scores.filter(pl.col("order_book_id") == "x").row(0, named=True)
    assert (x["ineligible_reason"], x["is_eligible"]) == (reason, reason is None)
    assert (x["rank"] is None) == (reason is not None)


def test_score_is_exactly_85_at_rank_4_of_21_and_labelled_strong():
    rows = [{"order_book_id": f"{i:02d}", "return_20d": -i / 100} for i in range(21)]
    scores = score_stocks(merged(rows), only("momentum")).sort("rank")
    assert scores["score"][3] == 85.0 and scores["percentile"][3] == 0.85
    assert scores["level"][3] == "强势股" and scores["level"][4] == "潜力股"


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (100.0, "强势股"),
        (85.0, "强势股"),
        (84.99, "潜力股"),
        (70.0, "潜力股"),
        (69.99, "震荡股"),
        (55.0, "震荡股"),
        (54.99, "弱势股"),
        (40.0, "弱势股"),
        (39.99, "高风险股"),
        (0.0, "高风险股"),
        (None, None),
    ],
)
def test_level_bands_include_their_lower_bound(score, level):
    frame = pl.DataFrame({"score": [score]}, schema={"score": pl.Float64})
    assert frame.select(level=score_level(pl.col("score")))["level"][0] == level


def test_partial_weights_override_only_the_named_factors():
    assert validate_weights({"trend": 0.5}) == {**DEFAULT_WEIGHTS, "trend": 0.5}
    assert validate_weights({}) == dict(DEFAULT_WEIGHTS)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"momentun": 1.0}, r"unknown factor weight\(s\) \['momentun'\]; valid factors: .*trend"),
        ({"trend": -0.1}, "'trend' must be >= 0, got -0.1"),
        ({"value": math.nan}, "'value' must be finite"),
        ({"value": math.inf}, "'value' must be finite"),
        ({"quality": "high"}, "'quality' must be a number, got 'high'"),
        ({f: 0.0 for f in FACTORS}, "all factor weights are zero"),
    ],
)
def test_invalid_weights_raise_naming_the_problem(weights, message):
    with pytest.raises(ValueError, match=message):
        validate_weights(weights)
    with pytest.raises(ValueError, match=message):
        score_stocks(merged([{"order_book_id": "a"}]), weights)


def test_empty_input_gives_empty_scores():
    assert score_stocks(MERGED.empty()).equals(SCORES.empty())
