"""Cross-sectional stock scores: eligibility, factor z-scores, composite, rank and level.

Everything is per date (`.over("date")`), so a range run scores many days in one call.
The specification (eligibility order, factor formulas, winsorization, composite, rank and
level bands) is docs/scoring.md; the constants below are its numbers.
"""

import math
from collections.abc import Mapping
from numbers import Real
from types import MappingProxyType

import polars as pl

from stockmonitor_assets.schemas import CUSTOM_FACTORS, FACTORS, LEVELS, SCORES

DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "trend": 0.20,
        "momentum": 0.15,
        "macd": 0.10,
        "rsi": 0.10,
        "volatility": 0.10,
        "value": 0.15,
        "quality": 0.10,
        "liquidity": 0.10,
    }
    # Users' factors with a weight (plugins.py): the composite is a weighted mean, so the
    # built-ins keep their relative weights.
    | {f.name: float(f.score_weight) for f in CUSTOM_FACTORS if f.score_weight > 0}
)
LEVEL_BANDS = ((85.0, LEVELS[0]), (70.0, LEVELS[1]), (55.0, LEVELS[2]), (40.0, LEVELS[3]))
MIN_LISTED_TRADING_DAYS = 60
WINSOR_QUANTILES = (0.01, 0.99)
TREND_ALIGNMENT_SCALE = 0.05
RSI_PEAK, RSI_OVERBOUGHT = 55.0, 70.0
LIMIT_TOLERANCE = 0.005  # half a price tick: a close this near the limit is at the limit

# Raw columns before standardization; value is built from ep/bp (see `_value_factor`).
_RAW_INPUTS = tuple(f for f in FACTORS if f != "value") + ("ep", "bp")


def score_stocks(
    merged: pl.DataFrame, weights: Mapping[str, float] = DEFAULT_WEIGHTS
) -> pl.DataFrame:
    """SCORES of every row of `merged` (MERGED), scored cross-sectionally per date.

    Args:
        weights: factor weights; factors not named keep their DEFAULT_WEIGHTS value.
    """
    full_weights = validate_weights(weights)
    frame = merged.with_columns(**{_raw(c): _finite(e) for c, e in raw_factors().items()})
    frame = frame.with_columns(ineligible_reason=ineligible_reason()).with_columns(
        is_eligible=pl.col("ineligible_reason").is_null()
    )
    frame = _value_factor(frame)
    frame = _standardize(frame, {_raw(f): f"z_{f}" for f in FACTORS})
    frame = frame.with_columns(composite=composite(full_weights))
    frame = _rank(frame).with_columns(level=score_level(pl.col("score")))
    return frame.select(SCORES.names)


