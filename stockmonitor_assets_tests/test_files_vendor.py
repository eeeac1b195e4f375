"""Vendor conventions the files source accepts and normalizes at the boundary, and the
problems it reports (every file at once, naming file, column, stock, date and count)."""

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from stockmonitor_assets.sources.files import (
    FACTORS_FROM_FILE,
    FACTORS_INFERRED,
    FilesSource,
    SourceFileError,
)

D = dt.date
IDS = ["600000.XSHG", "000001.XSHE"]
DAYS = (D(2024, 1, 2), D(2024, 1, 3))
BAOSTOCK_HEADER = (
    "date,code,open,high,low,close,preclose,volume,amount,adjustflag,turn,tradestatus,pctChg,isST"
)
INSTRUMENTS = (
    "order_book_id,board,listed_date\n600000.XSHG,main,1999-11-10\n000001.XSHE,main,1991-04-03\n"
)


def market(tmp_path: Path, bars: dict[str, str], instruments: str = INSTRUMENTS) -> FilesSource:
    (tmp_path / "instruments.csv").write_text(instruments)
    for name, text in bars.items():
        path = tmp_path / "bars" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return FilesSource(tmp_path)


def bars_of(source: FilesSource) -> pl.DataFrame:
    return source.daily_bars(IDS, D(2024, 1, 1), D(2024, 1, 31))


def baostock(*rows: str) -> str:
    return "\n".join([BAOSTOCK_HEADER, *rows]) + "\n"


def test_baostock_export_is_read_with_its_column_names_codes_and_flags(tmp_path):
    source = market(
        tmp_path,
        {
            "2024.csv": baostock(
                "2024-01-02,sh.600000,7.0500,7.1200,7.0100,7.1000,7.0400,2000,14200.5,3,0.1,1,0.85,0",
                "2024-01-03,sh.600000,7.1000,7.1000,7.1000,7.1000,7.1000,,,3,,0,0,0",
                "2024-01-02,sz.000001,9.2100,9.3000,9.1500,9.2500,9.2000,300,2775,3,0.2,1,0.5,1",
                "2024-01-03,sz.000001,9.2500,9.4000,9.2000,9.3800,9.2500,400,3752,3,0.2,1,1.4,1",
            )
        },
    )
    bars = bars_of(source)
    suspended = bars.filter(pl.col("date") == DAYS[1], pl.col("order_book_id") == IDS[0]).row(
        0, named=True
    )
    assert (suspended["volume"], suspended["total_turnover"]) == (0.0, 0.0)
    assert bars.filter(pl.col("order_book_id") == IDS[0])["open"].to_list() == [7.05, 7.1]
    day2 = source.instruments(DAYS[1]).select("order_book_id", "is_st", "is_suspended").rows()
    assert day2 == [("000001.XSHE", True, False), ("600000.XSHG", False, True)]
    assert source.latest_published_day() == DAYS[1]


def test_empty_volume_on_a_day_the_instruments_mark_suspended_becomes_zero(tmp_path):
    snapshots = (
        "order_book_id,board,listed_date,date,is_suspended\n"
        "600000.XSHG,main,1999-11-10,2024-01-02,false\n"
        "600000.XSHG,main,1999-11-10,2024-01-03,true\n"
    )
    source = market(
        tmp_path,
        {
            "b.csv": "order_book_id,date,open,high,low,close,volume,total_turnover\n"
            "600000.XSHG,2024-01-02,7.05,7.12,7.01,7.1,2000,14000\n"
            "600000.XSHG,2024-01-03,7.1,7.1,7.1,7.1,NaN,\n"
        },
        snapshots,
    )
    assert bars_of(source)["volume"].to_list() == [2000.0, 0.0]
    assert bars_of(source)["total_turnover"].to_list() == [14000.0, 0.0]


def test_empty_volume_on_a_traded_day_names_file_column_stocks_dates_and_count(tmp_path):
    rows = [f"2024-01-{d:02d},sz.{k:06d},9.2,9.3,9.1,9.2,9.2,,0,3,0,1,0,0" for d in (2, 3)
            for k in range(1, 13)]  # fmt: skip
    source = market(tmp_path, {"2021.csv": baostock(*rows)})
    with pytest.raises(SourceFileError) as error:
        bars_of(source)
    message = str(error.value)
    assert "2021.csv: column 'volume' has 24 empty value(s) on days not marked suspended" in message
    assert "000001.XSHE 2024-01-02" in message and "000012.XSHE 2024-01-02" in message
    assert "(+4 more)" in message  # 20 stock-days named, the count says the rest


def test_problems_of_every_file_are_reported_together(tmp_path):
    header = "order_book_id,date,open,high,low,close,volume\n"
    source = market(
        tmp_path,
        {
            "a.csv": header + "600000.XSHG,2024-01-02,x,1,1,1,1\n",
            "b.csv": header + "600000.XSHG,2024-01-03,1,1,-1,1,1\n",
            "c.csv": header + "600000.XSHG,2024-01-04,1,1,1,1,\n",
        },
        INSTRUMENTS + "000002.XSHE,nasdaq,1991-01-29\n",
    )
    with pytest.raises(SourceFileError) as error:
        source.trading_days(D(2024, 1, 1), D(2024, 1, 31))
    message = str(error.value)
    assert "4 problem(s) in 4 file(s)" in message
    assert "a.csv: column 'open' has 1 value(s) that are not Float64, e.g. 'x' at 600000.XSHG" in (
        message
    )
    assert (
        "b.csv: column 'low' has 1 out-of-range value(s), e.g. -1.0 at 600000.XSHG 2024-01-03"
        in (message)
    )
    assert "c.csv: column 'volume' has 1 empty value(s) on days not marked suspended at " in message
    assert "instruments.csv: column 'board' has 1 value(s)" in message
    assert len(source.problems()) == 4


