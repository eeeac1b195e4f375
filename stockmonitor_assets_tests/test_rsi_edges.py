"""RSI at its edges is exact: 100 when nothing fell, 0 when nothing rose, null when flat,
never outside [0, 100] (the 通达信 formula computed in floating point must not leak
100.00000000000001 into a blocking range check)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stockmonitor_assets.transforms import indicator_kernel

TICK = 0.01


def rsi(closes) -> np.ndarray:
    closes = np.asarray(closes, dtype=np.float64)
    return indicator_kernel.indicators(closes, np.array([0, len(closes)]))["rsi_14"]


def one_series(values: list[float]) -> list[float]:
    return [round(v, 2) for v in values]


steps = st.lists(st.integers(0, 2000), min_size=15, max_size=300)
starts = st.floats(1.0, 500.0, allow_nan=False).map(lambda x: round(x, 2))


def walk(start: float, ticks: list[int], sign: int) -> list[float]:
    return one_series(list(start + sign * TICK * np.cumsum([0, *ticks])))


def test_twenty_five_one_price_limit_ups_after_a_listing_give_exactly_100():
    closes, price = [10.0], 10.0
    for _ in range(25):
        price = float(np.floor(price * 110 + 0.5) / 100)  # +10 %, rounded to the tick
        closes.append(price)
    values = rsi(closes)[14:]
    assert (values == 100.0).all()


@settings(max_examples=80, deadline=None)
@given(starts, steps)
def test_series_that_never_falls_has_rsi_exactly_100_or_null(start, ticks):
    values = rsi(walk(start, ticks, +1))[14:]
    moved = np.cumsum([0, *ticks])[14:] > 0
    assert (values[moved] == 100.0).all()
    assert np.isnan(values[~moved]).all()


@settings(max_examples=80, deadline=None)
@given(starts.map(lambda x: x + 30.0), steps.map(lambda t: [min(x, 10) for x in t]))
def test_series_that_never_rises_has_rsi_exactly_0_or_null(start, ticks):
    values = rsi(walk(start, ticks, -1))[14:]
    moved = np.cumsum([0, *ticks])[14:] > 0
    assert (values[moved] == 0.0).all()
    assert np.isnan(values[~moved]).all()


@settings(max_examples=60, deadline=None)
@given(starts, st.integers(1, 300))
def test_flat_series_has_null_rsi(price, length):
    assert np.isnan(rsi([price] * length)).all()


@settings(max_examples=80, deadline=None)
@given(starts, st.integers(1, 299), st.sampled_from([-1, 1]), st.integers(15, 300))
def test_one_tick_in_a_flat_series_gives_100_or_0_from_then_on(start, at, sign, length):
    at = min(at, length - 1)
    closes = [start] * at + [round(start + sign * TICK, 2)] * (length - at)
    values = rsi(closes)
    after = values[max(at, 14) :]
    assert (after == (100.0 if sign > 0 else 0.0)).all()
    assert np.isnan(values[14:at]).all()


@settings(max_examples=120, deadline=None)
@given(st.lists(st.floats(0.01, 10_000.0, allow_nan=False), min_size=15, max_size=200))
def test_rsi_never_leaves_0_to_100(closes):
    values = rsi(one_series(closes) if min(closes) >= 0.01 else closes)
    defined = values[~np.isnan(values)]
    assert ((defined >= 0.0) & (defined <= 100.0)).all()
