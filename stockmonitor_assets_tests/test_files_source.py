"""The files source: documented layout, validation naming file and column, export round trip."""

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from stockmonitor_assets import settings, settings_resource
from stockmonitor_assets.schemas import SOURCE_BARS
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.sources.base import DataNotAvailableError
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets.sources.files import FilesSource, SourceFileError, export_to_files
from stockmonitor_assets.sources.files_layout import FileLimits
from stockmonitor_assets_tests.conftest import DEMO_CACHE
from stockmonitor_assets_tests.test_ricequant_source import IDS, make_source

D = dt.date


def same_data(source, copy, ids, start, end) -> None:
    """Every interface method answers identically for [start, end]."""
    days = source.trading_days(start, end)
    assert copy.trading_days(start, end) == days
    assert copy.daily_bars(ids, start, end).equals(source.daily_bars(ids, start, end))
    assert copy.ex_factors(ids, start, end).equals(source.ex_factors(ids, start, end))
    for day in days:
        universe = source.instruments(day).filter(pl.col("order_book_id").is_in(ids))
        assert copy.instruments(day).equals(universe)
        listed = universe["order_book_id"].to_list()
        assert copy.fundamentals_pit(listed, day).equals(source.fundamentals_pit(listed, day))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_rqdatac_days_exported_and_read_back_are_identical(tmp_path, fmt):
    source, start, end = make_source(), D(2024, 1, 12), D(2024, 1, 23)
    export_to_files(source, IDS, start, end, tmp_path, fmt=fmt)
    same_data(source, FilesSource(tmp_path), IDS, start, end)


def test_demo_days_exported_and_read_back_are_identical(tmp_path):
    demo = DemoMarket(
        cache_dir=DEMO_CACHE, seed=3, universe_size=40, clock=lambda: dt.datetime(2024, 6, 1)
    )
    start, end = D(2024, 4, 22), D(2024, 5, 10)
    ids = demo.instruments(start)["order_book_id"].to_list()
    export_to_files(demo, ids, start, end, tmp_path)
    same_data(demo, FilesSource(tmp_path), ids, start, end)


def write(directory: Path, name: str, rows: list[dict] | str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(rows, str):
        path.write_text(rows)
    else:
        pl.DataFrame(rows).write_parquet(path)
    return path


BAR = {"order_book_id": "600000.XSHG", "date": D(2024, 1, 2), "open": 10.0, "high": 10.5,
       "low": 9.9, "close": 10.2, "volume": 1e6}  # fmt: skip
LISTING = {"order_book_id": "600000.XSHG", "board": "main", "listed_date": D(1999, 11, 10)}


def minimal_market(directory: Path) -> Path:
    write(directory, "instruments.parquet", [LISTING])
    write(directory, "bars/2024-01.parquet", [BAR, {**BAR, "date": D(2024, 1, 3)}])
    return directory


def test_minimal_layout_derives_trading_days_from_bars_and_defaults_optional_columns(tmp_path):
    source = FilesSource(minimal_market(tmp_path))
    assert source.trading_days(D(2024, 1, 1), D(2024, 1, 31)) == [D(2024, 1, 2), D(2024, 1, 3)]
    (row,) = source.instruments(D(2024, 1, 2)).iter_rows(named=True)
    assert (row["is_st"], row["is_suspended"], row["de_listed_date"]) == (False, None, None)
    bars = source.daily_bars(["600000.XSHG"], D(2024, 1, 1), D(2024, 1, 31))
    assert bars.columns == SOURCE_BARS.names and bars["prev_close"].null_count() == 2
    assert source.ex_factors(["600000.XSHG"], D(2024, 1, 1), D(2024, 1, 31)).is_empty()
    with pytest.raises(DataNotAvailableError, match="2024-01-04"):
        source.instruments(D(2024, 1, 4))


def test_bars_split_across_csv_and_parquet_files_are_read_as_one(tmp_path):
    minimal_market(tmp_path)
    write(tmp_path, "bars/extra/2024-01-04.csv", "order_book_id,date,open,high,low,close,volume\n"
          "600000.XSHG,2024-01-04,10,11,9,10.5,2000\n")  # fmt: skip
    source = FilesSource(tmp_path)
    assert len(source.daily_bars(["600000.XSHG"], D(2024, 1, 1), D(2024, 1, 31))) == 3


def test_fundamentals_are_read_point_in_time(tmp_path):
    minimal_market(tmp_path)
    report = {"order_book_id": "600000.XSHG", "report_period": D(2023, 9, 30),
              "announce_date": D(2023, 10, 28), "net_profit_ttm": 1.0}  # fmt: skip
    later = {**report, "report_period": D(2023, 12, 31), "announce_date": D(2024, 1, 3)}
    write(tmp_path, "fundamentals.parquet", [report, later])
    source = FilesSource(tmp_path)
    assert source.fundamentals_pit(["600000.XSHG"], D(2024, 1, 2))["report_period"][0] == D(
        2023, 9, 30
    )
    assert source.fundamentals_pit(["600000.XSHG"], D(2024, 1, 3))["report_period"][0] == D(
        2023, 12, 31
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "bars/b.csv",
            "order_book_id,date,open,high,low,close\n",
            r"b\.csv: missing column.*volume",
        ),
        (
            "bars/b.csv",
            "order_book_id,date,open,high,low,close,volume\n600000.XSHG,2024-01-05,x,1,1,1,1\n",
            r"b\.csv: column 'open' has 1 value\(s\) that are not Float64, e.g. 'x'",
        ),
        (
            "bars/b.csv",
            "order_book_id,date,open,high,low,close,volume\n600000.XSHG,2024-01-05,1,1,-1,1,1\n",
            r"b\.csv: column 'low' has 1 out-of-range value\(s\), e.g. -1.0",
        ),
        (
            "bars/b.csv",
            "order_book_id,date,open,high,low,close,volume\n600000.XSHG,2024-01-02,1,1,1,1,1\n",
            r"share a key \['order_book_id', 'date'\].*2024-01\.parquet.*b\.csv",
        ),
        (
            "bars/b.csv",
            "order_book_id,date,open,high,low,close,volume\n600000.XSHG,2024/01/05,1,1,1,1,1\n",
            r"b\.csv: column 'date' .* not Date",
        ),
        (
            "ex_factors.csv",
            "order_book_id,ex_date,ex_cum_factor\n600000.XSHG,2024-01-02,0\n",
            r"ex_factors\.csv: column 'ex_cum_factor' has 1 out-of-range",
        ),
        (
            "instruments.csv",
            "order_book_id,board,listed_date\n600000.XSHG,main,1999-11-10\n",
            r"both .*instruments\.parquet and .*instruments\.csv exist",
        ),
    ],
)
def test_bad_files_are_rejected_naming_file_and_column(tmp_path, name, content, message):
    minimal_market(tmp_path)
    write(tmp_path, name, content)
    source = FilesSource(tmp_path)
    with pytest.raises(SourceFileError, match=message):
        source.daily_bars(["600000.XSHG"], D(2024, 1, 1), D(2024, 1, 31))
        source.ex_factors(["600000.XSHG"], D(2024, 1, 1), D(2024, 1, 31))
        source.instruments(D(2024, 1, 2))


