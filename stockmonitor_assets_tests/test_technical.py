"""Technical indicators: oracles from outside (MyTT building blocks, TA-Lib, numpy).

Covers the 通达信 conventions (traded bars only, forward adjustment to D, EMA seeded with the
first bar, RSI seeded with the first Δ), the warm-up nulls, the anchored window (close to
full history, bit-identical between range and day-by-day runs) and properties (hypothesis).

Oracle convention: MyTT's REF gives NaN on the first bar, so its Δ series starts on the
second traded bar and pandas' ewm seeds SMA(X,14,1) with that first Δ, exactly as the
implementation does. The oracle works on forward-adjusted closes of the traded bars of D's
window, computed here from the documented grid formula.
"""

import datetime as dt

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st
from MyTT import ABS, EMA, MA, MAX, REF, SMA
from polars.testing import assert_frame_equal

from stockmonitor_assets.schemas import BUILTIN_TECHNICAL, COMPLETED_OHLCV, TECHNICAL_INDICATORS
from stockmonitor_assets.transforms import technical
from stockmonitor_assets.transforms.technical import (
    ANCHOR_STEP_DEFAULT,
    WINDOW_DEFAULT,
    window_partitions_needed,
    window_start,
)


def compute_technical_indicators(*args, **kwargs) -> pl.DataFrame:
    """`technical.compute_technical_indicators`, conformed as the write conforms it (proving
    the contract of its built-in columns)."""
    return BUILTIN_TECHNICAL.conform(technical.compute_technical_indicators(*args, **kwargs))


PRICE_LEVEL = ("sma_5", "sma_10", "sma_20", "sma_60", "macd_dif", "macd_dea", "macd_hist")
INDICATORS = (*PRICE_LEVEL, "rsi_14", "return_20d", "volatility_20d")


def calendar(n: int) -> list[dt.date]:
    """n weekdays from 2020-01-02: any sorted calendar works for these rules."""
    days, day = [], dt.date(2020, 1, 2)
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def random_walk(n: int, seed: int, start: float = 10.0) -> np.ndarray:
    steps = np.random.default_rng(seed).normal(0.0, 0.02, n)
    return np.round(start * np.exp(np.cumsum(steps)), 2)


def completed(
    stock: str,
    days: list[dt.date],
    closes,
    adj_factors=None,
    filled=None,
) -> pl.DataFrame:
    """COMPLETED_OHLCV rows of one stock; filled rows carry the last close, as completion does."""
    n = len(days)
    adj = [1.0] * n if adj_factors is None else list(adj_factors)
    is_filled = [False] * n if filled is None else list(filled)
    frame = pl.DataFrame(
        {
            "order_book_id": [stock] * n,
            "date": days,
            "close": [None if c is None else float(c) for c in closes],
            "adj_factor": adj,
            "is_filled": is_filled,
        }
    ).with_columns(
        open=pl.col("close"),
        high=pl.col("close"),
        low=pl.col("close"),
        prev_close=pl.col("close"),
        volume=pl.when("is_filled").then(0.0).otherwise(1e6),
        total_turnover=pl.when("is_filled").then(0.0).otherwise(1e7),
        limit_up=None,
        limit_down=None,
        fill_reason=pl.when("is_filled").then(pl.lit("suspended")),
        last_traded_date=None,
    )
    return COMPLETED_OHLCV.conform(frame)