def validate_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """All eight factor weights: DEFAULT_WEIGHTS overridden by `weights`, or ValueError."""
    unknown = sorted(set(weights) - set(FACTORS))
    if unknown:
        raise ValueError(f"unknown factor weight(s) {unknown}; valid factors: {list(FACTORS)}")
    for name, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ValueError(f"weight of factor {name!r} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"weight of factor {name!r} must be finite, got {value!r}")
        if value < 0:
            raise ValueError(f"weight of factor {name!r} must be >= 0, got {value!r}")
    full = {name: float(weights.get(name, DEFAULT_WEIGHTS[name])) for name in FACTORS}
    if not any(full.values()):
        raise ValueError(
            f"all factor weights are zero ({full}, defaults applied to unnamed factors): "
            "at least one must be positive"
        )
    return full


def raw_factors() -> dict[str, pl.Expr]:
    """Raw factor expressions on MERGED columns (value comes later from ep/bp)."""
    rsi = pl.col("rsi_14")
    turnover_rate = pl.col("total_turnover") / pl.col("float_market_cap")
    return {
        "trend": _trend(),
        "momentum": pl.col("return_20d"),
        "macd": pl.when(pl.col("close") > 0).then(pl.col("macd_hist") / pl.col("close")),
        "rsi": -(rsi - RSI_PEAK).abs() - (rsi - RSI_OVERBOUGHT).clip(lower_bound=0.0),
        "volatility": -pl.col("volatility_20d"),
        "quality": pl.col("roe_ttm"),
        "liquidity": pl.when(turnover_rate > 0).then(turnover_rate.log()),
        "ep": pl.col("ep"),
        "bp": pl.col("bp"),
        **{
            f.name: pl.col(f.name) * (1.0 if f.higher_is_better else -1.0)
            for f in CUSTOM_FACTORS
            if f.score_weight > 0
        },
    }


def ineligible_reason() -> pl.Expr:
    """The first rule that excludes the stock on its date, or null when eligible."""
    at_limit_up = pl.col("close") >= pl.col("limit_up") - LIMIT_TOLERANCE
    no_data = pl.all_horizontal(pl.col(_raw(c)).is_null() for c in _RAW_INPUTS)
    reason = (
        pl.when(pl.col("withheld_reason").is_not_null())
        .then(pl.lit("data_defect"))
        .when(pl.col("is_filled"))
        .then(pl.lit("suspended"))
        .when(pl.col("is_st"))
        .then(pl.lit("st"))
        .when(pl.col("listed_trading_days") < MIN_LISTED_TRADING_DAYS)
        .then(pl.lit("new_listing"))
        .when(at_limit_up)
        .then(pl.lit("limit_up"))
        .when(no_data)
        .then(pl.lit("no_data"))
    )
    return reason.cast(SCORES.polars_schema["ineligible_reason"])


def composite(weights: Mapping[str, float]) -> pl.Expr:
    """Weighted mean of the non-null factor z-scores (null when no weighted factor is known)."""
    active = [f for f in FACTORS if weights[f] > 0]
    total = pl.sum_horizontal(pl.col(f"z_{f}") * weights[f] for f in active)
    weight = pl.sum_horizontal(
        pl.when(pl.col(f"z_{f}").is_not_null()).then(weights[f]).otherwise(0.0) for f in active
    )
    return pl.when(weight > 0).then(total / weight)


def score_level(score: pl.Expr) -> pl.Expr:
    """The level label of a 0-100 score by LEVEL_BANDS (null score -> null level)."""
    level = pl.when(score.is_null()).then(pl.lit(None, dtype=pl.String))
    for floor, label in LEVEL_BANDS:
        level = level.when(score >= floor).then(pl.lit(label))
    return level.otherwise(pl.lit(LEVELS[-1])).cast(pl.Enum(LEVELS))


def _raw(factor: str) -> str:
    return f"_raw_{factor}"


def _finite(value: pl.Expr) -> pl.Expr:
    return pl.when(value.is_finite()).then(value.cast(pl.Float64))


def _trend() -> pl.Expr:
    s5, s10, s20, s60, close = (pl.col(c) for c in ("sma_5", "sma_10", "sma_20", "sma_60", "close"))
    rising = (s5 > s10) & (s10 > s20) & (s20 > s60)
    falling = (s5 < s10) & (s10 < s20) & (s20 < s60)
    known = pl.all_horizontal(s.is_not_null() for s in (s5, s10, s20, s60))
    alignment = pl.when(~known).then(None).when(rising).then(1.0).when(falling).then(-1.0)
    alignment = alignment.otherwise(0.0)
    return pl.mean_horizontal(close / s20 - 1, close / s60 - 1, alignment * TREND_ALIGNMENT_SCALE)


def _value_factor(frame: pl.DataFrame) -> pl.DataFrame:
    """Raw value = mean of the available standardized EP and BP."""
    frame = _standardize(frame, {_raw("ep"): "_z_ep", _raw("bp"): "_z_bp"})
    return frame.with_columns(pl.mean_horizontal("_z_ep", "_z_bp").alias(_raw("value")))


def _standardize(frame: pl.DataFrame, columns: Mapping[str, str]) -> pl.DataFrame:
    """Winsorized z-scores of `columns` (source -> target) among eligible stocks, per date."""
    low, high = WINSOR_QUANTILES
    eligible = {t: pl.when(pl.col("is_eligible")).then(pl.col(s)) for s, t in columns.items()}
    frame = frame.with_columns(
        x.clip(
            x.quantile(low, "linear").over("date"), x.quantile(high, "linear").over("date")
        ).alias(t)
        for t, x in eligible.items()
    )
    return frame.with_columns(_zscore(pl.col(t)).alias(t) for t in columns.values())


def _zscore(x: pl.Expr) -> pl.Expr:
    std = x.std(ddof=1).over("date")
    centered = x - x.mean().over("date")
    return pl.when(std > 0).then(centered / std).when(x.is_not_null()).then(0.0)


def _rank(frame: pl.DataFrame) -> pl.DataFrame:
    """rank (1 = best, ties by order_book_id), percentile and score among ranked stocks."""
    ordered = frame.sort(
        ["date", "composite", "order_book_id"], descending=[False, True, False], nulls_last=True
    )
    has_composite = pl.col("composite").is_not_null()
    ranked = ordered.with_columns(
        rank=pl.when(has_composite).then(has_composite.cum_sum().over("date"))
    )
    rank, n = pl.col("rank").cast(pl.Float64), pl.col("rank").max().over("date").cast(pl.Float64)
    # (n - rank) is an exact integer, so a score on a band edge (e.g. 85) is exactly that.
    percentile = pl.when(n > 1).then((n - rank) / (n - 1)).otherwise(1.0)
    score = pl.when(n > 1).then((n - rank) * 100.0 / (n - 1)).otherwise(100.0)
    return ranked.with_columns(
        percentile=pl.when(has_composite).then(percentile),
        score=pl.when(has_composite).then(score),
    )
