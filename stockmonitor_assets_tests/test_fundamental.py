"""Fundamental ratios: PE/PB/ROE null on non-positive denominators, EP/BP defined for losses.

Each row of the input is one case, named by its order_book_id.
"""

import datetime as dt
import math

import polars as pl
import pytest

from stockmonitor_assets.schemas import FUNDAMENTAL_INDICATORS, FUNDAMENTALS
from stockmonitor_assets.transforms.fundamental import compute_fundamental_indicators

DAY = dt.date(2024, 3, 1)
CASES = {
    # order_book_id: (total_market_cap, net_profit_ttm, total_equity)
    "profitable": (100.0, 5.0, 50.0),
    "loss": (100.0, -5.0, 50.0),
    "zero_profit": (100.0, 0.0, 50.0),
    "negative_equity": (100.0, 5.0, -20.0),
    "zero_equity": (100.0, 5.0, 0.0),
    "zero_cap": (0.0, 5.0, 50.0),
    "missing_profit": (100.0, None, 50.0),
    "missing_cap": (None, 5.0, 50.0),
    "nan_profit": (100.0, math.nan, 50.0),
}


@pytest.fixture(scope="module")
def indicators() -> dict[str, dict]:
    rows = [
        {
            "order_book_id": name,
            "date": DAY,
            "total_market_cap": cap,
            "net_profit_ttm": profit,
            "total_equity": equity,
        }
        for name, (cap, profit, equity) in CASES.items()
    ]
    inputs = pl.DataFrame(rows, schema=FUNDAMENTALS.polars_schema)
    out = FUNDAMENTAL_INDICATORS.conform(compute_fundamental_indicators(inputs))
    assert out.schema == FUNDAMENTAL_INDICATORS.polars_schema
    return {r["order_book_id"]: r for r in out.iter_rows(named=True)}


def test_profitable_stock_has_every_ratio(indicators):
    assert indicators["profitable"] == {
        "order_book_id": "profitable",
        "date": DAY,
        "pe_ttm": 20.0,
        "pb": 2.0,
        "roe_ttm": 0.1,
        "ep": 0.05,
        "bp": 0.5,
    }


def test_loss_makes_pe_null_but_ep_negative_and_roe_defined(indicators):
    row = indicators["loss"]
    assert row["pe_ttm"] is None
    assert row["ep"] == -0.05
    assert row["roe_ttm"] == -0.1
    assert (row["pb"], row["bp"]) == (2.0, 0.5)


def test_zero_profit_makes_pe_null_and_ep_zero(indicators):
    assert indicators["zero_profit"]["pe_ttm"] is None
    assert indicators["zero_profit"]["ep"] == 0.0


@pytest.mark.parametrize("case", ["negative_equity", "zero_equity"])
def test_non_positive_equity_makes_pb_and_roe_null_but_bp_defined(indicators, case):
    row = indicators[case]
    assert row["pb"] is None and row["roe_ttm"] is None
    assert row["pe_ttm"] == 20.0
    assert row["bp"] == CASES[case][2] / 100.0


@pytest.mark.parametrize("case", ["zero_cap", "missing_cap"])
def test_non_positive_or_missing_cap_makes_ep_and_bp_null(indicators, case):
    assert indicators[case]["ep"] is None and indicators[case]["bp"] is None


@pytest.mark.parametrize("case", ["missing_profit", "nan_profit"])
def test_missing_or_nan_profit_gives_null_not_nan(indicators, case):
    row = indicators[case]
    assert row["pe_ttm"] is None and row["roe_ttm"] is None and row["ep"] is None
    assert row["pb"] == 2.0
