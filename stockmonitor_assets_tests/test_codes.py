"""Stock codes are normalized once at the boundary; anything else is refused by name."""

import pytest

from stockmonitor_assets.transforms.codes import (
    InvalidStockCodeError,
    normalize_order_book_id,
    normalize_order_book_ids,
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("600000.XSHG", "600000.XSHG"),
        ("600000.SH", "600000.XSHG"),
        ("sh600000", "600000.XSHG"),
        ("000001.SZ", "000001.XSHE"),
        ("300750.sz", "300750.XSHE"),
        ("688981.SH", "688981.XSHG"),
        ("430047.BJ", "430047.BJSE"),
        (" 830799.BJSE ", "830799.BJSE"),
    ],
)
def test_known_forms_normalize_to_rqdatac_codes(code, expected):
    assert normalize_order_book_id(code) == expected


@pytest.mark.parametrize("code", ["XYZ", "000001", "60000.SH", "600000.NY", "SH600000.SH", ""])
def test_bad_codes_are_rejected_by_name(code):
    with pytest.raises(InvalidStockCodeError, match=f"bad stock code {code!r}"):
        normalize_order_book_id(code)


def test_every_bad_code_is_reported_at_once():
    with pytest.raises(InvalidStockCodeError, match=r"\['XYZ', '12'\]"):
        normalize_order_book_ids(["600000.SH", "XYZ", "12"])


def test_duplicates_collapse_keeping_order():
    assert normalize_order_book_ids(["000001.SZ", "600000.SH", "000001.XSHE"]) == [
        "000001.XSHE",
        "600000.XSHG",
    ]
