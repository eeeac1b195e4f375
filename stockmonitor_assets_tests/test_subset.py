"""Subset syncs (`target_stocks`): the targets' rows of a day are replaced, every other
stock's rows are kept identical, and a day that was never fully synced is refused."""

import datetime as dt

import polars as pl
import pytest

from stockmonitor_assets.schemas import INSTRUMENTS, RAW_OHLCV
from stockmonitor_assets.transforms.subset import (
    SubsetChanges,
    SubsetMergeError,
    merge_subset,
    subset_changes,
)

DAY = dt.date(2024, 10, 8)


def bars(closes: dict[str, float], day: dt.date = DAY) -> pl.DataFrame:
    rows = [
        {"order_book_id": code, "date": day, "close": close, "volume": 100.0, "adj_factor": 1.0}
        for code, close in closes.items()
    ]
    return RAW_OHLCV.conform(pl.DataFrame(rows, schema=RAW_OHLCV.polars_schema))


STORED = bars({"000001.XSHE": 10.0, "000002.XSHE": 20.0, "600000.XSHG": 7.0, "688001.XSHG": 50})


def test_targets_rows_are_replaced_and_every_other_row_is_kept_identical():
    fresh = bars({"000002.XSHE": 21.5})
    merged = merge_subset(STORED, fresh, ["000002.XSHE"], RAW_OHLCV)
    others = pl.col("order_book_id") != "000002.XSHE"
    assert merged.filter(others).equals(STORED.filter(others))
    assert merged.filter(~others)["close"].to_list() == [21.5]
    assert merged.equals(RAW_OHLCV.conform(merged))  # sorted by key, contract dtypes


def test_result_is_sorted_by_the_table_key_whatever_the_order_of_fresh_rows():
    fresh = bars({"688001.XSHG": 51.0, "000001.XSHE": 9.9}).reverse()
    merged = merge_subset(STORED, fresh, ["688001.XSHG", "000001.XSHE"], RAW_OHLCV)
    assert merged["order_book_id"].to_list() == sorted(STORED["order_book_id"].to_list())
    assert merged["close"].to_list() == [9.9, 20.0, 7.0, 51.0]


def test_a_target_with_no_fresh_row_has_no_row_afterwards():
    # The source no longer has a bar (or a listing) for it on this day: fresh is authoritative.
    merged = merge_subset(STORED, bars({}), ["600000.XSHG"], RAW_OHLCV)
    assert "600000.XSHG" not in merged["order_book_id"].to_list()
    assert len(merged) == len(STORED) - 1


def test_a_delisted_target_absent_from_both_leaves_the_day_unchanged():
    merged = merge_subset(STORED, bars({}), ["000003.XSHE"], RAW_OHLCV)
    assert merged.equals(STORED)


def test_a_target_new_to_the_day_is_added():
    merged = merge_subset(STORED, bars({"300750.XSHE": 200.0}), ["300750.XSHE"], RAW_OHLCV)
    assert len(merged) == len(STORED) + 1
    assert merged.filter(pl.col("order_book_id") == "300750.XSHE")["close"].item() == 200.0


def test_a_day_never_synced_for_the_whole_universe_is_refused():
    with pytest.raises(SubsetMergeError, match=r"raw_ohlcv\[2024-10-08\] was never synced"):
        merge_subset(None, bars({"000001.XSHE": 1.0}), ["000001.XSHE"], RAW_OHLCV, "2024-10-08")


def test_fresh_rows_of_non_targets_are_refused():
    with pytest.raises(SubsetMergeError, match=r"outside target_stocks \['000002.XSHE'\]"):
        merge_subset(STORED, bars({"000002.XSHE": 1.0}), ["000001.XSHE"], RAW_OHLCV)


def test_frames_of_different_days_are_refused():
    fresh = bars({"000001.XSHE": 1.0}, day=dt.date(2024, 10, 9))
    with pytest.raises(SubsetMergeError, match="several days"):
        merge_subset(STORED, fresh, ["000001.XSHE"], RAW_OHLCV)


def test_no_targets_is_not_a_subset_sync():
    with pytest.raises(SubsetMergeError, match="no target stocks"):
        merge_subset(STORED, bars({}), [], RAW_OHLCV)


def test_fresh_rows_must_meet_the_contract():
    fresh = bars({"000001.XSHE": 1.0}).drop("adj_factor")
    with pytest.raises(ValueError, match="missing column"):
        merge_subset(STORED, fresh, ["000001.XSHE"], RAW_OHLCV)


def test_works_for_any_table_with_the_stock_key():
    stored = INSTRUMENTS.conform(
        pl.DataFrame(
            {
                "order_book_id": ["000001.XSHE", "600000.XSHG"],
                "date": [DAY, DAY],
                "symbol": ["平安银行", "浦发银行"],
                "board": ["main", "main"],
                "listed_date": [dt.date(1991, 4, 3), dt.date(1999, 11, 10)],
                "is_st": [False, False],
            }
        ).with_columns(de_listed_date=pl.lit(None, pl.Date), is_suspended=pl.lit(None, pl.Boolean))
    )
    fresh = stored.filter(pl.col("order_book_id") == "600000.XSHG").with_columns(is_st=True)
    merged = merge_subset(stored, fresh, ["600000.XSHG"], INSTRUMENTS)
    assert merged["is_st"].to_list() == [False, True]


def test_changes_count_replaced_added_and_removed_targets():
    fresh = bars({"000001.XSHE": 1.0, "300750.XSHE": 2.0})
    targets = ["000001.XSHE", "300750.XSHE", "600000.XSHG"]
    assert subset_changes(STORED, fresh, targets) == SubsetChanges(replaced=1, added=1, removed=1)
