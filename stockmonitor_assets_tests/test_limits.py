"""Price limits derived from prev_close by the exchange rules in force on each day."""

import datetime as dt

import polars as pl
import pytest

from stockmonitor_assets.transforms.limits import derive_price_limits

D = dt.date


def limits(board, day, prev_close, listed=None, session=100, is_st=False):
    listed = listed or D(2010, 1, 4)
    frame = pl.DataFrame(
        {
            "date": [day],
            "board": [board],
            "is_st": [is_st],
            "listed_date": [listed],
            "listing_session": [session],
            "prev_close": [prev_close],
        }
    )
    return derive_price_limits(frame).select("limit_up", "limit_down").row(0)


@pytest.mark.parametrize(
    ("board", "day", "is_st", "expected"),
    [
        ("main", D(2024, 3, 1), False, (11.0, 9.0)),
        ("main", D(2024, 3, 1), True, (10.5, 9.5)),
        ("chinext", D(2020, 8, 21), False, (11.0, 9.0)),
        ("chinext", D(2020, 8, 21), True, (10.5, 9.5)),
        ("chinext", D(2020, 8, 24), False, (12.0, 8.0)),
        ("chinext", D(2020, 8, 24), True, (12.0, 8.0)),
        ("star", D(2021, 3, 1), False, (12.0, 8.0)),
        ("star", D(2021, 3, 1), True, (12.0, 8.0)),
        ("bse", D(2022, 3, 1), False, (13.0, 7.0)),
    ],
)
def test_regular_band_follows_board_st_and_the_chinext_reform_date(board, day, is_st, expected):
    assert limits(board, day, 10.0, is_st=is_st) == expected


@pytest.mark.parametrize(
    ("prev_close", "expected_up", "expected_down"),
    [
        (10.05, 11.06, 9.05),  # 11.055 and 9.045 round half up (floats say 11.0549999...)
        (3.33, 3.66, 3.0),  # 3.663 / 2.997
        (16.15, 17.77, 14.54),  # 17.765 / 14.535
        (10.0123, 11.01, 9.01),  # 4-decimal vendor prices still land on the 0.01 tick
    ],
)
def test_limit_prices_round_half_up_to_the_tick(prev_close, expected_up, expected_down):
    assert limits("main", D(2024, 3, 1), prev_close) == (expected_up, expected_down)


@pytest.mark.parametrize(
    ("board", "listed", "session", "expected"),
    [
        ("star", D(2019, 7, 22), 1, (None, None)),
        ("star", D(2019, 7, 22), 5, (None, None)),
        ("star", D(2019, 7, 22), 6, (12.0, 8.0)),
        ("chinext", D(2020, 8, 24), 5, (None, None)),
        ("chinext", D(2020, 8, 24), 6, (12.0, 8.0)),
        ("main", D(2023, 4, 10), 5, (None, None)),
        ("main", D(2023, 4, 10), 6, (11.0, 9.0)),
        ("bse", D(2021, 11, 15), 1, (None, None)),
        ("bse", D(2021, 11, 15), 2, (13.0, 7.0)),
    ],
)
def test_registration_listings_trade_unlimited_for_five_sessions(board, listed, session, expected):
    day = listed + dt.timedelta(days=session * 7 // 5)
    assert limits(board, day, 10.0, listed=listed, session=session) == expected


@pytest.mark.parametrize(
    ("board", "listed"),
    [("main", D(2023, 4, 7)), ("main", D(2019, 5, 6)), ("chinext", D(2020, 8, 21))],
)
def test_older_listings_have_a_first_day_band_of_plus_44_minus_36_of_the_issue_price(board, listed):
    assert limits(board, listed, 10.0, listed=listed, session=1) == (14.4, 6.4)
    second = limits(board, listed + dt.timedelta(days=1), 14.4, listed=listed, session=2)
    assert second == (15.84, 12.96)


def test_no_prev_close_means_no_derived_limit():
    assert limits("main", D(2024, 3, 1), None) == (None, None)