def test_unknown_board_in_instruments_is_rejected(tmp_path):
    minimal_market(tmp_path)
    write(tmp_path, "instruments.parquet", [{**LISTING, "board": "nasdaq"}])
    with pytest.raises(SourceFileError, match=r"instruments\.parquet: column 'board'"):
        FilesSource(tmp_path).instruments(D(2024, 1, 2))


def test_missing_directory_or_instruments_file_is_named(tmp_path):
    with pytest.raises(SourceFileError, match="does not exist"):
        FilesSource(tmp_path / "nowhere")
    write(tmp_path, "bars/b.parquet", [BAR])
    with pytest.raises(SourceFileError, match=r"instruments\.parquet \(or \.csv\) is missing"):
        FilesSource(tmp_path).instruments(D(2024, 1, 2))


@pytest.mark.parametrize(
    "hidden", ["bars/._2024-01.csv", "bars/.~lock.2024-01.csv#.csv", "bars/.backup/old.csv"]
)
def test_hidden_and_dot_files_beside_the_bars_are_ignored(tmp_path, hidden):
    """macOS writes `._name` resource forks beside copied files; editors and tools leave
    dot-files and dot-folders. None of them is data."""
    minimal_market(tmp_path)
    write(tmp_path, hidden, "\x00\x05\x16\x07Mac OS X resource fork")
    source = FilesSource(tmp_path)
    assert len(source.daily_bars(["600000.XSHG"], D(2024, 1, 1), D(2024, 1, 31))) == 2
    assert source.problems() == []


def limited(directory: Path, **variables: str) -> FilesSource:
    """The files source with the limits the environment `variables` give."""
    config = Settings.from_env(variables)
    return FilesSource(directory, FileLimits(config.files_max_rows, config.files_max_mb))


def test_a_file_over_the_row_limit_is_refused_by_name_before_it_is_read(tmp_path):
    minimal_market(tmp_path)
    days = pl.date_range(D(2024, 2, 1), D(2024, 2, 1) + dt.timedelta(1000), eager=True)
    big = pl.DataFrame([BAR] * len(days)).with_columns(date=days)
    big.write_parquet(tmp_path / "bars" / "2024-02.parquet")
    with pytest.raises(SourceFileError) as refused:
        limited(tmp_path, STOCKMONITOR_FILES_MAX_ROWS="1000").daily_bars(
            ["600000.XSHG"], D(2024, 1, 1), D(2024, 1, 31)
        )
    message = str(refused.value)
    assert "bars/2024-02.parquet: 1,001 rows" in message
    assert "STOCKMONITOR_FILES_MAX_ROWS=1,000" in message
    assert "bars/2024-01.parquet" not in message  # the file within the limit is fine
    source = limited(tmp_path, STOCKMONITOR_FILES_MAX_ROWS="1001")
    assert len(source.daily_bars(["600000.XSHG"], D(2024, 1, 1), D(2026, 12, 31))) == 1003


def test_a_csv_file_over_the_size_limit_is_refused_by_name(tmp_path):
    minimal_market(tmp_path)
    write(tmp_path, "fundamentals.csv", "order_book_id,report_period,announce_date\n" * 30_000)
    refusal = r"fundamentals\.csv: 1\.3 MB is over STOCKMONITOR_FILES_MAX_MB=1 MB"
    with pytest.raises(SourceFileError, match=refusal):
        limited(tmp_path, STOCKMONITOR_FILES_MAX_MB="1").instruments(D(2024, 1, 2))


def test_file_limits_have_documented_defaults_and_reject_nonsense(tmp_path):
    docs = (Path(__file__).resolve().parents[1] / "docs" / "files-source.md").read_text()
    assert f"`{settings.FILES_MAX_ROWS}` | {settings_resource.default('files_max_rows'):,}" in docs
    assert f"`{settings.FILES_MAX_MB}` | {settings_resource.default('files_max_mb'):,}" in docs
    minimal_market(tmp_path)
    with pytest.raises(ValueError, match="STOCKMONITOR_FILES_MAX_ROWS='lots' is not an integer"):
        limited(tmp_path, STOCKMONITOR_FILES_MAX_ROWS="lots")