def oracle(bars: pl.DataFrame, stock: str, day: dt.date, sessions: list[dt.date], window: int):
    """Expected row for (stock, day), composed from MyTT's unrounded MA/EMA/SMA and numpy."""
    i = sessions.index(day)
    start = sessions[max(0, ((i - window + 1) // ANCHOR_STEP_DEFAULT) * ANCHOR_STEP_DEFAULT)]
    own = bars.filter(pl.col("order_book_id") == stock)
    adj_at_day = own.filter(pl.col("date") == day)["adj_factor"].item()
    traded = own.filter(~pl.col("is_filled") & pl.col("date").is_between(start, day)).sort("date")
    c = (traded["close"] * traded["adj_factor"]).to_numpy() / adj_at_day
    n = len(c)
    row = {"traded_bars": n, **dict.fromkeys(INDICATORS, np.nan)}
    if n == 0 or traded["date"][-1] != day:
        return row
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = c - REF(c, 1)
        dif = EMA(c, 12) - EMA(c, 26)
        dea = EMA(dif, 9)
        rsi = SMA(MAX(delta, 0), 14, 1) / SMA(ABS(delta), 14, 1) * 100
    returns = c[1:] / c[:-1] - 1
    row |= {f"sma_{k}": MA(c, k)[-1] for k in (5, 10, 20, 60)}
    if n >= 34:
        row |= {"macd_dif": dif[-1], "macd_dea": dea[-1], "macd_hist": 2 * (dif[-1] - dea[-1])}
    if n >= 15:
        row["rsi_14"] = rsi[-1]
    if n >= 21:
        row["return_20d"] = c[-1] / c[-21] - 1
        row["volatility_20d"] = np.std(returns[-20:], ddof=1)
    return row


def assert_matches_oracle(
    bars: pl.DataFrame,
    targets: list[dt.date],
    sessions: list[dt.date],
    window: int = WINDOW_DEFAULT,
    rtol: float = 1e-9,
) -> None:
    out = compute_technical_indicators(bars, targets, sessions, window=window)
    assert len(out) == len(bars.filter(pl.col("date").is_in(targets)))
    for row in out.iter_rows(named=True):
        want = oracle(bars, row["order_book_id"], row["date"], sessions, window)
        where = f"{row['order_book_id']} {row['date']}"
        assert row["traded_bars"] == want["traded_bars"], where
        for column in INDICATORS:
            if np.isnan(want[column]):
                assert row[column] is None, f"{where} {column}: null expected, never NaN"
            else:
                np.testing.assert_allclose(row[column], want[column], rtol=rtol, atol=rtol)


SESSIONS = calendar(400)


def case_random_walk():
    return completed("600000.XSHG", SESSIONS, random_walk(400, 1))


def case_flat_runs():
    closes = random_walk(400, 2)
    for start in (0, 100, 230):  # flat from listing (RSI has no movement), then mid-series
        closes[start : start + 40] = closes[start]
    return completed("600001.XSHG", SESSIONS, closes)


def case_single_bar():
    return completed("688001.XSHG", SESSIONS[-1:], [25.0])


def case_suspension_gap():
    closes, filled = random_walk(400, 3), np.zeros(400, dtype=bool)
    filled[150:210] = filled[300] = filled[-3] = True
    for k in np.flatnonzero(filled):
        closes[k] = closes[k - 1]
    return completed("000001.XSHE", SESSIONS, closes, filled=filled)


def case_ex_dividend():
    back = random_walk(400, 4)  # the economic price path, back-adjusted
    adj = np.where(np.arange(400) >= 330, 1.3, 1.0) * np.where(np.arange(400) >= 380, 1.1, 1.0)
    return completed("300001.XSHE", SESSIONS, np.round(back / adj, 2), adj_factors=adj)


CASES = [case_random_walk, case_flat_runs, case_single_bar, case_suspension_gap, case_ex_dividend]
TARGETS = sorted({*SESSIONS[::9], *SESSIONS[-25:]})


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__.removeprefix("case_"))
def test_each_crafted_series_matches_mytt_building_blocks(case):
    assert_matches_oracle(case(), TARGETS, SESSIONS)


def test_warm_up_nulls_end_exactly_at_each_indicators_bar_count():
    listing = SESSIONS[-70:]  # every bar count from 1 to 70 is a target: 5, 15, 21, 34, 60
    assert_matches_oracle(completed("688002.XSHG", listing, random_walk(70, 10)), listing, SESSIONS)


def test_multi_stock_frame_in_any_order_matches_mytt_per_stock():
    bars = pl.concat([case() for case in CASES]).sample(fraction=1.0, shuffle=True, seed=7)
    assert_matches_oracle(bars, SESSIONS[-30:], SESSIONS)


def test_full_history_converges_to_talib_after_300_bars():
    bars = pl.concat([case_random_walk(), case_flat_runs(), case_ex_dividend()])
    out = compute_technical_indicators(bars, SESSIONS[300:], SESSIONS, window=len(SESSIONS))
    for (stock,), rows in out.group_by("order_book_id"):
        rows = rows.sort("date")
        own = bars.filter(pl.col("order_book_id") == stock).sort("date")
        last_adj = own["adj_factor"][-1]
        c = (own["close"] * own["adj_factor"]).to_numpy() / last_adj
        dif, dea, hist = talib.MACD(c, 12, 26, 9)
        scale = own["adj_factor"].to_numpy()[300:] / last_adj  # forward-adjusted to each D
        got = {c: rows[c].to_numpy() * scale for c in ("sma_5", "sma_60", "macd_dif")}
        np.testing.assert_allclose(got["sma_5"], talib.SMA(c, 5)[300:], rtol=1e-6)
        np.testing.assert_allclose(got["sma_60"], talib.SMA(c, 60)[300:], rtol=1e-6)
        np.testing.assert_allclose(got["macd_dif"], dif[300:], atol=1e-6)
        np.testing.assert_allclose(rows["macd_dea"].to_numpy() * scale, dea[300:], atol=1e-6)
        np.testing.assert_allclose(rows["macd_hist"].to_numpy() * scale, 2 * hist[300:], atol=1e-6)
        np.testing.assert_allclose(rows["rsi_14"].to_numpy(), talib.RSI(c, 14)[300:], atol=1e-6)


def market(n_sessions: int, seed: int = 11) -> tuple[pl.DataFrame, list[dt.date]]:
    """Six stocks: walks, a late listing, long and short suspensions, ex-dividend events."""
    days = calendar(n_sessions)
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(6):
        listed = 0 if k != 4 else n_sessions - 40
        closes = random_walk(n_sessions - listed, seed + k, start=5.0 + 10 * k)
        filled = rng.random(n_sessions - listed) < 0.05
        if k == 2:
            filled[100:180] = True
        adj = np.cumprod(np.where(rng.random(n_sessions - listed) < 0.01, 1.2, 1.0))
        frames.append(
            completed(f"60000{k}.XSHG", days[listed:], closes / adj, adj_factors=adj, filled=filled)
        )
    return pl.concat(frames), days


def test_default_window_matches_full_history_for_stocks_with_250_bars():
    bars, days = market(600)
    targets = days[-30:]
    windowed = compute_technical_indicators(bars, targets, days)
    full = compute_technical_indicators(bars, targets, days, window=len(days))
    keys = ["order_book_id", "date"]
    checked = (
        windowed.filter(pl.col("traded_bars") >= 250, pl.col("sma_5").is_not_null())
        .join(full, on=keys, suffix="_full")
        .join(bars.select(*keys, "close"), on=keys)
    )
    assert checked["order_book_id"].n_unique() >= 4
    price = checked["close"].to_numpy()
    for column in INDICATORS:
        got, want = checked[column].to_numpy(), checked[f"{column}_full"].to_numpy()
        # MACD is a difference of prices: relative to the price level, not to itself (~0).
        atol = 1e-6 * price if column.startswith("macd") else 0.0
        assert np.all(np.abs(got - want) <= 1e-6 * np.abs(want) + atol), column


def test_range_run_equals_day_by_day_runs_bit_identical():
    bars, days = market(330)
    targets = days[-20:]
    anchors = {window_start(days.index(d), WINDOW_DEFAULT, ANCHOR_STEP_DEFAULT) for d in targets}
    assert len(anchors) == 2, "the range must straddle a window anchor"
    ranged = compute_technical_indicators(bars, targets, days)
    needed = window_partitions_needed(WINDOW_DEFAULT, ANCHOR_STEP_DEFAULT)
    daily = []
    for day in targets:
        loaded = days[max(0, days.index(day) - needed + 1) : days.index(day) + 1]
        own = bars.filter(pl.col("date").is_in(loaded))  # what a one-day run loads
        daily.append(compute_technical_indicators(own, [day], days[: days.index(day) + 1]))
    assert_frame_equal(ranged, pl.concat(daily).sort("order_book_id", "date"), check_exact=True)


def test_ex_dividend_inside_window_creates_no_false_jump():
    back = random_walk(300, 5)
    days = calendar(300)
    adj = np.where(np.arange(300) >= 270, 2.0, 1.0)  # 10 送 10: the quoted price halves
    with_event = completed("600100.XSHG", days, back / adj, adj_factors=adj)
    without = completed("600100.XSHG", days, back)
    before, after = days[260], days[-1]
    got = compute_technical_indicators(with_event, [before, after], days)
    want = compute_technical_indicators(without, [before, after], days)
    assert got.row(0) == want.row(0)
    scaled = want.filter(pl.col("date") == after).with_columns(pl.col(PRICE_LEVEL) / 2.0)
    assert_frame_equal(got.filter(pl.col("date") == after), scaled, rtol=1e-12, atol=0.0)
    assert abs(got["return_20d"][-1]) < 0.5


def test_back_adjusted_pass_equals_forward_adjusted_series_to_1e_12():
    bars = case_ex_dividend()
    assert_matches_oracle(bars, SESSIONS[-60:], SESSIONS, rtol=1e-12)


def test_stock_suspended_on_the_day_has_null_indicators_but_counts_its_bars():
    days = calendar(80)
    closes = random_walk(80, 6)
    bars = completed("600200.XSHG", days, closes, filled=[False] * 79 + [True])
    row = compute_technical_indicators(bars, [days[-1]], days).row(0, named=True)
    assert all(row[c] is None for c in INDICATORS)
    assert row["traded_bars"] == 79


def test_stock_listed_ten_traded_bars_ago_has_sma5_but_no_sma60():
    days = calendar(100)
    bars = completed("688100.XSHG", days[-10:], random_walk(10, 7))
    row = compute_technical_indicators(bars, [days[-1]], days).row(0, named=True)
    assert row["sma_5"] is not None and row["sma_10"] is not None
    assert row["sma_20"] is None and row["sma_60"] is None
    assert row["rsi_14"] is None and row["macd_dif"] is None and row["return_20d"] is None
    assert row["traded_bars"] == 10


def test_flat_series_has_null_rsi_not_zero():
    days = calendar(60)
    row = compute_technical_indicators(
        completed("600300.XSHG", days, [8.0] * 60), [days[-1]], days
    ).row(0, named=True)
    assert row["rsi_14"] is None
    assert row["sma_20"] == pytest.approx(8.0) and row["macd_dif"] == pytest.approx(0.0)
    assert row["volatility_20d"] == 0.0


def test_only_stocks_present_on_the_day_get_rows_and_never_traded_counts_zero():
    days = calendar(30)
    delisted = completed("600400.XSHG", days[:20], random_walk(20, 8))
    never_traded = completed("600500.XSHG", days[-5:], [None] * 5, filled=[True] * 5)
    out = compute_technical_indicators(pl.concat([delisted, never_traded]), [days[-1]], days)
    assert out["order_book_id"].to_list() == ["600500.XSHG"]
    assert out["traded_bars"].to_list() == [0]
    assert out.columns == TECHNICAL_INDICATORS.names


def test_target_day_outside_the_calendar_is_refused():
    days = calendar(30)
    bars = completed("600600.XSHG", days, random_walk(30, 9))
    with pytest.raises(ValueError, match="2020-01-04"):
        compute_technical_indicators(bars, [dt.date(2020, 1, 4)], days)


@pytest.mark.parametrize("index", [0, 248, 249, 268, 269, 270, 1000])
def test_window_is_anchored_on_the_grid_and_long_enough(index):
    start = window_start(index, 250, 20)
    assert start % 20 == 0
    assert index - start + 1 <= window_partitions_needed(250, 20) == 269
    assert start == 0 or index - start + 1 >= 250


closes_strategy = st.lists(
    st.floats(1.0, 1000.0, allow_nan=False).map(lambda x: round(x, 2)), min_size=1, max_size=70
)


def last_row(closes: list[float]) -> dict:
    days = calendar(len(closes))
    bars = completed("600700.XSHG", days, closes)
    return compute_technical_indicators(bars, [days[-1]], days).row(0, named=True)


@settings(max_examples=60, deadline=None)
@given(closes_strategy)
def test_sma_lies_within_its_window_of_closes(closes):
    row = last_row(closes)
    for n in (5, 10, 20, 60):
        if len(closes) >= n:
            window = closes[-n:]
            assert min(window) - 1e-9 <= row[f"sma_{n}"] <= max(window) + 1e-9
        else:
            assert row[f"sma_{n}"] is None


@settings(max_examples=60, deadline=None)
@given(closes_strategy, st.floats(0.01, 100.0))
def test_rsi_is_bounded_and_invariant_to_price_scale(closes, factor):
    rsi = last_row(closes)["rsi_14"]
    scaled = last_row([c * factor for c in closes])["rsi_14"]
    assert (rsi is None) == (scaled is None)
    if rsi is None:
        return
    assert 0.0 <= rsi <= 100.0
    assert scaled == pytest.approx(rsi, rel=1e-9, abs=1e-9)