def test_volume_in_lots_is_converted_to_shares_and_an_unknown_unit_is_refused(tmp_path):
    header = "order_book_id,date,open,high,low,close,volume,volume_unit\n"
    source = market(
        tmp_path,
        {"b.csv": header + "600000.XSHG,2024-01-02,7,7,7,7,25,lots\n"
         "600000.XSHG,2024-01-03,7,7,7,7,2500,shares\n"},
    )  # fmt: skip
    assert bars_of(source)["volume"].to_list() == [2500.0, 2500.0]
    (tmp_path / "bad").mkdir()
    bad = market(tmp_path / "bad", {"b.csv": header + "600000.XSHG,2024-01-02,7,7,7,7,25,boxes\n"})
    with pytest.raises(SourceFileError, match=r"column 'volume_unit' has 1 unknown unit"):
        bars_of(bad)


def test_adjusted_vendor_prices_are_refused(tmp_path):
    source = market(tmp_path, {"b.csv": baostock("2024-01-02,sh.600000,7,7,7,7,7,1,7,2,0,1,0,0")})
    with pytest.raises(SourceFileError, match=r"column 'adjust_flag' has 1 adjusted price row"):
        bars_of(source)


def test_missing_limits_are_derived_from_prev_close_and_given_ones_are_kept(tmp_path):
    source = market(
        tmp_path,
        {
            "derived.csv": baostock(
                "2024-01-02,sh.600000,10.1,10.2,10.0,10.1,10.05,100,1010,3,0,1,0,0",
                "2024-01-02,sz.000001,9.6,9.7,9.5,9.6,9.50,100,960,3,0,1,0,1",
            ),
            "given.csv": "order_book_id,date,open,high,low,close,volume,prev_close,limit_up,"
            "limit_down\n600000.XSHG,2024-01-03,10,10,10,10,1,10.1,,\n",
        },
    )
    limits = bars_of(source).select("order_book_id", "date", "limit_up", "limit_down").rows()
    assert limits == [
        ("000001.XSHE", DAYS[0], 9.98, 9.03),  # ST (isST=1): ±5 %, 9.975 / 9.025 half up
        ("600000.XSHG", DAYS[0], 11.06, 9.05),  # 11.055 / 9.045 half up
        ("600000.XSHG", DAYS[1], None, None),  # the file gave limits: null means unlimited
    ]


def test_new_listing_trades_unlimited_then_in_its_band_counting_sessions(tmp_path):
    instruments = INSTRUMENTS + "301000.XSHE,chinext,2024-01-02\n603000.XSHG,main,2023-03-01\n"
    header = "order_book_id,date,open,high,low,close,volume,prev_close\n"
    days = ("02", "03", "04", "05", "08", "09")  # six sessions: unlimited for five
    rows = [f"301000.XSHE,2024-01-{d},10,10,10,10,1,10\n" for d in days]
    rows.append("603000.XSHG,2024-01-09,10,10,10,10,1,10\n")  # listed 2023: ±10 %
    source = market(tmp_path, {"b.csv": header + "".join(rows)}, instruments)
    new = source.daily_bars(["301000.XSHE"], D(2024, 1, 1), D(2024, 1, 31))
    assert new["limit_up"].to_list() == [None] * 5 + [12.0]
    old = source.daily_bars(["603000.XSHG"], D(2024, 1, 1), D(2024, 1, 31))
    assert old.select("limit_up", "limit_down").row(0) == (11.0, 9.0)


def test_ex_factors_are_inferred_from_prev_close_when_no_table_is_given(tmp_path):
    header = "order_book_id,date,open,high,low,close,volume,prev_close\n"
    text = header + (
        "600000.XSHG,2024-01-02,10.0,10.0,10.0,10.00,1,10.00\n"
        "600000.XSHG,2024-01-03,9.5,9.5,9.5,9.50,1,9.50\n"  # 0.5 dividend: 10.00 -> ref 9.50
        "600000.XSHG,2024-01-04,9.6,9.6,9.6,9.6000,1,9.50\n"
        "600000.XSHG,2024-01-05,8.0,8.0,8.0,8.00,1,8.00\n"  # 1.2x bonus shares: 9.60 -> 8.00
    )
    source = market(tmp_path, {"b.csv": text})
    factors = source.ex_factors(["600000.XSHG"], D(2024, 1, 1), D(2024, 1, 31))
    assert factors["ex_date"].to_list() == [D(2024, 1, 3), D(2024, 1, 5)]
    assert factors["ex_cum_factor"].to_list() == pytest.approx([10 / 9.5, 10 / 9.5 * 1.2])
    assert source.factor_origin == FACTORS_INFERRED
    (tmp_path / "ex_factors.csv").write_text("order_book_id,ex_date,ex_cum_factor\n")
    assert FilesSource(tmp_path).factor_origin == FACTORS_FROM_FILE


def test_bar_dates_outside_the_calendar_are_problems_of_their_file(tmp_path):
    header = "order_book_id,date,open,high,low,close,volume\n"
    source = market(tmp_path, {"b.csv": header + "600000.XSHG,2024-01-06,7,7,7,7,1\n"})
    (problem,) = source.problems(sessions=[D(2024, 1, 5), D(2024, 1, 8)])
    assert str(problem).endswith(
        "column 'date' has 1 date(s) not in sessions at 600000.XSHG 2024-01-06"
    )
