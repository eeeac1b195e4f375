"""`stockmonitor validate` reads the files source before any run: every problem of every
file (schema, keys, values, dates against the calendar), through the CLI entry point."""

import pytest

from stockmonitor_assets_tests.test_cli import env as cli_env
from stockmonitor_assets_tests.test_cli import stockmonitor

env = cli_env  # the CLI tests' environment fixture, reused

INSTRUMENTS = "order_book_id,board,listed_date\nsh.600000,main,1999-11-10\n"
HEADER = "order_book_id,date,open,high,low,close,volume\n"


@pytest.fixture
def files_env(env, monkeypatch):  # noqa: F811 - the fixture imported above
    directory = env / "export"
    (directory / "bars").mkdir(parents=True)
    (directory / "instruments.csv").write_text(INSTRUMENTS)
    monkeypatch.setenv("STOCKMONITOR_SOURCE", "files")
    monkeypatch.setenv("STOCKMONITOR_FILES_DIR", str(directory))
    return directory


def test_validate_passes_a_good_files_directory(files_env):
    (files_env / "bars" / "2024.csv").write_text(HEADER + "600000.XSHG,2024-01-02,7,7,7,7,100\n")
    result = stockmonitor("validate")
    assert result.exit_code == 0, result.output
    assert "ok: configuration is valid" in result.output


def test_validate_reports_every_problem_of_a_broken_files_directory(files_env):
    (files_env / "bars" / "2021.csv").write_text(
        HEADER
        + "600000.XSHG,2021-03-04,7,7,7,7,\n"  # empty volume on a traded day
        + "600000.XSHG,2021-03-06,7,7,7,7,100\n"  # a Saturday
        + "600000.XSHG,2021-03-08,7,7,-7,7,100\n"
    )
    (files_env / "bars" / "2022.csv").write_text(
        HEADER + "600000.XSHG,2021-03-08,7,7,7,7,100\n" + "600000.XS,2022-01-04,7,7,7,7,1\n"
    )
    result = stockmonitor("validate")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("problem: files")]
    assert len(lines) == 5, result.output
    expected = [
        "2021.csv: column 'volume' has 1 empty value(s) on days not marked suspended "
        "at 600000.XSHG 2021-03-04",
        "2021.csv: column 'low' has 1 out-of-range value(s), e.g. -7.0 at 600000.XSHG 2021-03-08",
        "2021.csv: column 'date' has 1 date(s) not in sessions at 600000.XSHG 2021-03-06",
        "2022.csv: column 'order_book_id' has 1 code(s) that are not stock codes at 600000.XS",
        "bars: 2 rows share a key ['order_book_id', 'date'] at 600000.XSHG 2021-03-08 in",
    ]
    for text in expected:
        assert any(text in line for line in lines), (text, result.output)
